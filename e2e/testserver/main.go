package main

import (
	"context"
	"crypto/rand"
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

	"github.com/golang-jwt/jwt/v5"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	key := flag.String("jwt-key", "e2e-test-key-not-secret-32-bytes!", "HS256 key for /ws/auth and /token (32 bytes or more)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := run(*addr, []byte(*key), logger); err != nil {
		logger.Error("testserver stopped", "err", err)
		os.Exit(1)
	}
}

func run(addr string, key []byte, logger *slog.Logger) error {
	handler, hub, err := newServer(key, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(ctx)
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// hubs are the test server's two hubs: the main one, and one with
// connection state recovery on (in memory) for /ws/recovery.
type hubs struct{ main, rec *core.Hub }

// Shutdown shuts both hubs down within ctx.
func (h *hubs) Shutdown(ctx context.Context) error {
	return errors.Join(h.main.Shutdown(ctx), h.rec.Shutdown(ctx))
}

// Close closes both hubs now.
func (h *hubs) Close() error { return errors.Join(h.main.Close(), h.rec.Close()) }

// newServer builds the routes without listening, so a Go test can serve
// them on httptest.
func newServer(key []byte, logger *slog.Logger) (http.Handler, *hubs, error) {
	hub, err := core.NewHub(core.Config{Logger: logger, Subprotocols: []string{"e2e.v1"}})
	if err != nil {
		return nil, nil, err
	}
	rec, err := core.NewHub(core.Config{Logger: logger, Recovery: core.RecoveryConfig{Enabled: true}})
	if err != nil {
		_ = hub.Close()
		return nil, nil, err
	}
	auth, err := middleware.JWT(middleware.JWTConfig{SigningKey: key, CloseOnFailure: true})
	if err != nil {
		_ = hub.Close()
		_ = rec.Close()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/recovery", rec.Handler(recoverable))
	// The same behind a JWT read from the query, closing with 4401: a
	// client that reconnects with a fresh token recovers its session.
	queryAuth, err := middleware.JWT(middleware.JWTConfig{SigningKey: key, CloseOnFailure: true, TokenLookup: "query:token"})
	if err != nil {
		_ = hub.Close()
		_ = rec.Close()
		return nil, nil, err
	}
	mux.Handle("GET /ws/recovery/auth", rec.Handler(recoverable, queryAuth))
	mux.Handle("GET /api/ws/recovery/stats", core.StatsHandler(rec))
	mux.Handle("GET /ws", hub.Handler(full))
	mux.Handle("GET /ws/strict", hub.Handler(strict))
	mux.Handle("GET /ws/auth", hub.Handler(full, auth))
	mux.Handle("GET /api/ws/stats", core.StatsHandler(hub))
	// The JS client's token refresh and give-up tests: removable users,
	// handshake attempts counted per ?client=, and a route that refuses
	// with 401 before the upgrade (a browser sees only 1006).
	strictAuth, err := middleware.JWT(middleware.JWTConfig{SigningKey: key})
	if err != nil {
		_ = hub.Close()
		_ = rec.Close()
		return nil, nil, err
	}
	u := newUsers(hub)
	mux.Handle("GET /ws/auth/users", hub.Handler(full, u.count, auth, u.known))
	mux.Handle("GET /ws/auth/strict", hub.Handler(full, u.count, strictAuth))
	mux.HandleFunc("POST /users/remove", u.remove)
	mux.HandleFunc("GET /api/attempts", u.attemptsOf)
	mux.HandleFunc("GET /auth.html", servePage)
	mux.Handle("GET /rushws.js", client.Handler())
	mountApp(mux, *appDir)
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		ttl, err := time.ParseDuration(r.URL.Query().Get("ttl"))
		if err != nil {
			ttl = time.Minute
		}
		// A jti of its own: two tokens issued in the same second differ.
		claims := jwt.MapClaims{"sub": r.URL.Query().Get("sub"), "exp": time.Now().Add(ttl).Unix(), "jti": rand.Text()}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(tok))
	})
	return mux, &hubs{main: hub, rec: rec}, nil
}

