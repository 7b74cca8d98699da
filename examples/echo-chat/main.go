package main

import (
	"context"
	_ "embed"
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
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
)

//go:embed index.html
var indexHTML []byte

// Limits on what clients send.
const (
	maxNameRunes = 32
	maxTextRunes = 1000
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, logger); err != nil {
		logger.Error("echo-chat stopped", "err", err)
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

// newApp builds the Echo app and its hub without listening, so tests can
// serve it on httptest. The caller owns the hub and shuts it down.
func newApp(logger *slog.Logger) (http.Handler, *core.Hub, error) {
	hub, err := core.NewHub(core.Config{Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURIPath:  true, // the path only: query strings may carry credentials
		LogStatus:   true,
		LogLatency:  true,
		LogError:    true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			attrs := []any{"method", v.Method, "path", v.URIPath, "status", v.Status, "latency", v.Latency}
			if v.Error != nil {
				attrs = append(attrs, "err", v.Error)
			}
			logger.Info("request", attrs...)
			return nil
		},
	}))
	e.Use(middleware.Recover())

	e.GET("/", func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return c.HTMLBlob(http.StatusOK, indexHTML)
	})
	e.GET("/ws/:room", echows.Handler(hub, chat, validRoom))
	e.GET("/api/ws/stats", echows.StatsHandler(hub))
	e.GET("/api/ws/rooms", echows.RoomsHandler(hub))
	return e, hub, nil
}

// validRoom refuses the handshake with 400 when the room in the URL is not a
// valid room name, before any upgrade happens.
func validRoom(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if !core.ValidRoomName(c.Param("room")) {
			return core.NewHTTPError(http.StatusBadRequest, "invalid room name")
		}
		return next(c)
	}
}

// presence is the data of the "joined" and "left" events.
type presence struct {
	Name    string `json:"name"`
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// chatIn is the data of a "chat" event from a client.
type chatIn struct {
	Text string `json:"text"`
}

// chatOut is the data of a "chat" event relayed to the room.
type chatOut struct {
	Name string    `json:"name"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// chat is the route handler: it runs once per connection, right after the
// upgrade.
func chat(c *core.Conn) error {
	room := c.Param("room")
	name := displayName(c.Request().URL.Query().Get("name"), c.ID())
	c.Set("name", name)
	if err := c.Join(room); err != nil {
		return &core.CloseError{Code: core.ClosePolicyViolation, Reason: "cannot join room", Err: err}
	}
	hub := c.Hub()
	_, _ = hub.To(room).Emit("joined", presence{Name: name, Room: room, Members: members(hub, room)})

	if err := core.Handle(c, "chat", func(c *core.Conn, msg chatIn) (any, error) {
		text := strings.TrimSpace(msg.Text)
		if n := utf8.RuneCountInString(text); n == 0 || n > maxTextRunes {
			return nil, core.NewEventError(core.CodeBadRequest, fmt.Sprintf("text must be 1 to %d characters", maxTextRunes))
		}
		if _, err := c.Hub().To(room).Emit("chat", chatOut{Name: name, Text: text, At: time.Now().UTC()}); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	}); err != nil {
		return err
	}

	c.OnClose(func(c *core.Conn, _ int, _ string) {
		// Fails harmlessly with ErrHubClosed during shutdown.
		_, _ = c.Hub().To(room).Emit("left", presence{Name: name, Room: room, Members: members(c.Hub(), room)})
	})
	return nil
}

// members counts the room's members. In an OnClose handler the closing
// connection has already left, so it is not counted.
func members(hub *core.Hub, room string) int {
	info, _ := hub.Room(room)
	return info.Members
}

// displayName returns the trimmed name the client asked for when it is 1 to
// 32 printable runes, and otherwise "guest-" and the start of the connection
// ID. The name is shown to other users as text, never as HTML.
func displayName(requested, connID string) string {
	name := strings.TrimSpace(requested)
	n := utf8.RuneCountInString(name)
	ok := utf8.ValidString(name) && n >= 1 && n <= maxNameRunes
	for _, r := range name {
		if !unicode.IsPrint(r) {
			ok = false
		}
	}
	if ok {
		return name
	}
	return "guest-" + connID[:min(4, len(connID))]
}
