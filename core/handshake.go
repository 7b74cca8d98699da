package core

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rushws/rushws/internal/origincheck"
	"github.com/rushws/rushws/internal/quote"
)

// ConnInfo carries what an adapter learned from its framework about a
// handshake: the route's path parameters and pattern, the client IP as the
// framework's trusted-proxy configuration determined it, and the values
// its middleware stored. The adapter copies them out of the framework's
// (often pooled) context before calling Serve; the hub copies them again
// and keeps none of the adapter's slices or maps.
type ConnInfo struct {
	// Params are the route's path parameters. Optional.
	Params []Param
	// ClientIP is the client's address. Optional. Default the host part of
	// the request's RemoteAddr.
	ClientIP string
	// Route names the route in logs: the framework's pattern, such as
	// "/api/chat/:room" (Echo's c.Path(), Gin's c.FullPath(), net/http's
	// r.Pattern), so one route's lines group together whatever the
	// client's path. Optional. Default the request's path, cut to 128
	// bytes.
	Route string
	// Values are copied into the connection's metadata before any
	// middleware runs, so what the framework's own middleware set (echo-jwt's
	// "user", Gin's keys) is readable with Conn.Get. Optional.
	Values map[string]any
}

// Handler returns an http.Handler for plain net/http: the route's wildcards
// (r.PathValue, Go 1.22 patterns) become Conn params, the pattern
// (r.Pattern) names the route in logs, and the client IP is the remote
// address. Refused handshakes get a JSON body (ErrorBody).
//
// Operational endpoints need no adapter either: StatsHandler,
// RoomsHandler, LiveHandler and ReadyHandler are http.Handlers for any
// router (echo.WrapHandler, gin.WrapH).
func (h *Hub) Handler(fn HandlerFunc, mw ...MiddlewareFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := ConnInfo{Params: patternParams(r), Route: patternPath(r.Pattern)}
		if err := h.Serve(w, r, info, fn, mw...); err != nil {
			WriteHTTPError(w, err)
		}
	})
}

// Serve is the seam the adapters call, and all an adapter for another
// framework needs of core. It validates the handshake, runs the middleware
// chain, upgrades, runs fn and starts the connection's read goroutine, then
// returns without keeping w, r or any framework context.
//
// The contract an adapter keeps (echows, echo5ws and ginws keep it, and
// the repository's adapter test suite checks it):
//
//   - Call Serve from the route's handler, after the framework's own
//     middleware, with the framework's http.ResponseWriter and
//     *http.Request. If the framework has already written the response,
//     do not call it: the upgrade would follow a status line.
//   - Fill ConnInfo from the framework: decoded path params, the route's
//     pattern, the client IP its trusted-proxy settings determined, and
//     the values its middleware stored for the connection.
//   - Before the upgrade Serve writes nothing: a refused handshake returns
//     an *HTTPError. Add its Header to the response and answer with its
//     Status and its Body as JSON, in the framework's way (Handler uses
//     WriteHTTPError). Any other error is a failure of the framework's
//     plumbing: answer 500.
//   - After a successful upgrade it returns nil and the connection belongs
//     to the hub: write nothing to w, stop the framework's handler chain,
//     and report 101 to the framework's logger if it asks.
//
// Requests that the framework's middleware refuses before the route
// handler runs never reach Serve, so Stats.Rejected does not count them.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, info ConnInfo, fn HandlerFunc, mw ...MiddlewareFunc) error {
	if err := checkHandshake(r); err != nil {
		return h.refuse(err)
	}
	if err := h.admit(); err != nil {
		return h.refuse(err)
	}
	c := h.newConn(r, info)
	hw := &hijackWriter{ResponseWriter: w}
	route := info.Route
	if route == "" {
		route = quote.Cut(r.URL.Path, maxLoggedPath) // a client's path: bounded in logs
	}
	final := func(c *Conn) error { return h.upgrade(hw, r, c, fn, route) }
	err := h.runChain(h.chain(final, mw), c)
	if c.wire == nil { // refused, or the chain never called next
		// Middleware may have joined rooms before refusing: leave them, so
		// no ghost member stays behind.
		c.mu.Lock()
		c.state = stateClosed
		c.mu.Unlock()
		h.leaveAll(c)
		h.leaveServe()
		h.release(nil)
		if hw.wire != nil {
			// gorilla took the connection over and then failed (a client
			// that broke the handshake after it was checked): nothing may
			// be written to it any more.
			h.stats.reject(RejectBadHandshake)
			h.log.Debug("rushws: upgrade failed after hijack", "ip", c.ip, "err", err)
			return nil
		}
		var he *HTTPError
		switch {
		case errors.As(err, &he):
		case err == nil:
			he = &HTTPError{Status: http.StatusForbidden, Message: "connection refused", Reason: RejectMiddleware}
		default:
			h.stats.errors.Add(1)
			h.log.Error("rushws: handshake failed", "route", route, "ip", c.ip, "err", err)
			he = &HTTPError{Status: http.StatusInternalServerError, Message: "internal error", Reason: RejectInternal, Err: err}
		}
		return h.refuse(he)
	}
	if err != nil {
		c.closeForError(err, route)
	}
	c.keepRequest()
	h.leaveServe()
	if h.rec != nil {
		h.rec.changed(c) // recovery: save what the route handler joined and set
	}
	c.startReading()
	return nil
}