// recoverable is the route handler of /ws/recovery, on the hub with
// recovery on: it joins the room named by the query parameter "room"
// (default "r") unless the connection recovered its session, and relays
// "say" to the room as "said" (the ack reply is true).
func recoverable(c *core.Conn) error {
	if !c.Recovered() {
		room := c.Request().URL.Query().Get("room")
		if room == "" {
			room = "r"
		}
		if err := c.Join(room); err != nil {
			return err
		}
	}
	if err := c.On("echo", func(_ *core.Conn, data json.RawMessage) (any, error) { return data, nil }); err != nil {
		return err
	}
	return c.On("say", func(c *core.Conn, data json.RawMessage) (any, error) {
		_, err := c.Hub().To(c.Rooms()...).Emit("said", data)
		return err == nil, err
	})
}

// strict answers "echo" and nothing else; it has no raw handler.
func strict(c *core.Conn) error {
	if err := c.On("echo", func(_ *core.Conn, data json.RawMessage) (any, error) { return data, nil }); err != nil {
		return err
	}
	return c.Emit("welcome", map[string]string{"id": c.ID()})
}

type closeRequest struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

type failRequest struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type answer struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// full is the route handler of /ws and /ws/auth.
func full(c *core.Conn) error {
	handlers := map[string]core.EventFunc{
		"echo": func(_ *core.Conn, data json.RawMessage) (any, error) { return data, nil },
		"ask": func(c *core.Conn, data json.RawMessage) (any, error) {
			err := c.EmitWithAckFunc("question", data, 5*time.Second, func(reply json.RawMessage, err error) {
				a := answer{Data: reply}
				if err != nil {
					a = answer{Error: err.Error()}
				}
				_ = c.Emit("answer", a)
			})
			return nil, err
		},
		"fail": func(_ *core.Conn, data json.RawMessage) (any, error) {
			var f failRequest
			if err := json.Unmarshal(data, &f); err != nil {
				return nil, core.NewEventError(core.CodeBadRequest, "want {code, message}")
			}
			return nil, core.NewEventError(f.Code, f.Message)
		},
		"bye": func(c *core.Conn, data json.RawMessage) (any, error) {
			var r closeRequest
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, core.NewEventError(core.CodeBadRequest, "want {code, reason}")
			}
			if err := c.Close(r.Code, r.Reason); err != nil {
				return nil, core.NewEventError(core.CodeBadRequest, err.Error())
			}
			return nil, nil
		},
		"boom": func(*core.Conn, json.RawMessage) (any, error) { panic("boom, as asked") },
		"sleep": func(_ *core.Conn, data json.RawMessage) (any, error) {
			var ms int
			if err := json.Unmarshal(data, &ms); err != nil || ms < 0 || ms > 5000 {
				return nil, core.NewEventError(core.CodeBadRequest, "want milliseconds, 0 to 5000")
			}
			time.Sleep(time.Duration(ms) * time.Millisecond)
			return ms, nil
		},
		"join": func(c *core.Conn, data json.RawMessage) (any, error) {
			var room string
			if err := json.Unmarshal(data, &room); err != nil {
				return nil, core.NewEventError(core.CodeBadRequest, "want a room name")
			}
			return room, c.Join(room)
		},
		"shout": func(c *core.Conn, data json.RawMessage) (any, error) {
			_, err := c.Hub().To(c.Rooms()...).Emit("shout", data)
			return nil, err
		},
	}
	for name, fn := range handlers {
		if err := c.On(name, fn); err != nil {
			return err
		}
	}
	c.OnMessage(func(c *core.Conn, mt int, data []byte) error {
		if mt == core.BinaryMessage {
			return c.SendBinary(append([]byte(nil), data...))
		}
		return c.Send(string(data))
	})
	welcome := map[string]string{"id": c.ID()}
	if tok, ok := c.Get("user").(*jwt.Token); ok {
		welcome["sub"], _ = tok.Claims.GetSubject()
	}
	return c.Emit("welcome", welcome)
}

// appDir names a built frontend (e2e/package.sh builds e2e/vite, which
// bundles the packed @rushws/client, into one) that the server serves
// under /app/, so the page and the hub share an origin and the hub's
// same-origin check lets the page connect.
var appDir = flag.String("app-dir", "", "serve the files of this directory under /app/ (a built frontend); none if empty")

// mountApp serves dir under /app/ when dir is not empty.
func mountApp(mux *http.ServeMux, dir string) {
	if dir == "" {
		return
	}
	mux.Handle("GET /app/", http.StripPrefix("/app/", http.FileServerFS(os.DirFS(dir))))
}
