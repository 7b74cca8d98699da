package core

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wireConn is the connection's socket once gorilla has written the 101:
// core alone reads and writes it from then on. Writes hold mu, so the
// writer's batches, the flusher's non-blocking writes and a protocol-error
// close never interleave.
//
// It also hands the reader bytes the client sent in the same packet as its
// handshake (net/http had already buffered them when the connection was
// hijacked), so such a client is served instead of refused.
type wireConn struct {
	net.Conn
	mu        sync.Mutex   // held by every write
	closeSent atomic.Bool  // a close frame has been written
	until     atomic.Int64 // the socket's write deadline as writeFrames set it, unix nanoseconds; 0 when reset
	prefix    []byte       // unread bytes from the handshake packet; the reader's
	sock                   // the plain socket beneath, where there is one (platform files)
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
// and hands gorilla the connection wrapped in a wireConn, through which
// gorilla writes the 101 response and nothing else.
type hijackWriter struct {
	http.ResponseWriter
	status    int
	hijackErr error
	wire      *wireConn // set once hijacked
}

// emptyReader is what gorilla sees as the hijacked connection's buffered
// reader when the handshake packet carried more: the leftover bytes go to
// core's reader instead. gorilla only asks it how much it holds.
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
	wc.sock.init(conn)
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
