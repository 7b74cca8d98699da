package ginws_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/wstest"
)

// Handler mounts a route by hand. With r.UseRawPath, a room whose name
// holds an escaped slash reaches the route handler decoded, as under the
// other adapters; Gin's trusted proxies decide c.IP().
func ExampleHandler() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.UseRawPath = true
	_ = r.SetTrustedProxies(nil) // no proxy in front: c.IP() is the peer
	r.GET("/ws/:room", ginws.Handler(hub, func(c *core.Conn) error {
		return c.Emit("joined", map[string]string{"room": c.Param("room"), "ip": c.IP()})
	}))

	srv := httptest.NewServer(r)
	defer srv.Close()
	defer func() { _ = hub.Shutdown(context.Background()) }() // runs before srv.Close: hijacked connections are the hub's

	cl, _, err := wstest.TryDial(context.Background(), srv.URL+"/ws/a%2Fb")
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	fmt.Println(string(cl.Expect("joined")))
	// Output: {"ip":"127.0.0.1","room":"a/b"}
}

// HandlerWithConfig returns the route's chain, Gin middleware for this
// route first, for r.GET(path, chain...).
func ExampleHandlerWithConfig() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer hub.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	needsTicket := func(c *gin.Context) {
		if c.Query("ticket") == "" {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "ticket required"})
		}
	}
	r.GET("/ws/:room", ginws.HandlerWithConfig(hub, func(*core.Conn) error { return nil }, ginws.Config{
		RouteMiddleware: []gin.HandlerFunc{needsTicket},
	})...)

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ws/lobby", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 401 {"message":"ticket required"}
}

// A Gin app adds a WebSocket route in one line inside its API group; what
// the group's middleware stored with c.Set is readable with c.Get.
func ExampleWS() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	_ = r.SetTrustedProxies(nil) // behind a proxy: its addresses

	api := r.Group("/api", func(c *gin.Context) {
		c.Set("user", "alice") // as the app's auth middleware would, after checking a token
	})
	ginws.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
		return c.Emit("welcome", c.Get("user").(string)+" in "+c.Param("room"))
	})

	srv := httptest.NewServer(r)
	defer srv.Close()
	defer func() { _ = hub.Shutdown(context.Background()) }() // runs before srv.Close

	cl, _, err := wstest.TryDial(context.Background(), srv.URL+"/api/chat/lobby")
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	fmt.Println(string(cl.Expect("welcome")))
	// Output: "alice in lobby"
}

// WSWithConfig adds Gin middleware to this route only.
func ExampleWSWithConfig() {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer func() { _ = hub.Shutdown(context.Background()) }()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	onlyBeta := func(c *gin.Context) {
		if c.Query("beta") != "1" {
			c.AbortWithStatusJSON(http.StatusForbidden, gin.H{"message": "beta only"})
		}
	}
	ginws.WSWithConfig(r, "/ws/:room", hub, func(c *core.Conn) error { return nil }, ginws.Config{
		RouteMiddleware: []gin.HandlerFunc{onlyBeta},
	})

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ws/lobby", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 403 {"message":"beta only"}
}
