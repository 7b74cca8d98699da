package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/metrics"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		fmt.Printf("listening on http://%s\n", ln.Addr())
		err = run(ctx, ln, logger)
	}
	if err != nil {
		logger.Error("gin-chat stopped", "err", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful shutdown: WebSockets, then HTTP.
const shutdownTimeout = 10 * time.Second

// run serves the app on ln until ctx ends (SIGINT or SIGTERM), then shuts
// the hub down before the HTTP server: http.Server.Shutdown does not wait
// for hijacked (WebSocket) connections, and the hub's shutdown closes each
// with 1001 "server shutting down".
func run(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	handler, hub, err := newApp(logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := newServer(handler, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served: // the listener failed
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hub.Shutdown(shutdown); err != nil { // WebSockets first
		logger.Warn("websocket connections did not close in time", "err", err)
	}
	if err := srv.Shutdown(shutdown); err != nil { // then HTTP
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer returns the HTTP server for handler, with the limits a server
// facing the internet needs. The timeouts cover HTTP requests only: a
// WebSocket connection is hijacked from the server after its handshake and
// lives by the hub's own deadlines (heartbeats, write timeout), so a long
// chat outlives ReadTimeout.
func newServer(handler http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,  // slow headers (slowloris)
		ReadTimeout:       30 * time.Second, // slow bodies on other routes
		WriteTimeout:      30 * time.Second, // slow readers of other routes
		IdleTimeout:       60 * time.Second, // idle keep-alive connections
		MaxHeaderBytes:    16 << 10,         // 431 for more header bytes
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// newApp builds the Gin app and its hub without listening, so tests can
// serve it on httptest. The caller owns the hub and shuts it down.
func newApp(logger *slog.Logger) (http.Handler, *core.Hub, error) {
	hub, err := core.NewHub(core.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	// Prometheus on the app's own registry: the hub's rushws_* metrics,
	// the Go runtime and the process.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := metrics.Register(reg, hub); err != nil {
		_ = hub.Close()
		return nil, nil, err
	}
	page := chat.Page("Gin")
	r := gin.New()
	// Clients connect directly: c.ClientIP() (in Gin's log, and what rate
	// limits key on) is the peer address, whatever X-Forwarded-For says.
	// Behind a reverse proxy, list its addresses instead, e.g.
	// r.SetTrustedProxies([]string{"10.0.0.0/8"}).
	if err := r.SetTrustedProxies(nil); err != nil {
		_ = hub.Close()
		return nil, nil, err
	}
	r.Use(gin.Logger(), gin.Recovery())

	r.GET("/", func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
	ginws.WS(r, "/ws/:room", hub, chat.Handle, chat.ValidRoom)
	r.GET("/api/ws/stats", gin.WrapH(core.StatsHandler(hub)))
	r.GET("/api/ws/rooms", gin.WrapH(core.RoomsHandler(hub)))
	// Admin routes: in production, serve them behind auth or on an internal
	// listener (the probes say nothing sensitive; metrics and stats do).
	// livez and readyz are for Kubernetes probes; readyz says 503 as soon
	// as Shutdown begins.
	r.GET("/admin/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	r.GET("/admin/livez", gin.WrapH(core.LiveHandler(hub)))
	r.GET("/admin/readyz", gin.WrapH(core.ReadyHandler(hub)))
	r.GET(chat.ClientPath, gin.WrapH(client.Handler())) // the JS client the page imports
	return r, hub, nil
}
