package core

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// lingerTime bounds how long a connection closed for a protocol violation
// drains the peer's remaining input, so the peer reads the close frame
// rather than a TCP reset.
const lingerTime = time.Second

// readLoop is the connection's one long-lived goroutine. It reads, checks
// and dispatches messages in order, and finishes the connection when the
// peer or the server ends it.
func (c *Conn) readLoop() {
	var readErr error
	defer func() { c.finish(readErr) }()
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			readErr = err
			if errors.Is(err, websocket.ErrReadLimit) {
				c.readLimitExceeded()
			}
			return
		}
		bp := readBufPool.Get().(*[]byte)
		data, err := readMessage(r, (*bp)[:0], c.hub.cfg.ReadLimit)
		*bp = data[:0] // keep what it grew to
		readErr = c.handle(mt, data, err)
		if cap(*bp) <= maxPooledReadBuf {
			readBufPool.Put(bp)
		}
		if readErr != nil {
			return
		}
	}
}

// readBufPool holds the buffers inbound messages are read into. A message
// is read, dispatched, and its buffer goes back: a busy connection does not
// allocate a buffer a message, and an idle one holds none.
var readBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledReadBuf keeps the pool from holding on to buffers grown for rare
// large messages.
const maxPooledReadBuf = 64 << 10

// readMessage appends the message from r to buf, up to limit+1 bytes (one
// more than allowed, so the caller can tell a message over the limit).
func readMessage(r io.Reader, buf []byte, limit int64) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, nil
			}
			buf = slices.Grow(buf, int(min(int64(max(cap(buf), 512)), limit+1-int64(len(buf)))))
		}
		room := buf[len(buf):cap(buf)]
		if int64(len(buf)+len(room)) > limit+1 {
			room = room[:limit+1-int64(len(buf))]
		}
		n, err := r.Read(room)
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if int64(len(buf)) > limit {
			return buf, nil
		}
	}
}

// handle checks and dispatches one message read into data (err is the read
// error), and then writes what its handlers queued. A non-nil result ends
// the read loop and is what the connection finishes with.
func (c *Conn) handle(mt int, data []byte, err error) error {
	h := c.hub
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			c.readLimitExceeded()
		}
		return err
	}
	if int64(len(data)) > h.cfg.ReadLimit { // larger once decompressed
		c.abort(CloseTooBig, "message too big", true)
		return websocket.ErrReadLimit
	}
	c.lastSeen.Store(time.Now().UnixNano())
	h.stats.messagesIn.Add(1)
	h.stats.bytesIn.Add(uint64(len(data)))
	if mt == websocket.TextMessage && !utf8.Valid(data) {
		h.stats.errors.Add(1)
		c.abort(CloseInvalidPayload, "invalid UTF-8", true)
		return errInvalidUTF8
	}
	c.mu.Lock()
	open := c.state == stateOpen
	c.mu.Unlock()
	if !open {
		return nil // closing: wait for the peer's close frame
	}
	if err := c.dispatch(mt, data); err != nil {
		var ce *CloseError
		if errors.As(err, &ce) && ce.Code == CloseInternal && ce.Err != nil {
			c.abort(CloseInternal, ce.Reason, true) // a panic: stop reading at once
			return ce
		}
		c.closeForError(err, "")
	}
	c.writeDeferred()
	c.pauseIfBehind()
	return nil
}

// readLimitExceeded ends a connection whose frame header announced more
// than the read limit. gorilla has sent 1009 for a length over the limit;
// a 64-bit length with its top bit set is a protocol error, for which it
// sends nothing: 1002 then.
func (c *Conn) readLimitExceeded() {
	if c.wire.closeSent.Load() {
		c.abort(CloseTooBig, "", false)
		return
	}
	c.abort(CloseProtocolError, "invalid frame length", true)
}

var errInvalidUTF8 = errors.New("rushws: invalid UTF-8 received")

// dispatch routes one message, recovering a panic in user code.
func (c *Conn) dispatch(mt int, data []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.dispatching.Store(false)
			err = c.hub.recovered(c, p)
		}
	}()
	c.mu.Lock()
	filters := c.filters
	c.deferWrite = true // until writeDeferred, after the handlers
	c.mu.Unlock()
	for _, f := range filters {
		if err := f(c, mt, data); err != nil {
			if errors.Is(err, ErrDropMessage) {
				return nil
			}
			return c.reply(0, nil, err, "(filter)")
		}
	}
	if mt == websocket.TextMessage {
		return c.dispatchText(data)
	}
	return c.dispatchRaw(mt, data, CodeBadRequest, "binary messages are not accepted")
}

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
func (c *Conn) onPeerClose(code int, text string) error {
	echo := closeOut(code, "")
	if code == websocket.CloseNoStatusReceived {
		echo = controlOut(opClose, nil) // no code came: none goes back
	}
	c.closeQueued(code, text, echo)
	return nil
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

// onPing answers a ping through the send queue, after what is queued, so
// the pong never lands inside a batch of frames.
func (c *Conn) onPing(data string) error {
	c.lastSeen.Store(time.Now().UnixNano())
	_ = c.enqueue(controlOut(opPong, []byte(data)), false)
	return nil
}

// onPong records a pong: the peer is alive, and the ping's round trip.
func (c *Conn) onPong(string) error {
	now := time.Now().UnixNano()
	c.lastSeen.Store(now)
	if sent := c.pingSent.Swap(0); sent > 0 && now > sent {
		c.hub.stats.recordRTT(time.Duration(now - sent))
	}
	return nil
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
		var ce *websocket.CloseError
		if errors.As(readErr, &ce) {
			code, reason = ce.Code, ce.Text
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
	after := c.afterClosingLocked()
	c.mu.Unlock()

	c.abandon.Store(true)
	_ = c.ws.NetConn().Close()
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
