package core

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/websocket"
)

// ErrNotOffered is returned by Conn.SetSubprotocol for a subprotocol the
// client did not offer: a browser fails a connection whose server selects
// anything else.
var ErrNotOffered = errors.New("rushws: subprotocol not offered by the client")

// SetSubprotocol chooses the subprotocol the 101 response selects when
// Config.Subprotocols selects none of the client's offers. Middleware calls
// it before next: the JWT middleware does, when the token came in a
// subprotocol entry, so that a browser, which fails a connection whose
// offers were all ignored, connects even when the app's protocol is
// missing from Config.Subprotocols. p must be one of the client's offers
// (ErrNotOffered otherwise). Called after the upgrade, it returns an error
// and changes nothing.
func (c *Conn) SetSubprotocol(p string) error {
	if c.wire != nil {
		return errors.New("rushws: SetSubprotocol called after the upgrade")
	}
	c.mu.Lock()
	h := c.header
	c.mu.Unlock()
	if !slices.Contains(offeredSubprotocols(h), p) {
		return ErrNotOffered
	}
	c.subprotocol = p
	return nil
}

// OfferedSubprotocols returns the subprotocols the client offered, in its
// order. Before the upgrade it reads the handshake's header.
func (c *Conn) OfferedSubprotocols() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.header == nil {
		return nil
	}
	return offeredSubprotocols(c.header)
}

func offeredSubprotocols(h http.Header) []string {
	if h == nil {
		return nil
	}
	return websocket.Subprotocols(&http.Request{Header: h})
}

// negotiator returns the upgrader and response header for c: the hub's,
// unless middleware chose a subprotocol (SetSubprotocol) and the hub's list
// selects none of the client's offers.
func (h *Hub) negotiator(r *http.Request, c *Conn, hdr http.Header) (*websocket.Upgrader, http.Header) {
	if c.subprotocol == "" {
		return &h.upgrader, hdr
	}
	offers := websocket.Subprotocols(r)
	for _, p := range h.cfg.Subprotocols {
		if slices.Contains(offers, p) {
			return &h.upgrader, hdr
		}
	}
	u := h.upgrader // a copy: gorilla takes the choice from the header only without a list
	u.Subprotocols = nil
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Sec-Websocket-Protocol", c.subprotocol)
	return &u, hdr
}

// checkNegotiated counts, and logs (at warn level the first time, at debug
// after), an upgrade whose client offered subprotocols of which none was
// selected: browsers fail such connections at once with 1006 and the
// server would otherwise see nothing wrong. The offers are not logged: one
// may carry a token.
func (h *Hub) checkNegotiated(r *http.Request, c *Conn, route string) {
	if c.subprotocol != "" || r.Header.Get("Sec-Websocket-Protocol") == "" {
		return
	}
	offers := websocket.Subprotocols(r)
	if len(offers) == 0 {
		return
	}
	msg := "rushws: the client offered subprotocols and none was selected; browsers fail such connections (1006): " +
		"list the app's protocol in Config.Subprotocols"
	if slices.ContainsFunc(offers, func(p string) bool { return strings.HasPrefix(p, "bearer.") }) {
		msg += " (a token in a \"bearer.\" entry is not a protocol: offer the app's own beside it)"
	}
	if h.stats.noSubprotocol.Add(1) == 1 {
		h.log.Warn(msg, "route", route, "conn", c.id, "offered", len(offers))
		return
	}
	h.log.Debug(msg, "route", route, "conn", c.id, "offered", len(offers))
}