// runChain runs the middleware chain, turning a panic into an error.
func (h *Hub) runChain(fn HandlerFunc, c *Conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = h.recovered(c, p)
		}
	}()
	return fn(c)
}

// recovered logs a recovered panic with its stack and counts it.
func (h *Hub) recovered(c *Conn, p any) error {
	h.stats.errors.Add(1)
	h.log.Error("rushws: handler panicked", "conn", c.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return &CloseError{Code: CloseInternal, Reason: "internal error", Err: fmt.Errorf("panic: %v", p)}
}

// upgrade is the innermost handler: origin, upgrade, registration, then the
// route handler.
func (h *Hub) upgrade(hw *hijackWriter, r *http.Request, c *Conn, fn HandlerFunc, route string) error {
	if !c.originChecked && !h.originAllowed(r) {
		origin := r.Header.Get("Origin")
		h.log.Info("rushws: origin refused: not the same origin and no origin middleware on the route",
			"route", route, "origin", quote.Input(origin, maxQuoted), "host", quote.Input(r.Host, maxQuoted), "ip", c.ip)
		return &HTTPError{Status: http.StatusForbidden, Message: "origin not allowed", Reason: RejectOrigin}
	}
	up, hdr := h.negotiator(r, c, responseHeader(hw.Header())) // subprotocol.go
	ws, err := up.Upgrade(hw, r, hdr)
	if err != nil && hw.wire != nil {
		return err // hijacked: Serve answers nothing
	}
	if err != nil {
		if hw.hijackErr != nil {
			h.log.Error("rushws: cannot take over the connection: the response writer does not support hijacking; "+
				"a middleware on this route (such as Echo's Timeout or a buffering writer) hides http.Hijacker",
				"path", quote.Cut(r.URL.Path, maxLoggedPath), "err", hw.hijackErr)
			return &HTTPError{Status: http.StatusInternalServerError, Message: "websocket upgrade not possible on this route", Reason: RejectHijack, Err: hw.hijackErr}
		}
		if hw.status != 0 { // a check gorilla made that ours did not
			return &HTTPError{Status: hw.status, Reason: RejectBadHandshake, Err: err}
		}
		h.log.Debug("rushws: upgrade failed", "ip", c.ip, "err", err)
		return &HTTPError{Status: http.StatusBadRequest, Reason: RejectBadHandshake, Err: err}
	}
	now := time.Now()
	c.lastSeen.Store(now.UnixNano())
	// gorilla's part ends with the 101: core reads and writes the frames.
	c.subprotocol = ws.Subprotocol()
	h.checkNegotiated(r, c, route)
	c.compress = h.cfg.EnableCompression && offersDeflate(r.Header)
	if h.cfg.ReadMode == ReadAuto && hw.wire.peek {
		c.poll = h.poller()
	}
	c.reading.Store(true) // Serve owns the read side until startReading
	c.wire = hw.wire
	var plan *recoveryPlan
	if h.rec != nil {
		plan = h.prepareSession(c, r) // recovery: read the recover message, restore ID and metadata
	}
	if !h.register(c) {
		if h.rec != nil {
			c.endDefer() // recovery: prepareSession held output back
		}
		c.closeGraceful(CloseGoingAway, "server shutting down")
		return nil
	}
	c.registered = true
	if h.rec != nil {
		h.attachSession(c, plan, r.URL.Query().Get(RecoverQuery) == "1") // recovery: session message and replay first
	}
	c.startWriterIfQueued() // sends queued by middleware before the upgrade
	c.mu.Lock()
	open := c.state == stateOpen
	c.mu.Unlock()
	if !open { // middleware closed it before next (e.g. to send 4401 to a browser)
		return nil
	}
	return h.runHandler(fn, c, route)
}

// runHandler runs the route handler, recovering a panic. While it runs the
// connection's messages are not read: a handler that is still running after
// HandshakeTimeout is logged once, naming the route.
func (h *Hub) runHandler(fn HandlerFunc, c *Conn, route string) (err error) {
	c.inRoute.Store(true)
	c.dispatching.Store(true) // EmitWithAck could never read its reply here
	warn := time.AfterFunc(h.cfg.HandshakeTimeout, func() {
		if c.inRoute.Load() {
			h.log.Warn("rushws: route handler still running; it must register handlers and return for the connection's messages to be read",
				"route", route, "conn", c.id, "after", h.cfg.HandshakeTimeout)
		}
	})
	defer func() {
		warn.Stop()
		c.dispatching.Store(false)
		c.inRoute.Store(false)
		if p := recover(); p != nil {
			err = h.recovered(c, p)
		}
	}()
	return fn(c)
}

// The Origin middleware of package middleware marks a connection whose
// Origin it has decided (before next), so upgrade skips the hub's own
// check.
func init() { origincheck.Mark = func(c any) { c.(*Conn).originChecked = true } }

// offersDeflate reports whether the client offers permessage-deflate, the
// one extension gorilla negotiates.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// closeForError closes an upgraded connection for an error returned by its
// route handler or middleware.
func (c *Conn) closeForError(err error, route string) {
	var ce *CloseError
	var he *HTTPError
	switch {
	case errors.Is(err, ErrInvalidRoom), errors.Is(err, ErrTooManyRooms), errors.Is(err, ErrInvalidEvent):
		// Usually the route's own input: a path parameter that names no
		// valid room (an empty one often means a parameter name typo).
		c.hub.log.Warn("rushws: route handler refused the connection", "route", route, "conn", c.id, "err", err)
		c.closeGraceful(ClosePolicyViolation, strings.TrimPrefix(err.Error(), "rushws: "))
	case errors.As(err, &ce):
		code := ce.Code
		if !validCloseCode(code) {
			code = CloseInternal
		}
		c.closeGraceful(code, ce.Reason)
	case errors.As(err, &he):
		code := CloseCodeForStatus(he.Status)
		msg := he.Message
		if msg == "" {
			msg = http.StatusText(he.Status)
		}
		c.closeGraceful(code, msg)
	default:
		c.hub.stats.errors.Add(1)
		c.hub.log.Error("rushws: route handler error", "route", route, "conn", c.id, "err", err)
		c.closeGraceful(CloseInternal, "internal error")
	}
}

// refuse counts a refused handshake.
func (h *Hub) refuse(e *HTTPError) error {
	h.stats.reject(e.reason())
	return e
}

// newConn builds the connection for a handshake, copying what it needs from
// the request so nothing of the framework's pooled context is kept.
func (h *Hub) newConn(r *http.Request, info ConnInfo) *Conn {
	ip := strings.Clone(info.ClientIP)
	if ip == "" {
		ip = remoteIP(r.RemoteAddr)
	}
	var bag smallMap[any]
	for k, v := range info.Values {
		bag.set(k, v)
	}
	return &Conn{
		bag:         bag,
		hub:         h,
		id:          h.newID(),
		ip:          ip,
		url:         r.URL,
		header:      r.Header,
		host:        r.Host,
		remoteAddr:  r.RemoteAddr,
		params:      cloneParams(info.Params),
		connectedAt: time.Now().UnixNano(),
		parentCtx:   context.WithoutCancel(r.Context()),
	}
}

// cloneParams copies the route's parameters: their values are often cut
// from the request line, which they would otherwise keep alive (a 400 KB
// query string, say) for the connection's lifetime.
func cloneParams(ps []Param) []Param {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: strings.Clone(p.Name), Value: strings.Clone(p.Value)}
	}
	return out
}

