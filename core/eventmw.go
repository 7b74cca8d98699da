package core

import (
	"encoding/json"
	"errors"
	"slices"
)

// EventMiddlewareFunc wraps an EventFunc, in the shape of MiddlewareFunc:
// it runs on the connection's read goroutine, one message at a time, before
// the event's handler, and sees the connection, the raw data and, through
// Conn.Event, the event's name. It can refuse the event (return
// ErrForbidden or a *RefusedError without calling next: the sender gets a
// "forbidden" error event, or an ack error when it asked for an ack, and
// nothing else happens), decorate the connection, time, log or trace.
//
// Event middleware is set hub-wide (Hub.UseEvent), per route
// (EventMiddleware, or Conn.UseEvent from handshake middleware or the route
// handler) and per event (the extra arguments of Conn.On, Conn.Once and
// Handle), and runs in that order around the handler. A middleware function
// is called once when its chain is built, not once per message: keep
// per-message state inside the EventFunc it returns.
type EventMiddlewareFunc func(next EventFunc) EventFunc

// ErrForbidden, returned by event middleware or an event handler, refuses
// the event: the client gets the "forbidden" error code, and
// Stats.EventsRefused counts it under RefuseForbidden. Return a
// *RefusedError to choose the message and the reason.
var ErrForbidden = errors.New("rushws: forbidden")

// Reasons events are refused for, the keys of Stats.EventsRefused. The
// authorization helpers of package middleware use them; a RefusedError may
// carry a reason of its own.
const (
	// RefuseForbidden is the reason of ErrForbidden, of an *EventError with
	// the code "forbidden", and of a RefusedError without a reason.
	RefuseForbidden = "forbidden"
	// RefuseUnauthenticated: the connection carries no verified claims.
	RefuseUnauthenticated = "unauthenticated"
	// RefuseRole: the claims lack a required role.
	RefuseRole = "role"
	// RefuseScope: the claims lack a required OAuth scope.
	RefuseScope = "scope"
	// RefusePermission: the claims lack a required permission.
	RefusePermission = "permission"
	// RefuseClaims: a predicate over the claims said no.
	RefuseClaims = "claims"
)

// EventRefuseReasons returns the reasons rushws itself refuses events for,
// in a fixed order, so a metrics system can label by them.
func EventRefuseReasons() []string {
	return []string{RefuseForbidden, RefuseUnauthenticated, RefuseRole, RefuseScope, RefusePermission, RefuseClaims}
}

// RefusedError refuses one event: return it from event middleware (or an
// event handler). The client gets an error event, or an ack error, with
// Code and Message; the connection stays open; Stats.EventsRefused counts
// it under Reason, and the hub logs it at debug level with the event name
// and the connection ID (never the message).
type RefusedError struct {
	// Reason names the refusal in Stats.EventsRefused. Keep the set small
	// and fixed: metrics label by it. Optional. Default RefuseForbidden.
	Reason string
	// Code is the error code the client sees. Optional. Default
	// CodeForbidden.
	Code string
	// Message is shown to the client. Optional. Default "forbidden".
	Message string
	// Err is the cause; it is never sent to the client. Optional.
	Err error
}

// Error implements error.
func (e *RefusedError) Error() string {
	msg := "rushws: event refused (" + e.reason() + "): " + e.message()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *RefusedError) Unwrap() error { return e.Err }

func (e *RefusedError) reason() string {
	if e.Reason == "" {
		return RefuseForbidden
	}
	return e.Reason
}

func (e *RefusedError) message() string {
	if e.Message == "" {
		return "forbidden"
	}
	return e.Message
}

// eventChain is a built chain of event middleware: mw composed once around
// a final function that calls the handler of the message being dispatched.
// It is immutable once published.
type eventChain struct {
	mw []EventMiddlewareFunc
	fn EventFunc
}

func newEventChain(mw []EventMiddlewareFunc, final EventFunc) *eventChain {
	fn := final
	for i := len(mw) - 1; i >= 0; i-- {
		fn = mw[i](fn)
	}
	return &eventChain{mw: mw, fn: fn}
}

// hubFinal ends the hub-wide chain: the route's chain, if the connection
// has one, then the handler.
func hubFinal(c *Conn, data json.RawMessage) (any, error) {
	if cc := c.evmw.Load(); cc != nil {
		return cc.fn(c, data)
	}
	return c.evFn(c, data)
}

// connFinal ends a connection's chain with the handler.
func connFinal(c *Conn, data json.RawMessage) (any, error) { return c.evFn(c, data) }

