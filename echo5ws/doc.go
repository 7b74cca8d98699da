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
