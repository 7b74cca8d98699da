package core

import (
	"context"
	"errors"
)

// errHubStopped is why a stopped hub has no poller.
var errHubStopped = errors.New("rushws: hub stopped")

// Shutdown closes the hub gracefully: new handshakes get 503, every
// connection's Context is cancelled, and every connection sends what it has
// queued and then a close frame with 1001 "server shutting down"; Shutdown
// waits for every read and write goroutine to exit. When ctx ends first, the
// remaining connections are dropped at once and ctx's error is returned:
// Shutdown returns by the time ctx ends whatever handlers do. Afterwards no
// goroutine of the hub remains, but for a route handler that has not
// returned (the connection is closed; its read goroutine, never started,
// does not start). Call it before http.Server.Shutdown, which does not wait
// for hijacked connections.
func (h *Hub) Shutdown(ctx context.Context) error {
	for _, c := range h.beginClose() {
		c.closeGraceful(CloseGoingAway, "server shutting down")
	}
	var err error
	if !h.waitLive(ctx, false) {
		err = ctx.Err()
		h.dropAll(CloseGoingAway, "server shutting down")
	}
	h.stop()
	return err
}

// Close drops every connection at once, without close frames, and waits for
// their goroutines to exit; it does not wait for route handlers that have
// not returned. New handshakes get 503. Prefer Shutdown.
func (h *Hub) Close() error {
	h.beginClose()
	h.dropAll(CloseGoingAway, "server closed")
	h.stop()
	return nil
}

// dropAll kills every connection and waits for the hub's goroutines, which
// then end promptly: sockets are closed, Contexts cancelled, acks failed.
func (h *Hub) dropAll(code int, reason string) {
	for _, c := range h.Connections() {
		c.kill(code, reason)
	}
	h.waitLive(context.Background(), true)
}

// stop ends the hub's own goroutines once its connections are gone.
func (h *Hub) stop() {
	h.hb.halt()
	h.stopPoller()
	if err := h.closeBroker(); err != nil {
		h.log.Warn("rushws: broker close failed", "err", err)
	}
}

// beginClose refuses new connections and returns the live ones.
func (h *Hub) beginClose() []*Conn {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	return h.Connections()
}

func (h *Hub) isClosing() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.closing
}
