package core

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Closing a connection, in one place: the states, who moves a connection
// between them, and what each step leaves to the next.
//
//	            Close, closeForError, Shutdown (1001),
//	            slow consumer (1008), peer's close frame
//	  open ─────────────────────────────────────────────▶ closing
//	   │   (close frame queued behind what was queued;        │
//	   │    Context cancelled, acks failed)                   │ peer's close frame read,
//	   │                                                      │ or closeGrace after ours
//	   │ protocol violation: abort (close frame now,          │ (afterCloseSent's timer
//	   │ linger, read side ends)                              │ drops the socket)
//	   │ lost peer, pong timeout, Hub.Close: kill             ▼
//	   └─────────────────────────────────────────────────▶ closed
//	                       finish: writer flushed (at most closeGrace), socket
//	                       closed, rooms left, OnClose run, unregistered
//
// finish runs exactly once, on whichever goroutine owns the read side when
// the connection ends: the read goroutine (goroutine mode), the goroutine
// the poller started (poller mode), or, for a parked connection that kill
// closed, a goroutine kill starts after claiming the read side
// (Conn.reading). The writer never finishes a connection: a failed write
// kills it and leaves finish to the read side.
//
// Lock order: Hub.mu, then Hub.roomsMu, then Conn.mu, then wireConn.mu.
// Conn.mu is never held while writing to the socket, calling user code,
// or taking a hub lock; what must run after a state change (cancelling the
// Context, failing acks) is returned by afterClosingLocked and run after
// unlocking.

type connState uint8

const (
	stateOpen    connState = iota // serving
	stateClosing                  // close frame queued, waiting for the peer
	stateClosed                   // read loop finished
)

// Close starts a graceful close: messages already queued are sent, then a
// close frame with code and reason; the connection ends when the peer
// answers or after the write timeout. It returns an error for a code that
// may not be sent (1000-1003, 1007-1014 and 3000-4999 may). Calling it again
// does nothing.
func (c *Conn) Close(code int, reason string) error {
	if !validCloseCode(code) {
		return &CloseError{Code: code, Reason: reason, Err: ErrInvalidCloseCode}
	}
	c.closeGraceful(code, reason)
	return nil
}

// CloseCodeForStatus returns the close code that stands for a refusal with
// the given HTTP status once the connection is upgraded, so a browser (which
// sees only 1006 for a refused handshake) can read why: CloseUnauthorized,
// CloseForbidden and CloseRateLimited for 401, 403 and 429, else
// ClosePolicyViolation. The hub uses it for an *HTTPError returned after
// the upgrade, and package middleware for a token that expires.
func CloseCodeForStatus(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return CloseUnauthorized
	case http.StatusForbidden:
		return CloseForbidden
	case http.StatusTooManyRequests:
		return CloseRateLimited
	}
	return ClosePolicyViolation
}

// closeGrace is how long a closing connection waits for the peer's close
// frame before the TCP connection is dropped.
const closeGrace = 2 * time.Second

// closeGraceful queues a close frame after the messages already queued.
func (c *Conn) closeGraceful(code int, reason string) {
	c.closeQueued(code, reason, closeOut(code, reason))
}

// closeQueued moves an open connection to closing with code and reason
// (what OnClose handlers see) and queues frame, a close frame, after what
// is queued.
func (c *Conn) closeQueued(code int, reason string, frame outbound) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.beginClosingLocked(code, reason)
	c.queue = append(c.queue, frame)
	start := c.startWriterLocked()
	after := c.afterClosingLocked()
	c.mu.Unlock()
	after()
	if start {
		go c.writeLoop()
	}
}

// kill drops the TCP connection at once; the read loop then finishes the
// connection. code and reason are what OnClose handlers see.
func (c *Conn) kill(code int, reason string) {
	c.mu.Lock()
	c.beginClosingLocked(code, reason)
	if c.state == stateClosing && c.closeCode == 0 {
		c.closeCode, c.closeReason = code, reason
	}
	after := c.afterClosingLocked()
	c.mu.Unlock()
	c.abandon.Store(true)
	after()
	if c.wire == nil {
		return
	}
	_ = c.wire.Conn.Close()
	if c.poll != nil && c.reading.CompareAndSwap(false, true) {
		// Parked: no reader will see the closed socket, so finish here.
		go c.finish(net.ErrClosed)
	}
}

// beginClosingLocked moves an open connection to closing with code and
// reason: nothing more is accepted, and afterClosingLocked's result cancels
// its Context and fails its pending acks. c.mu is held.
func (c *Conn) beginClosingLocked(code int, reason string) {
	if c.state != stateOpen {
		return
	}
	c.state = stateClosing
	c.closeCode, c.closeReason = code, reason
}

