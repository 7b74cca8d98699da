package core

import "context"

// Shutdown closes the hub gracefully: new handshakes get 503, every
// connection sends what it has queued and then a close frame with 1001
// "server shutting down", and Shutdown waits for every read and write
// goroutine to exit. When ctx ends first, the remaining connections are
// dropped at once and ctx's error is returned. Afterwards no goroutine of the
// hub remains. Call it before http.Server.Shutdown, which does not wait for
// hijacked connections.
func (h *Hub) Shutdown(ctx context.Context) error {
	for _, c := range h.beginClose() {
		c.closeGraceful(CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		h.live.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range h.Connections() {
			c.kill(CloseGoingAway, "server shutting down")
		}
		<-done
	}
	h.hb.halt()
	return err
}

// Close drops every connection at once, without close frames, and waits for
// their goroutines to exit. New handshakes get 503. Prefer Shutdown.
func (h *Hub) Close() error {
	for _, c := range h.beginClose() {
		c.kill(CloseGoingAway, "server closed")
	}
	h.live.Wait()
	h.hb.halt()
	return nil
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
