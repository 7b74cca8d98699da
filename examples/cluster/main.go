package main

import (
	"context"
	"encoding/json"
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

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/redisbroker"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "address of the Redis shared by every instance")
	prefix := flag.String("prefix", redisbroker.DefaultPrefix, "prefix of the Redis channels, the same for every instance of one app")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		fmt.Printf("listening on http://%s\n", ln.Addr())
		err = run(ctx, ln, rdb, *prefix, logger)
	}
	if err != nil {
		logger.Error("cluster example stopped", "err", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the graceful shutdown: WebSockets, then HTTP.
const shutdownTimeout = 10 * time.Second

// run serves the app on ln until ctx ends (SIGINT or SIGTERM), then shuts
// the hub down (which closes its broker) before the HTTP server.
func run(ctx context.Context, ln net.Listener, rdb redis.UniversalClient, prefix string, logger *slog.Logger) error {
	handler, hub, err := newApp(rdb, prefix, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
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
	if err := hub.Shutdown(shutdown); err != nil { // WebSockets (and the broker) first
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

// newApp builds the chat on a hub linked to the other instances through
// Redis. The caller owns the hub and shuts it down; the Redis client stays
// the caller's.
func newApp(rdb redis.UniversalClient, prefix string, logger *slog.Logger) (http.Handler, *core.Hub, error) {
	broker, err := redisbroker.New(rdb, redisbroker.Config{Prefix: prefix, Logger: logger})
	if err != nil {
		return nil, nil, err // Redis did not answer: say so at start
	}
	hub, err := core.NewHub(core.Config{
		Broker: broker,
		// Sessions and histories live in Redis (the broker is the store):
		// a client dropped by one instance recovers on the other.
		Recovery: core.RecoveryConfig{Enabled: true},
		Logger:   logger,
	})
	if err != nil {
		_ = broker.Close()
		return nil, nil, err
	}
	if err := broker.TrackPresence(hub); err != nil { // room sizes across instances
		_ = hub.Close()
		return nil, nil, err
	}
	page := chat.Page("net/http, two instances through Redis")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(page)
	})
	mux.Handle("GET /ws/{room}", hub.Handler(chat.Handle, chat.ValidRoom))
	mux.Handle("GET "+chat.ClientPath, client.Handler())
	mux.Handle("GET /api/ws/stats", core.StatsHandler(hub)) // "broker": published, publishErrors, drops, resubscribes...
	mux.Handle("GET /api/ws/rooms", core.RoomsHandler(hub))
	mux.Handle("GET /readyz", core.ReadyHandler(hub))
	// /api/ws/presence?room=lobby counts the room's members on every
	// instance; /api/ws/rooms counts this instance's only.
	mux.HandleFunc("GET /api/ws/presence", func(w http.ResponseWriter, r *http.Request) {
		room := r.URL.Query().Get("room")
		n, err := broker.Presence(r.Context(), room)
		switch {
		case errors.Is(err, redisbroker.ErrInvalidTarget):
			http.Error(w, "invalid room name", http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, "presence unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"room": room, "members": n})
	})
	// /api/ws/broker answers 200 while Redis answers and the subscriber is
	// connected, 503 otherwise: a probe for alerting. Readiness stays on
	// /readyz: an instance without Redis still serves its own clients.
	mux.HandleFunc("GET /api/ws/broker", func(w http.ResponseWriter, r *http.Request) {
		if err := broker.Healthy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux, hub, nil
}