// afterClosingLocked returns what must run, outside c.mu, once a connection
// has stopped being open: cancel its Context and fail its pending acks with
// ErrClosed. It returns a no-op while the connection is open or when this
// has already been done. c.mu is held.
func (c *Conn) afterClosingLocked() func() {
	if c.state == stateOpen || c.released {
		return func() {}
	}
	c.released = true
	cancel, acks := c.cancel, c.acks
	c.acks = nil
	if cancel == nil {
		c.closedCtx = true // Context() returns a cancelled context from now on
	}
	return func() {
		if cancel != nil {
			cancel()
		}
		for _, fn := range acks {
			c.safely(func() { fn(nil, ErrClosed) })
		}
	}
}

// afterCloseSent gives the peer closeGrace to answer a close frame; then
// the socket is dropped, which ends the reader.
func (c *Conn) afterCloseSent() {
	c.mu.Lock()
	if c.closeTimer == nil && c.state != stateClosed {
		c.closeTimer = time.AfterFunc(closeGrace, func() { c.kill(CloseAbnormal, "no close frame from the peer") })
	}
	c.mu.Unlock()
}

// lingerTime bounds how long a connection closed for a protocol violation
// drains the peer's remaining input, so the peer reads the close frame
// rather than a TCP reset.
const lingerTime = time.Second

// abort closes the connection now for a protocol violation or a panic: a
// close frame with code (unless one was sent already), then a short linger
// so the peer reads it rather than a TCP reset.
func (c *Conn) abort(code int, reason string, sendFrame bool) {
	c.mu.Lock()
	c.beginClosingLocked(code, reason)
	c.dropQueueLocked()
	c.deferWrite = false
	after := c.afterClosingLocked()
	c.mu.Unlock()
	c.abandon.Store(true)
	after()
	w := c.wire
	deadline := time.Now().Add(lingerTime)
	if sendFrame && !w.closeSent.Load() {
		bufs := net.Buffers{closeOut(code, reason).frame}
		if _, err := w.writeFrames(&bufs, deadline, nil); err == nil {
			w.closeSent.Store(true)
		}
	}
	if tc, ok := w.Conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = w.Conn.SetReadDeadline(deadline)
	_, _ = io.Copy(io.Discard, io.LimitReader(w.Conn, 1<<20))
}

// onPeerClose answers the peer's close frame through the send queue, after
// what is already queued (a pong, say), unless the hub sent its own close
// first. The read loop then ends, and finish lets the writer flush.
func (c *Conn) onPeerClose(code int, text string) {
	echo := closeOut(code, "")
	if code == CloseNoStatus {
		echo = controlOut(opClose, nil) // no code came: none goes back
	}
	c.closeQueued(code, text, echo)
}

// flushBeforeClose lets the writer send what is queued (the reply to the
// peer's close frame, mostly) before finish drops the socket, for at most
// closeGrace.
func (c *Conn) flushBeforeClose() {
	c.mu.Lock()
	if !c.writing {
		c.mu.Unlock()
		return
	}
	if c.writerDone == nil {
		c.writerDone = make(chan struct{})
	}
	wait := c.writerDone
	c.mu.Unlock()
	t := time.NewTimer(closeGrace)
	select {
	case <-wait:
	case <-t.C:
	}
	t.Stop()
}

// finish runs once, on the read goroutine, when the connection has ended:
// it waits for the writer, cancels the context, fails pending acks, runs
// OnClose handlers, leaves every room and unregisters.
func (c *Conn) finish(readErr error) {
	h := c.hub
	c.flushBeforeClose()
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	if code == 0 {
		code, reason = CloseAbnormal, ""
		var ce *CloseError
		if errors.As(readErr, &ce) {
			code, reason = ce.Code, ce.Reason
		}
	}
	c.beginClosingLocked(code, reason)
	c.state = stateClosed
	c.dropQueueLocked()
	c.resumeLocked(true)
	var wait chan struct{}
	if c.writing {
		c.writerDone = make(chan struct{})
		wait = c.writerDone
	}
	onClose := c.onClose
	c.onClose = nil
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	after := c.afterClosingLocked()
	c.mu.Unlock()
	if c.poll != nil {
		c.poll.forget(c)
	}

	c.abandon.Store(true)
	c.endMessage()
	_ = c.wire.Conn.Close()
	if wait != nil {
		<-wait
	}
	after()
	h.stats.recordClose(code)
	if readErr != nil && code == CloseAbnormal && !isExpectedNetErr(readErr) {
		h.log.Debug("rushws: connection lost", "conn", c.id, "err", readErr)
	}
	h.leaveAll(c)
	for _, fn := range onClose {
		c.safely(func() { fn(c, code, reason) })
	}
	h.release(c)
}

// safely runs user code from finish, where a panic must not stop cleanup.
func (c *Conn) safely(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			_ = c.hub.recovered(c, p)
		}
	}()
	fn()
}

// isExpectedNetErr reports errors that end connections in normal operation.
func isExpectedNetErr(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne) && ne.Timeout()
}
