package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	origins := flag.String("origin", "", "extra allowed origins, comma-separated (e.g. https://demo.example.com)")
	ttl := flag.Duration("token-ttl", 15*time.Minute, "lifetime of the tokens the page gets")
	keyEnv := flag.String("key-env", "RUSHWS_DEMO_KEY", "environment variable holding the token signing key (32+ bytes); empty or unset: a random key per process")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := start(*addr, *keyEnv, options{Origins: *origins, TokenTTL: *ttl}, logger); err != nil {
		logger.Error("demo stopped", "err", err)
		os.Exit(1)
	}
}

// options are the command line's settings.
type options struct {
	Origins  string        // extra allowed origins, comma-separated
	TokenTTL time.Duration // lifetime of issued tokens
	Key      []byte        // the signing key; nil for a random one
}

// start reads the signing key from the environment variable keyEnv,
// listens on addr, prints the URL and serves until SIGINT or SIGTERM.
func start(addr, keyEnv string, opts options, logger *slog.Logger) error {
	key, err := signingKey(keyEnv)
	if err != nil {
		return err
	}
	opts.Key = key
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s\n", printableURL(ln.Addr()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, ln, opts, logger)
}

// signingKey returns the key in the environment variable env, or a random
// one when it is unset, so that a demo started without configuration never
// shares a key with anything.
func signingKey(env string) ([]byte, error) {
	if env != "" {
		if k := os.Getenv(env); k != "" {
			if len(k) < 32 {
				return nil, fmt.Errorf("demo: %s holds %d bytes; a signing key needs at least 32", env, len(k))
			}
			return []byte(k), nil
		}
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// allowedOrigins returns the page's own origin for the listening address
// (with its localhost or 127.0.0.1 twin) and the extra ones.
func allowedOrigins(ln net.Addr, extra string) []string {
	host, port, _ := net.SplitHostPort(ln.String())
	var out []string
	switch ip := net.ParseIP(host); {
	case ip != nil && ip.IsUnspecified():
		out = append(out, "http://localhost:"+port, "http://127.0.0.1:"+port)
	case host == "127.0.0.1" || host == "::1" || host == "localhost":
		out = append(out, "http://"+net.JoinHostPort(host, port), "http://localhost:"+port)
	default:
		out = append(out, "http://"+net.JoinHostPort(host, port))
	}
	for _, o := range strings.Split(extra, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// printableURL is the address to open in a browser.
func printableURL(ln net.Addr) string {
	host, port, _ := net.SplitHostPort(ln.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// run serves the demo on ln until ctx ends (the signal), then shuts the
// hub down before the HTTP server: http.Server.Shutdown does not wait for
// hijacked (WebSocket) connections.
func run(ctx context.Context, ln net.Listener, opts options, logger *slog.Logger) error {
	key := opts.Key
	if key == nil {
		var err error
		if key, err = signingKey(""); err != nil {
			ln.Close()
			return err
		}
	}
	e, hub, err := newApp(Config{
		Origins:  allowedOrigins(ln.Addr(), opts.Origins),
		Key:      key,
		TokenTTL: opts.TokenTTL,
		Logger:   logger,
	})
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second, // slow-header clients
		ReadTimeout:       30 * time.Second, // bodies (the token request); upgraded WebSockets clear it
		IdleTimeout:       2 * time.Minute,  // idle keep-alive connections
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	e.Server = srv

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // the listener failed
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		logger.Warn("websocket connections did not close in time", "err", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
