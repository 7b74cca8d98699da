package echows_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/wstest"
)

// An Echo app adds a WebSocket route in one line inside its API group,
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
	echows.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
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

// WSWithConfig copies more echo.Context values than echo-jwt's "user" and
// adds Echo middleware to this route only.
func ExampleWSWithConfig() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer func() { _ = hub.Shutdown(context.Background()) }()
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set("tenant", "acme") // as a tenant-resolving middleware would
			return next(c)
		}
	})
	noStore := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "no-store")
			return next(c)
		}
	}
	route := echows.WSWithConfig(e, "/ws/:room", hub, func(c *core.Conn) error {
		return c.Emit("tenant", c.Get("tenant"))
	}, echows.Config{
		ContextKeys:     []string{"user", "tenant"},
		RouteMiddleware: []echo.MiddlewareFunc{noStore},
	})
	fmt.Println(route.Method, route.Path)
	// Output: GET /ws/:room
}
