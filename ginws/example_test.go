package ginws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
)

// A chat room on a Gin app: the route handler joins the room named in the
// path and relays "chat" events to everyone in it; the stats handler serves
// the hub's counters.
func ExampleHandler() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}

	r := gin.New()
	r.GET("/ws/:room", ginws.Handler(hub, func(c *core.Conn) error {
		room := c.Param("room")
		if err := c.Join(room); err != nil {
			return err
		}
		return core.Handle(c, "chat", func(c *core.Conn, msg struct{ Text string }) (any, error) {
			_, err := c.Hub().To(room).Emit("chat", map[string]string{"room": room, "text": msg.Text})
			return nil, err
		})
	}))
	r.GET("/ws/stats", gin.WrapH(core.StatsHandler(hub)))

	srv := httptest.NewServer(r)
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
// gin.WrapH on any route, and protect them like any admin endpoint.
func Example_operationalEndpoints() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer hub.Close()

	r := gin.New()
	admin := r.Group("/admin")
	admin.GET("/ws/stats", gin.WrapH(core.StatsHandler(hub)))
	admin.GET("/ws/rooms", gin.WrapH(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
	admin.GET("/readyz", gin.WrapH(core.ReadyHandler(hub)))

	srv := httptest.NewServer(r)
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
