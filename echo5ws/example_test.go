package echo5ws_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v5"
	"github.com/labstack/echo/v5"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echo5ws"
	"github.com/rushws/rushws/wstest"
)

// An Echo v5 app adds a WebSocket route in one line inside its API group,
// which echo-jwt protects; the route handler reads the token echo-jwt set.
func ExampleWS() {
	key := []byte("example-secret")
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect() // behind a proxy: echo.ExtractIPFromXFFHeader(echo.TrustIPRange(proxyNet))

	api := e.Group("/api", echojwt.WithConfig(echojwt.Config{SigningKey: key}))
	echo5ws.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
		sub, err := c.Get("user").(*jwt.Token).Claims.GetSubject()
		if err != nil {
			return err
		}
		return c.Emit("welcome", sub+" in "+c.Param("room"))
	})

	srv := httptest.NewServer(e)
	defer srv.Close()
	defer func() { _ = hub.Shutdown(context.Background()) }() // runs before srv.Close

	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	cl, _, err := wstest.TryDial(context.Background(), srv.URL+"/api/chat/lobby", wstest.WithHeader(http.Header{"Authorization": {"Bearer " + token}}))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	fmt.Println(string(cl.Expect("welcome")))
	// Output: "alice in lobby"
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
