package echows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
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

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/lobby", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()

	if err := ws.WriteJSON(map[string]any{"event": "chat", "data": map[string]string{"text": "hello"}}); err != nil {
		panic(err)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil {
		panic(err)
	}
	fmt.Println(string(msg))

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
	// {"event":"chat","data":{"room":"lobby","text":"hello"}}
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
	admin := e.Group("/admin")
	admin.GET("/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
	admin.GET("/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
	admin.GET("/readyz", echo.WrapHandler(core.ReadyHandler(hub)))

	srv := httptest.NewServer(e)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/admin/ws/stats")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var stats map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&stats)
	fmt.Println(resp.StatusCode, resp.Header.Get("Cache-Control"), "connections:", stats["connections"])

	// Output:
	// 200 no-store connections: 0
}
