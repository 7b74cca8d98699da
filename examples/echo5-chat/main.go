package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echo5ws"
	"github.com/rushws/rushws/examples/internal/chat"
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
		logger.Error("echo5-chat stopped", "err", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds each step of the graceful shutdown: WebSockets,
// then HTTP (StartConfig's GracefulTimeout).
const shutdownTimeout = 10 * time.Second

// run serves the app on ln with echo.StartConfig until ctx ends (SIGINT or
// SIGTERM). StartConfig's graceful shutdown is http.Server.Shutdown, which
// does not wait for hijacked (WebSocket) connections, so the hub goes
// first: it closes each WebSocket with 1001 "server shutting down", and
// only then is StartConfig's context cancelled to stop HTTP.
func run(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	e, hub, err := newEcho(logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	httpCtx, stopHTTP := context.WithCancel(context.Background())
	defer stopHTTP()
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		select {
		case <-ctx.Done():
		case <-httpCtx.Done(): // Start returned on its own: the listener failed
			_ = hub.Close()
			return
		}
		logger.Info("shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := hub.Shutdown(shutdown); err != nil { // WebSockets first
			logger.Warn("websocket connections did not close in time", "err", err)
		}
		stopHTTP() // then HTTP, within GracefulTimeout
	}()
	err = echo.StartConfig{
		Listener:        ln,
		HideBanner:      true,
		HidePort:        true,
		GracefulTimeout: shutdownTimeout,
		BeforeServeFunc: func(s *http.Server) error {
			limitServer(s)
			return nil
		},
	}.Start(httpCtx, e)
	stopHTTP()
	<-hubDone
	return err
}

// limitServer sets the limits a server facing the internet needs on the
// server StartConfig made. The timeouts cover HTTP requests only: a
// WebSocket connection is hijacked from the server after its handshake and
// lives by the hub's own deadlines (heartbeats, write timeout), so a long
// chat outlives ReadTimeout.
func limitServer(s *http.Server) {
	s.ReadHeaderTimeout = 5 * time.Second // slow headers (slowloris)
	s.ReadTimeout = 30 * time.Second      // slow bodies on other routes
	s.WriteTimeout = 30 * time.Second     // slow readers of other routes
	s.IdleTimeout = 60 * time.Second      // idle keep-alive connections
	s.MaxHeaderBytes = 16 << 10           // 431 for more header bytes
}

// newApp builds the app and its hub without listening, so tests can serve
// it on httptest. The caller owns the hub and shuts it down.
func newApp(logger *slog.Logger) (http.Handler, *core.Hub, error) {
	e, hub, err := newEcho(logger)
	return e, hub, err
}

// newEcho builds the Echo v5 app and its hub.
func newEcho(logger *slog.Logger) (*echo.Echo, *core.Hub, error) {
	hub, err := core.NewHub(core.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	page := chat.Page("Echo v5")
	e := echo.New()
	e.Logger = logger
	// Clients connect directly: c.RealIP() (logged below, and what rate
	// limits key on) is the peer address, whatever X-Forwarded-For says.
	// This is Echo v5's default; it is set here to be seen. Behind a
	// reverse proxy, trust its range instead, e.g.
	// echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet)).
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true, // the path only: query strings may carry credentials
		LogRemoteIP: true,
		LogStatus:   true,
		LogLatency:  true,
		HandleError: true,
		LogValuesFunc: func(c *echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "ip", v.RemoteIP, "status", v.Status, "latency", v.Latency}
			if v.Error != nil {
				attrs = append(attrs, "err", v.Error)
			}
			logger.Info("request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.Recover())

	e.GET("/", func(c *echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return c.HTMLBlob(http.StatusOK, page)
	})
	echo5ws.WS(e, "/ws/:room", hub, chat.Handle, chat.ValidRoom)
	e.GET("/api/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
	e.GET("/api/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub)))
	e.GET(chat.ClientPath, echo.WrapHandler(client.Handler())) // the JS client the page imports
	return e, hub, nil
}
