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

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/ginws"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, logger); err != nil {
		logger.Error("gin-chat stopped", "err", err)
		os.Exit(1)
	}
}

// run serves the app on addr until SIGINT or SIGTERM, then shuts the hub
// down before the HTTP server: http.Server.Shutdown does not wait for
// hijacked (WebSocket) connections.
func run(addr string, logger *slog.Logger) error {
	handler, hub, err := newApp(logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served: // the listener failed
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process
	logger.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		logger.Warn("websocket connections did not close in time", "err", err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newApp builds the Gin app and its hub without listening, so tests can
// serve it on httptest. The caller owns the hub and shuts it down.
func newApp(logger *slog.Logger) (http.Handler, *core.Hub, error) {
	hub, err := core.NewHub(core.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	page := chat.Page("Gin")
	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())

	r.GET("/", func(c *gin.Context) {
		c.Header("X-Content-Type-Options", "nosniff")
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	})
	r.GET("/ws/:room", ginws.Handler(hub, chat.Handle, chat.ValidRoom))
	r.GET("/api/ws/stats", ginws.StatsHandler(hub))
	r.GET("/api/ws/rooms", ginws.RoomsHandler(hub))
	r.GET(chat.ClientPath, gin.WrapH(client.Handler())) // the JS client the page imports
	return r, hub, nil
}
