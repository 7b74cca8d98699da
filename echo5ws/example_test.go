package echo5ws_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echo5ws"
	"github.com/rushws/rushws/wstest"
)

// An Echo v5 app adds a WebSocket route in one line inside its API group.
// What the group's middleware stored under "user" (echo-jwt's token, here
// a plain name) is readable with c.Get; other keys are copied when
// Config.ContextKeys names them.
func ExampleWS() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect() // behind a proxy: echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet))
	api := e.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.Set("user", "alice") // as echojwt.WithConfig would, with the parsed token
			c.Set("plan", "pro")
			return next(c)
		}
	})
	echo5ws.WSWithConfig(api, "/chat/:room", hub, func(c *core.Conn) error {
		return c.Emit("welcome", fmt.Sprint(c.Get("user"), " (", c.Get("plan"), ") in ", c.Param("room")))
	}, echo5ws.Config{ContextKeys: []string{"user", "plan"}})

	srv := httptest.NewServer(e)
	defer srv.Close()
	defer func() { _ = hub.Shutdown(context.Background()) }() // runs before srv.Close

	cl, _, err := wstest.TryDial(context.Background(), srv.URL+"/api/chat/lobby")
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	fmt.Println(string(cl.Expect("welcome")))
	// Output: "alice (pro) in lobby"
}

// Handler mounts the route by hand; core.StatsHandler, wrapped, serves the
// hub's counters.
func ExampleHandler() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer func() { _ = hub.Shutdown(context.Background()) }()
	e := echo.New()
	e.GET("/ws/:room", echo5ws.Handler(hub, func(c *core.Conn) error {
		return c.Join(c.Param("room"))
	}))
	e.GET("/admin/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ws/lobby", nil)) // not a handshake
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output: 400 {"message":"not a websocket handshake","status":400}
}
