// Package ginws mounts rushws WebSocket routes on Gin
// (github.com/gin-gonic/gin, v1.12.0 or later).
//
// One line adds a WebSocket route to any router, inside groups protected by
// the app's own middleware:
//
//	api := r.Group("/api", auth) // auth calls c.Set("user", claims)
//	ginws.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
//		claims := c.Get("user") // copied from Gin's context
//		// register handlers, join rooms, and return
//	})
//
// r.GET("/chat/:room", ginws.Handler(hub, chat)) mounts the same by hand.
//
// The adapter copies the route params, the client IP (c.ClientIP, so call
// r.SetTrustedProxies: Gin otherwise trusts every proxy) and every value
// set with c.Set under a string key. It sends headers set by Gin
// middleware on the 101 response, answers a refused handshake with
// AbortWithStatusJSON and the body {"status":...,"message":...}, and aborts
// the chain after the upgrade. Gin routes on the decoded path by default,
// so a param holding an escaped slash ("a%2Fb") finds no route; with
// r.UseRawPath = true it arrives as "a/b", as under the other adapters.
// Gin's Logger and Recovery and gin-contrib/gzip work in front of it;
// nothing of the pooled *gin.Context is kept.
//
// The route's pattern (c.FullPath(), such as "/api/chat/:room") names the
// connection's route in the hub's logs.
//
// Operational endpoints have no adapter of their own: the hub's are
// http.Handlers, mounted with gin.WrapH like any other (the adapter's
// StatsHandler and RoomsHandler are deprecated wrappers of these):
//
//	admin := r.Group("/admin", adminAuth)
//	admin.GET("/ws/stats", gin.WrapH(core.StatsHandler(hub)))
//	admin.GET("/ws/rooms", gin.WrapH(core.RoomsHandler(hub))) // ?room=, ?members=, ?limit=
//	admin.GET("/livez", gin.WrapH(core.LiveHandler(hub)))
//	admin.GET("/readyz", gin.WrapH(core.ReadyHandler(hub)))
//
// Refusals in front: a request that Gin's own middleware refuses
// (a group middleware's AbortWithStatus) never reaches the
// adapter's handler, so the hub cannot count it: Stats.Rejected and the
// metrics built on it (rushws_connections_rejected_total) count only the
// refusals of rushws's own checks and connection middleware. Count the
// others where they happen, in Gin's Logger or a middleware of your own; or refuse
// with rushws connection middleware (package middleware's JWT, RateLimit),
// whose refusals the hub counts by reason.
//
// Shutdown: http.Server.Shutdown does not wait for hijacked connections, so
// shut the hub down first:
//
//	srv := &http.Server{Addr: ":8080", Handler: r, ReadHeaderTimeout: 10 * time.Second}
//	// on SIGINT or SIGTERM:
//	_ = hub.Shutdown(ctx) // every WebSocket gets 1001
//	_ = srv.Shutdown(ctx)
//
// Handlers returned by this package are safe for concurrent use.
package ginws
