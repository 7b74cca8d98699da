package core

// HandlerFunc handles a connection. As a route handler it runs once, right
// after the upgrade and before the read loop starts: register event
// handlers, join rooms, send a welcome, and return. Returning a
// *CloseError closes the connection with its code; any other error closes it
// with 1011 and is logged.
type HandlerFunc func(c *Conn) error

// MiddlewareFunc wraps a HandlerFunc, in Echo's shape. It runs before the
// upgrade, on a Conn that already knows its request, params, IP and
// metadata: return an *HTTPError to refuse the handshake with that status, or
// call next to upgrade and run the route handler. Code after next runs once
// the route handler has returned; an error it returns then closes the
// connection (a *CloseError with its code).
type MiddlewareFunc func(next HandlerFunc) HandlerFunc

// chain wraps final in hub-wide middleware, then route middleware, so the
// hub's run first.
func (h *Hub) chain(final HandlerFunc, route []MiddlewareFunc) HandlerFunc {
	h.mwMu.RLock()
	hub := h.mw
	h.mwMu.RUnlock()
	next := final
	for i := len(route) - 1; i >= 0; i-- {
		next = route[i](next)
	}
	for i := len(hub) - 1; i >= 0; i-- {
		next = hub[i](next)
	}
	return next
}
