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
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	wsmw "github.com/rushws/rushws/middleware"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	key, err := signingKey(os.Getenv("JWT_SECRET"))
	if err != nil {
		logger.Error("admin", "err", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		fmt.Printf("listening on http://%s\n", ln.Addr())
		err = run(ctx, ln, key, logger)
	}
	if err != nil {
		logger.Error("admin stopped", "err", err)
		os.Exit(1)
	}
}

// signingKey returns the key from the environment, refusing a short one,
// or a random key when the variable is unset.
func signingKey(env string) ([]byte, error) {
	if env != "" {
		if len(env) < 32 {
			return nil, fmt.Errorf("JWT_SECRET holds %d bytes; an HS256 key needs at least 32", len(env))
		}
		return []byte(env), nil
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k, nil
}

// run serves the app on ln until ctx ends, then closes every WebSocket
// with 1001 before stopping HTTP.
func run(ctx context.Context, ln net.Listener, key []byte, logger *slog.Logger) error {
	handler, hub, err := newApp(key, logger)
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
	case err := <-served:
		_ = hub.Close()
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hub.Shutdown(shutdown); err != nil {
		logger.Warn("websocket connections did not close in time", "err", err)
	}
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// user is a demo account: what its token says.
type user struct {
	Roles       []string
	Permissions []string
}

// users are the demo's accounts.
var users = map[string]user{
	"alice": {Roles: []string{"admin"}, Permissions: []string{"broadcast", "moderate"}},
	"mia":   {Roles: []string{"moderator"}, Permissions: []string{"moderate"}},
	"bob":   {Roles: []string{"user"}},
}

// tokenTTL is how long a demo token lives; the connection is closed with
// 4401 when it expires.
const tokenTTL = 15 * time.Minute

// newApp builds the Echo app and its hub; the caller shuts the hub down.
func newApp(key []byte, logger *slog.Logger) (http.Handler, *core.Hub, error) {
	hub, err := core.NewHub(core.Config{Logger: logger, Subprotocols: []string{"chat.v1"}})
	if err != nil {
		return nil, nil, err
	}
	// Browser routes: a refused token or role closes the connection after
	// the upgrade (4401, 4403), which a page can read; a refused handshake
	// would only show as 1006.
	auth, err := wsmw.JWT(wsmw.JWTConfig{SigningKey: key, CloseOnFailure: true})
	if err != nil {
		_ = hub.Close()
		return nil, nil, err
	}
	authz, err := wsmw.NewAuthorizer(wsmw.AuthzConfig{CloseOnFailure: true})
	if err != nil {
		_ = hub.Close()
		return nil, nil, err
	}

	// Hub-wide: every event is logged with its name and user, never its
	// data.
	hub.UseEvent(audit(logger))

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	e.GET("/api/token", tokenHandler(key))
	// The counters are for operators: only this machine may read them.
	e.GET("/api/ws/stats", echo.WrapHandler(core.StatsHandler(hub)), loopbackOnly)

	var nextID atomic.Uint64
	echows.WS(e, "/ws/chat", hub, chatHandler(&nextID, authz), auth)
	admin := e.Group("/admin")
	echows.WS(admin, "/ws/monitor", hub, monitorHandler, auth, authz.RequireAnyRole("admin", "moderator").Handshake)
	return e, hub, nil
}

// audit is event middleware that logs who sent which event.
func audit(logger *slog.Logger) core.EventMiddlewareFunc {
	return func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			res, err := next(c, data)
			logger.Debug("event", "event", c.Event(), "user", subject(c), "conn", c.ID(), "err", err)
			return res, err
		}
	}
}

// subject returns the "sub" of the connection's token.
func subject(c *core.Conn) string {
	if t, ok := c.Get("user").(*jwt.Token); ok {
		s, _ := t.Claims.GetSubject()
		return s
	}
	return ""
}

type chatMsg struct {
	Text string `json:"text"`
}

type moderateMsg struct {
	ID     string `json:"id"`
	Action string `json:"action"`
}

// chatHandler registers the chat's events; each guarded event declares
// its rule beside its handler.
func chatHandler(nextID *atomic.Uint64, authz *wsmw.Authorizer) core.HandlerFunc {
	canModerate := authz.RequirePermission("moderate")
	canBroadcast := authz.RequirePermission("broadcast")
	return func(c *core.Conn) error {
		err := errors.Join(
			core.Handle(c, "chat", func(c *core.Conn, m chatMsg) (any, error) {
				if m.Text == "" || len(m.Text) > 2000 {
					return nil, core.NewEventError(core.CodeBadRequest, "text must be 1 to 2000 bytes")
				}
				id := strconv.FormatUint(nextID.Add(1), 10)
				_, err := c.Hub().Broadcast().Emit("chat", map[string]string{"id": id, "from": subject(c), "text": m.Text})
				return map[string]string{"id": id}, err
			}),
			core.Handle(c, "moderate", func(c *core.Conn, m moderateMsg) (any, error) {
				if m.Action != "delete" || m.ID == "" {
					return nil, core.NewEventError(core.CodeBadRequest, `want {"id":"...","action":"delete"}`)
				}
				_, err := c.Hub().Broadcast().Emit("message-deleted", map[string]string{"id": m.ID, "by": subject(c)})
				return "deleted", err
			}, canModerate.Event),
			core.Handle(c, "admin-broadcast", func(c *core.Conn, m chatMsg) (any, error) {
				_, err := c.Hub().Broadcast().Emit("admin-announcement", map[string]any{
					"text": m.Text, "from": subject(c), "at": time.Now().UTC().Truncate(time.Second),
				})
				return "sent", err
			}, canBroadcast.Event),
		)
		if err != nil {
			return err
		}
		return c.Emit("welcome", map[string]string{"user": subject(c)})
	}
}

// monitorHandler greets an admin or moderator with their permissions and
// the hub's counters.
func monitorHandler(c *core.Conn) error {
	var perms []string
	if t, ok := c.Get("user").(*jwt.Token); ok {
		perms, _ = wsmw.Claims(t.Claims.(jwt.MapClaims)).Strings("permissions")
	}
	if err := c.Emit("admin-welcome", map[string]any{"user": subject(c), "permissions": perms}); err != nil {
		return err
	}
	return c.Emit("admin-stats", c.Hub().Stats())
}

// tokenHandler issues a demo token for a known user. A real app checks
// credentials here.
func tokenHandler(key []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		name := c.QueryParam("user")
		u, ok := users[name]
		if !ok {
			return echo.NewHTTPError(http.StatusNotFound, "unknown user: try alice, mia or bob")
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": name, "roles": u.Roles, "permissions": u.Permissions,
			"exp": time.Now().Add(tokenTTL).Unix(),
		}).SignedString(key)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, map[string]string{"token": tok})
	}
}

// loopbackOnly refuses requests that do not come from this machine (the
// client IP as e.IPExtractor takes it: the peer address here).
func loopbackOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ip := net.ParseIP(c.RealIP()); ip == nil || !ip.IsLoopback() {
			return echo.NewHTTPError(http.StatusForbidden, "the stats are served to this machine only")
		}
		return next(c)
	}
}