// UseEvent adds hub-wide event middleware, run before every route's and
// every event's own, around every event handler of every connection. Call
// it before the hub serves its first request.
func (h *Hub) UseEvent(mw ...EventMiddlewareFunc) {
	if len(mw) == 0 {
		return
	}
	h.mwMu.Lock()
	defer h.mwMu.Unlock()
	var all []EventMiddlewareFunc
	if old := h.evmw.Load(); old != nil {
		all = slices.Clone(old.mw)
	}
	h.evmw.Store(newEventChain(append(all, mw...), hubFinal))
}

// UseEvent adds event middleware for every event of this connection, run
// after the hub's and before each event's own. Handshake middleware calls
// it before next to give a route's connections their event middleware
// (EventMiddleware does exactly that); the route handler may call it too.
func (c *Conn) UseEvent(mw ...EventMiddlewareFunc) {
	if len(mw) == 0 {
		return
	}
	c.useChain(newEventChain(mw, connFinal))
}

// useChain adds a built chain's middleware to the connection's own.
func (c *Conn) useChain(add *eventChain) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.evmw.Load()
	if old == nil {
		c.evmw.Store(add) // shared by the route's connections: nothing built per connection
		return
	}
	all := append(slices.Clone(old.mw), add.mw...)
	c.evmw.Store(newEventChain(all, connFinal))
}

// EventMiddleware returns handshake middleware that gives every connection
// of the route it is on the event middleware mw, as Conn.UseEvent would,
// with the chain built once for all of them. It works with every adapter,
// as route middleware:
//
//	echows.WS(e, "/admin", hub, admin, core.EventMiddleware(audit, onlyMods))
func EventMiddleware(mw ...EventMiddlewareFunc) MiddlewareFunc {
	shared := newEventChain(slices.Clone(mw), connFinal)
	return func(next HandlerFunc) HandlerFunc {
		return func(c *Conn) error {
			if len(shared.mw) > 0 {
				c.useChain(shared)
			}
			return next(c)
		}
	}
}

// Event returns the name of the event whose middleware or handler is
// running. Call it only from event middleware and event handlers, on the
// connection's read goroutine, where it is valid; elsewhere it returns ""
// or a stale name.
func (c *Conn) Event() string { return c.evName }

// wrapEvent composes per-event middleware around fn.
func wrapEvent(fn EventFunc, mw []EventMiddlewareFunc) EventFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		fn = mw[i](fn)
	}
	return fn
}

// runEvent runs the event middleware chains and fn, the event's handler
// (with its own middleware), then turns a refusal into the error the client
// sees, counted and logged. Without hub or route middleware it is a direct
// call.
func (c *Conn) runEvent(name string, fn EventFunc, data json.RawMessage) (any, error) {
	c.evName = name
	var res any
	var err error
	hc, cc := c.hub.evmw.Load(), c.evmw.Load()
	switch {
	case hc == nil && cc == nil:
		res, err = fn(c, data)
	default:
		c.evFn = fn
		if hc != nil {
			res, err = hc.fn(c, data)
		} else {
			res, err = cc.fn(c, data)
		}
		c.evFn = nil
	}
	c.evName = ""
	if err != nil {
		err = c.refusal(name, err)
	}
	return res, err
}

// refusal turns a refusal into the *EventError the client gets, counting it
// by reason and logging it at debug level. Other errors are returned as
// they are.
func (c *Conn) refusal(name string, err error) error {
	var reason string
	var cause error
	var out *EventError
	var re *RefusedError
	var ee *EventError
	switch {
	case errors.As(err, &re):
		reason = re.reason()
		code := re.Code
		if code == "" {
			code = CodeForbidden
		}
		out = &EventError{Code: code, Message: re.message()}
		cause = re.Err
	case errors.Is(err, ErrForbidden):
		reason = RefuseForbidden
		out = &EventError{Code: CodeForbidden, Message: "forbidden"}
	case errors.As(err, &ee) && ee.Code == CodeForbidden:
		reason = RefuseForbidden
		out = ee
	default:
		return err
	}
	c.hub.stats.refuseEvent(reason)
	if cause != nil { // the refusal's cause: which claim, never the message
		c.hub.log.Debug("rushws: event refused", "conn", c.id, "event", quoteCut(name), "reason", reason, "cause", cause)
	} else {
		c.hub.log.Debug("rushws: event refused", "conn", c.id, "event", quoteCut(name), "reason", reason)
	}
	return out
}
