// Package ginws mounts rushws WebSocket routes on Gin.
//
//	hub, err := core.NewHub(core.Config{})
//	// ...
//	r.GET("/ws/:room", ginws.Handler(hub, func(c *core.Conn) error {
//		return c.Join(c.Param("room"))
//	}))
//	r.GET("/api/ws/stats", ginws.StatsHandler(hub))
//
// The adapter is one function: it copies the route params and the client IP
// (c.ClientIP, so call r.SetTrustedProxies for your proxies), sends headers
// set by Gin middleware on the 101 response, answers a refused handshake
// with AbortWithStatusJSON, and aborts the chain after the upgrade. Gin's
// Logger and Recovery and gin-contrib/gzip work in front of it.
//
// Shutdown: http.Server.Shutdown does not wait for hijacked connections, so
// shut the hub down first:
//
//	srv := &http.Server{Addr: ":8080", Handler: r}
//	// on SIGTERM:
//	_ = hub.Shutdown(ctx)
//	_ = srv.Shutdown(ctx)
//
// or register it with srv.RegisterOnShutdown.
//
// Handlers returned by this package are safe for concurrent use.
package ginws