// checkHandshake validates the parts of a handshake that gorilla would
// refuse, so refusals are counted and answered before any middleware runs.
func checkHandshake(r *http.Request) *HTTPError {
	if r.Method != http.MethodGet {
		return &HTTPError{Status: http.StatusMethodNotAllowed, Message: "websocket handshake must use GET", Reason: RejectMethod,
			Header: http.Header{"Allow": {http.MethodGet}}}
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return &HTTPError{Status: http.StatusBadRequest, Message: "not a websocket handshake", Reason: RejectBadHandshake,
			Header: http.Header{"Upgrade": {"websocket"}}}
	}
	if r.Header.Get("Sec-Websocket-Version") != "13" {
		return &HTTPError{Status: http.StatusBadRequest, Message: "unsupported websocket version", Reason: RejectBadHandshake,
			Header: http.Header{"Sec-Websocket-Version": {"13"}}}
	}
	key := r.Header.Get("Sec-Websocket-Key")
	if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) != 16 {
		return &HTTPError{Status: http.StatusBadRequest, Message: "invalid Sec-WebSocket-Key", Reason: RejectBadHandshake}
	}
	return nil
}

// headerHasToken reports whether a comma-separated header holds token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed is the hub's default origin policy: requests without an
// Origin header (non-browser clients) pass; browsers must be same-origin
// unless Config says otherwise.
func (h *Hub) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || h.cfg.InsecureSkipOriginCheck {
		return true
	}
	if h.cfg.CheckOrigin != nil {
		return h.cfg.CheckOrigin(r)
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// responseHeader returns the headers earlier middleware set on w, for the
// 101 response, minus those the handshake itself owns.
func responseHeader(h http.Header) http.Header {
	if len(h) == 0 {
		return nil
	}
	out := h.Clone()
	for _, k := range []string{"Upgrade", "Connection", "Sec-Websocket-Accept", "Sec-Websocket-Extensions",
		"Sec-Websocket-Protocol", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding"} {
		delete(out, k)
	}
	return out
}

// WriteHTTPError answers a refused handshake with the error's status,
// headers and a JSON body {"status":..., "message":...}. Errors that are not
// *HTTPError become 500 without detail.
func WriteHTTPError(w http.ResponseWriter, err error) {
	he, ok := errors.AsType[*HTTPError](err)
	if !ok {
		he = &HTTPError{Status: http.StatusInternalServerError}
	}
	for k, vs := range he.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.Status)
	_ = json.NewEncoder(w).Encode(he.Body())
}

