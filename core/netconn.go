package core

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// wireConn is the connection's socket as gorilla and the writer share it.
// gorilla reads through it and writes its own control frames (the 101
// response, close replies, protocol-error closes); the writer writes batches
// of frames it has framed itself. Every write holds mu, so a control frame
// never lands inside a batch.
//
// It also replays bytes the client sent in the same packet as its handshake
// (net/http had already buffered them when the connection was hijacked), so
// such a client is served instead of refused.
type wireConn struct {
	net.Conn
	mu        sync.Mutex      // held by every write
	deadline  atomic.Int64    // gorilla's write deadline, unix nanoseconds; 0 for none
	closeSent atomic.Bool     // a close frame has been written
	until     atomic.Int64    // the socket's write deadline as writeFrames set it, unix nanoseconds; 0 when another set it since
	prefix    []byte          // unread bytes from the handshake packet
	raw       syscall.RawConn // the socket, for non-blocking writes (flushNow); nil if not a plain socket
}

// Read returns the handshake packet's leftover bytes first.
func (w *wireConn) Read(p []byte) (int, error) {
	if len(w.prefix) > 0 {
		n := copy(p, w.prefix)
		w.prefix = w.prefix[n:]
		if len(w.prefix) == 0 {
			w.prefix = nil
		}
		return n, nil
	}
	return w.Conn.Read(p)
}

// SetWriteDeadline records gorilla's deadline for its next write; the
// socket's own deadline belongs to whoever holds mu.
func (w *wireConn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	w.deadline.Store(ns)
	return nil
}

// SetDeadline sets the read deadline and gorilla's write deadline.
func (w *wireConn) SetDeadline(t time.Time) error {
	_ = w.SetWriteDeadline(t)
	return w.Conn.SetReadDeadline(t)
}

// Write is gorilla's path: one whole frame (or the 101 response) per call.
func (w *wireConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var t time.Time
	if ns := w.deadline.Load(); ns != 0 {
		t = time.Unix(0, ns)
	}
	_ = w.Conn.SetWriteDeadline(t)
	w.until.Store(0)
	if len(p) > 0 && p[0] == finBit|opClose {
		w.closeSent.Store(true)
	}
	return w.Conn.Write(p)
}

// writeFrames writes bufs (whole frames) with one writev where the socket
// allows, within deadline. skip, checked once the lock is held, cancels the
// write (the connection was abandoned meanwhile). It returns how many bytes
// left.
func (w *wireConn) writeFrames(bufs *net.Buffers, deadline time.Time, skip *atomic.Bool) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A deadline at most an eighth shorter than asked is kept: a busy
	// writer does not reset the socket's timer on every wake-up.
	if d := deadline.UnixNano(); d-w.until.Load() > (d-time.Now().UnixNano())/8 {
		_ = w.Conn.SetWriteDeadline(deadline)
		w.until.Store(d)
	}
	if skip != nil && skip.Load() {
		return 0, errAbandoned
	}
	return bufs.WriteTo(w.Conn)
}

// interrupt makes a write in progress return at once with a timeout.
func (w *wireConn) interrupt() {
	w.until.Store(0)
	_ = w.Conn.SetWriteDeadline(time.Unix(1, 0))
}

// hijackWriter records why gorilla's upgrade failed (the status of a
// refused handshake, or a hijack that the wrapped writer does not support)
// and hands gorilla the connection wrapped in a wireConn.
type hijackWriter struct {
	http.ResponseWriter
	status    int
	hijackErr error
	wire      *wireConn // set once hijacked
}

// emptyReader is what gorilla sees as the hijacked connection's buffered
// reader when the handshake packet carried more: the leftover bytes are
// replayed by wireConn instead. gorilla only asks it how much it holds.
var emptyReader = bufio.NewReaderSize(strings.NewReader(""), 16)

// Hijack takes over the connection through whatever the framework wrapped
// around the writer.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		w.hijackErr = err
		return conn, brw, err
	}
	wc := &wireConn{Conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		wc.raw, _ = sc.SyscallConn()
	}
	if n := brw.Reader.Buffered(); n > 0 {
		wc.prefix = make([]byte, n)
		_, _ = brw.Reader.Read(wc.prefix)
		brw = bufio.NewReadWriter(emptyReader, brw.Writer)
	}
	w.wire = wc
	return wc, brw, nil
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *hijackWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
