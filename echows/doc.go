// Package echows mounts rushws WebSocket routes on Echo v4.
//
//	hub, err := core.NewHub(core.Config{})
//	// ...
//	e.GET("/ws/:room", echows.Handler(hub, func(c *core.Conn) error {
//		return c.Join(c.Param("room"))
//	}))
//	e.GET("/api/ws/stats", echows.StatsHandler(hub))
//
// The adapter is one function: it copies the route params and the client IP
// (c.RealIP, so configure e.IPExtractor for your proxies), sends headers set
// by Echo middleware on the 101 response, turns a refused handshake into an
// *echo.HTTPError, and returns nil after the upgrade. Echo's Logger,
// Recover, RequestID, CORS, Gzip and echo-jwt work in front of it. Echo's
// Timeout middleware hides the connection hijacking a WebSocket needs; on
// such a route the handshake fails with 500 and a logged error naming the
// cause. Keep WebSocket routes out of Timeout's scope (its Skipper).
//
// Shutdown: http.Server.Shutdown does not wait for hijacked connections, so
// close the hub first or register it:
//
//	e.Server.RegisterOnShutdown(func() { _ = hub.Shutdown(context.Background()) })
//
// RegisterOnShutdown runs the function in its own goroutine; to wait for it,
// call hub.Shutdown(ctx) yourself before e.Shutdown(ctx).
//
// Handlers returned by this package are safe for concurrent use.
package echows
