// Package adaptertest is the contract every rushws adapter keeps, written
// once and run against each of them (Echo v4, Echo v5, Gin and net/http's
// hub.Handler): route params and how escaped ones decode, the client IP as
// the framework's proxy settings determine it, values set by the
// framework's middleware, headers on the 101, refusals before the upgrade,
// the framework's own middleware in front (its JWT, its recovery), the
// route's pattern in the hub's logs, the hub's operational endpoints
// through the framework's wrap, and WebSockets that outlive the server's
// ReadTimeout.
//
// An adapter's test builds the app that [App] describes in its framework's
// own words and calls [Run]. What only a framework does (Echo's context
// keys, Gin's raw paths, each framework's loggers and middleware) stays in
// the adapter's own tests, which share the kit of this package: [NewHub],
// [StartServer], [Dial], [ExpectEvent], [WaitFor] and the rest, and the
// table runners [RunFront] and [RunValues].
//
// Run starts its own servers and dials them with gorilla/websocket; it is
// safe to call from parallel tests.
package adaptertest
