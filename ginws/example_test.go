package ginws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/wstest"
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
// gin.WrapH on any route, and protect them like any admin endpoint.
func Example_operationalEndpoints() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	r := gin.New()
	admin := r.Group("/admin") // behind the app's admin auth
	admin.GET("/ws/stats", gin.WrapH(core.StatsHandler(hub)))
	admin.GET("/ws/rooms", gin.WrapH(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
	admin.GET("/readyz", gin.WrapH(core.ReadyHandler(hub)))

	for _, path := range []string{"/admin/ws/stats", "/admin/ws/rooms?room=lobby", "/admin/readyz"} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code)
	}
	// Output:
	// /admin/ws/stats 200
	// /admin/ws/rooms?room=lobby 404
	// /admin/readyz 200
}
