// Package echo5ws mounts rushws WebSocket routes on Echo v5
// (github.com/labstack/echo/v5). Echo v4 apps use package echows, which
// does not pull Echo v5 into their build.
//
// One line adds a WebSocket route to any router, inside groups protected by
// the app's own middleware:
//
//	api := e.Group("/api", echojwt.WithConfig(echojwt.Config{SigningKey: key}))
//	echo5ws.WS(api, "/chat/:room", hub, func(c *core.Conn) error {
//		token := c.Get("user").(*jwt.Token) // set by echo-jwt, copied by the adapter
//		// register handlers, join rooms, and return
//	})
//
// The adapter copies the route params (decoded once: a room "a%2Fb" in the
// URL is "a/b"), the client IP (c.RealIP: without an e.IPExtractor, Echo v5
// uses the peer address; behind a proxy set echo.ExtractIPFromXFFHeader
// with the proxy's range), and the echo.Context values named in
// Config.ContextKeys ("user" by default, echo-jwt's ContextKey). It sends
// headers set by Echo middleware on the 101 response, returns refusals as
// errors that Echo's error handler writes as {"status":...,"message":...},
// and returns nil after the upgrade. Echo's RequestLogger (which logs the
// 101), Recover, RequestID, CORS, ContextTimeout and echo-jwt/v5 work in
// front of it; nothing of the pooled *echo.Context is kept.
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
// Shutdown: http.Server.Shutdown, and so echo.StartConfig's graceful
// shutdown, does not wait for hijacked connections. Shut the hub down first,
// then let StartConfig stop HTTP:
//
//	sig, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
//	defer stop()
//	httpCtx, stopHTTP := context.WithCancel(context.Background())
//	go func() {
//		<-sig.Done()
//		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//		defer cancel()
//		_ = hub.Shutdown(ctx) // every WebSocket gets 1001
//		stopHTTP()            // then HTTP, within GracefulTimeout
//	}()
//	err := echo.StartConfig{Address: ":8080", GracefulTimeout: 10 * time.Second}.Start(httpCtx, e)
//
// Handlers returned by this package are safe for concurrent use.
package echo5ws
