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

	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/examples/internal/chat"
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
		logger.Error("echo-chat stopped", "err", err)
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

// newApp builds the Echo app and its hub without listening, so tests can
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
	// HTTP request metrics, skipping WebSocket handshakes (a hijacked
	// request has no meaningful duration), with labels no client can
	// multiply: the route, never the raw path of an unmatched request; no
	// Host header; known methods only.
	requestMetrics, err := echoprometheus.MiddlewareConfig{
		Registerer:                reg,
		Skipper:                   func(c echo.Context) bool { return metrics.IsWebSocket(c.Request()) },
		DoNotUseRequestPathFor404: true,
		LabelFuncs: map[string]echoprometheus.LabelValueFunc{
			"host":   func(echo.Context, error) string { return "" },
			"method": func(c echo.Context, _ error) string { return metrics.MethodLabel(c.Request().Method) },
		},
	}.ToMiddleware()
	if err != nil {
		_ = hub.Close()
		return nil, nil, err
	}
	page := chat.Page("Echo")
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	// Clients connect directly: c.RealIP() (logged below, and what rate
	// limits key on) is the peer address, whatever X-Forwarded-For says.
	// Behind a reverse proxy, trust its range instead, e.g.
	// echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet)).
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true, // the path only: query strings may carry credentials
		LogRemoteIP: true,
		LogStatus:   true,
		LogLatency:  true,
		LogError:    true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "ip", v.RemoteIP, "status", v.Status, "latency", v.Latency}
			if v.Error != nil {
				attrs = append(attrs, "err", v.Error)
			}
			logger.Info("request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.Recover())
	e.Use(requestMetrics)

	e.GET("/", func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return c.HTMLBlob(http.StatusOK, page)
	})
	echows.WS(e, "/ws/:room", hub, chat.Handle, chat.ValidRoom)
	e.GET("/api/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
	e.GET("/api/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub)))
	// Admin routes: in production, serve them behind auth or on an internal
	// listener (the probes say nothing sensitive; metrics and stats do).
	// livez and readyz are for Kubernetes probes; readyz says 503 as soon
	// as Shutdown begins.
	e.GET("/admin/metrics", echoprometheus.NewHandlerWithConfig(echoprometheus.HandlerConfig{Gatherer: reg}))
	e.GET("/admin/livez", echo.WrapHandler(core.LiveHandler(hub)))
	e.GET("/admin/readyz", echo.WrapHandler(core.ReadyHandler(hub)))
	e.GET(chat.ClientPath, echo.WrapHandler(client.Handler())) // the JS client the page imports
	return e, hub, nil
}
