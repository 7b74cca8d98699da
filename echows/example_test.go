package echows_test

import (
	"context"
	"encoding/json"
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

// A chat room on an Echo app: the route handler joins the room named in the
// path and relays "chat" events to everyone in it; the stats handler serves
// the hub's counters.
func ExampleHandler() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.HideBanner = true
	e.GET("/ws/:room", echows.Handler(hub, func(c *core.Conn) error {
		room := c.Param("room")
		if err := c.Join(room); err != nil {
			return err
		}
		return core.Handle(c, "chat", func(c *core.Conn, msg struct{ Text string }) (any, error) {
			_, err := c.Hub().To(room).Emit("chat", map[string]string{"room": room, "text": msg.Text})
			return nil, err
		})
	}))
	e.GET("/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))

	srv := httptest.NewServer(e)
	defer srv.Close()
	// Close the hub before the server: http.Server does not track
	// hijacked connections.
	defer func() { _ = hub.Shutdown(context.Background()) }()

	cl, _, err := wstest.TryDial(context.Background(), srv.URL+"/ws/lobby")
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	cl.Emit("chat", map[string]string{"text": "hello"})
	fmt.Println(string(cl.Expect("chat")))

	resp, err := http.Get(srv.URL + "/ws/stats")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Connections int `json:"connections"`
		Rooms       int `json:"rooms"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&stats)
	fmt.Printf("connections: %d, rooms: %d\n", stats.Connections, stats.Rooms)

	// Output:
	// {"room":"lobby","text":"hello"}
	// connections: 1, rooms: 1
}

// The hub's operational endpoints are http.Handlers: mount them with
// echo.WrapHandler on any route, and protect them like any admin endpoint.
func Example_operationalEndpoints() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	e := echo.New()
	admin := e.Group("/admin") // behind the app's admin auth
	admin.GET("/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
	admin.GET("/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
	admin.GET("/readyz", echo.WrapHandler(core.ReadyHandler(hub)))

	for _, path := range []string{"/admin/ws/stats", "/admin/ws/rooms?room=lobby", "/admin/readyz"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code)
	}
	// Output:
	// /admin/ws/stats 200
	// /admin/ws/rooms?room=lobby 404
	// /admin/readyz 200
}

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