// ErrorBody is the JSON body of a refused handshake,
// {"message":"token expired","status":401}, the same under every adapter.
// An adapter answers a refusal with it in its framework's way.
type ErrorBody struct {
	// Message is HTTPError.Message, or the status text when that is empty.
	Message string `json:"message"`
	// Status is the HTTP status code of the response.
	Status int `json:"status"`
}

// Body returns the JSON body that answers the refused handshake.
func (e *HTTPError) Body() ErrorBody {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return ErrorBody{Status: e.Status, Message: msg}
}

// patternPath returns the path of a ServeMux pattern, without the method
// ("GET /chat/{room}" is "/chat/{room}"), as the frameworks name routes.
func patternPath(p string) string {
	if _, path, ok := strings.Cut(p, " "); ok {
		return strings.TrimLeft(path, " \t")
	}
	return p
}

// patternParams copies the wildcards of a Go 1.22 ServeMux pattern.
func patternParams(r *http.Request) []Param {
	var ps []Param
	for seg := range strings.SplitSeq(r.Pattern, "/") {
		if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' {
			continue
		}
		name := strings.TrimSuffix(seg[1:len(seg)-1], "...")
		if name == "$" {
			continue
		}
		ps = append(ps, Param{Name: name, Value: r.PathValue(name)})
	}
	return ps
}

// remoteIP returns the host part of a RemoteAddr.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
