// Package echows mounts rushws WebSocket routes on Echo v4
// (github.com/labstack/echo/v4). Echo v5 apps use package echo5ws; this
// package does not import Echo v5.
//
// One line adds a WebSocket route to any router, inside groups protected by
// the app's own middleware:
//
//	api := e.Group("/api", echojwt.WithConfig(echojwt.Config{SigningKey: key}))
//	echows.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
//		token := c.Get("user").(*jwt.Token) // set by echo-jwt, copied by the adapter
//		// register handlers, join rooms, and return
//	})
//
// e.GET("/chat/:room", echows.Handler(hub, chat)) mounts the same by hand.
//
// The adapter copies the route params (decoded once: a room "a%2Fb" in the
// URL is "a/b"), the client IP (c.RealIP, so configure e.IPExtractor: Echo
// v4 otherwise believes X-Forwarded-For from anyone), and the echo.Context
// values named in Config.ContextKeys ("user" by default, echo-jwt's
// ContextKey). It sends headers set by Echo middleware on the 101 response,
// turns a refused handshake into an *echo.HTTPError with the body
// {"status":...,"message":...}, and returns nil after the upgrade. Echo's
// Logger, RequestLogger, Recover, RequestID, CORS, Gzip, ContextTimeout and
// echo-jwt work in front of it; nothing of the pooled echo.Context is kept.
// Echo's deprecated Timeout middleware hides the connection hijacking a
// WebSocket needs; on such a route the handshake fails with 500 and a
// logged error naming the cause. Keep WebSocket routes out of its scope
// (its Skipper).
//
// The route's pattern (c.Path(), such as "/api/chat/:room") names the
// connection's route in the hub's logs.
//
// Operational endpoints have no adapter of their own: the hub's are
// http.Handlers, mounted with echo.WrapHandler like any other (the adapter's
// StatsHandler and RoomsHandler are deprecated wrappers of these):
//
//	admin := e.Group("/admin", adminAuth)
//	admin.GET("/ws/stats", echo.WrapHandler(core.StatsHandler(hub)))
//	admin.GET("/ws/rooms", echo.WrapHandler(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
//	admin.GET("/livez", echo.WrapHandler(core.LiveHandler(hub)))
//	admin.GET("/readyz", echo.WrapHandler(core.ReadyHandler(hub)))
//
// Refusals in front: a request that Echo's own middleware refuses
// (an echo-jwt group's 401, a rate limiter's 429) never reaches the
// adapter's handler, so the hub cannot count it: Stats.Rejected and the
// metrics built on it (rushws_connections_rejected_total) count only the
// refusals of rushws's own checks and connection middleware. Count the
// others where they happen, in Echo's RequestLogger or its error handler; or refuse
// with rushws connection middleware (package middleware's JWT, RateLimit),
// whose refusals the hub counts by reason.
//
// Shutdown: http.Server.Shutdown does not wait for hijacked connections, so
// shut the hub down first, then the server:
//
//	<-ctx.Done() // SIGINT or SIGTERM
//	_ = hub.Shutdown(shutdownCtx) // every WebSocket gets 1001
//	_ = e.Shutdown(shutdownCtx)
//
// Handlers returned by this package are safe for concurrent use.
package echows
