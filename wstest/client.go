package wstest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// errClosed is the read error of a Client that the test closed itself.
var errClosed = errors.New("wstest: client closed")

// Client is one WebSocket connection driven by one test. Its methods fail
// the test they are bound to (see [Dial] and [Client.Bind]) instead of
// returning errors, so a scenario reads as a list of steps.
//
// A Client is not safe for concurrent use: call its methods from one
// goroutine at a time, like a [testing.T]. Only Close, CloseWith and Abort
// may be called from any goroutine, at any time and more than once, so
// another goroutine can end a connection a test is waiting on.
type Client struct {
	t       testing.TB
	ws      *websocket.Conn
	timeout time.Duration

	buf     []frame    // frames read but not yet consumed, oldest first
	pending chan frame // the result of the read in flight, if any
	readErr error      // how the connection ended, once a read has seen it
	lastAck uint64     // the last ack id sent by EmitWithAck

	mu     sync.Mutex // guards closed against the start of new reads
	closed bool
	reads  sync.WaitGroup
}

// Dial connects to url, which may use the ws, wss, http or https scheme, so
// the URL of an [httptest.Server] works as is. It fails t when the handshake
// fails, reporting the HTTP status and body, and closes the Client when the
// test ends.
func Dial(t testing.TB, url string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), newOptions(opts).timeout)
	defer cancel()
	c, resp, err := TryDial(ctx, url, opts...)
	if err != nil {
		if resp == nil {
			t.Fatalf("%v", err)
			return nil
		}
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("%v: HTTP %s: %q", err, resp.Status, body)
		return nil
	}
	return c.Bind(t)
}

// DialHandler serves h on a new [httptest.Server] and dials path on it, for
// tests that need no server of their own. The server is closed when the
// test ends, after the Client.
func DialHandler(t testing.TB, h http.Handler, path string, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close) // registered first, so it runs after the Client's Close
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return Dial(t, srv.URL+path, opts...)
}

// TryDial connects to url like [Dial] but returns the error instead of
// failing a test, for tests that expect the handshake to be refused. On a
// refused handshake the error wraps [websocket.ErrBadHandshake] and the
// response is returned with its Body already read into memory (gorilla
// keeps the first 1024 bytes), so the test can read it after the
// connection is gone.
//
// The Client it returns belongs to no test: its methods panic on failure,
// which suits examples and programs, until [Client.Bind] ties it to one.
func TryDial(ctx context.Context, url string, opts ...Option) (*Client, *http.Response, error) {
	o := newOptions(opts)
	var d websocket.Dialer
	if o.dialer != nil {
		d = *o.dialer
	}
	if o.protocols != nil {
		d.Subprotocols = o.protocols
	}
	if rest, ok := strings.CutPrefix(url, "http"); ok {
		url = "ws" + rest // http:// becomes ws://, https:// becomes wss://
	}
	ws, resp, err := d.DialContext(ctx, url, o.header)
	if err != nil {
		return nil, resp, fmt.Errorf("wstest: dial %s: %w", url, err)
	}
	return &Client{t: panicTB{}, ws: ws, timeout: o.timeout}, resp, nil
}

// Bind makes c fail t instead of panicking, and closes c when t ends, for
// clients made by [TryDial]. It returns c, so it chains after TryDial.
func (c *Client) Bind(t testing.TB) *Client {
	c.t = t
	t.Cleanup(c.Close)
	return c
}

// panicTB is the [testing.TB] of a Client no test owns: it turns a failure
// into a panic, which examples and programs see plainly.
type panicTB struct{ testing.TB }

func (panicTB) Helper() {}

func (panicTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Conn returns the underlying connection, as an escape hatch for what the
// Client does not cover, such as a client that stops reading or custom
// ping handling. Writing to it and setting its handlers is fine. Once an
// Expect method or EmitWithAck has been called, a read may still be in
// flight, so the test must not read from Conn itself any more.
func (c *Client) Conn() *websocket.Conn { return c.ws }

// Close sends a normal close frame (1000) and closes the TCP connection
// without waiting for the server's answer, like a client saying goodbye.
// It is safe to call more than once and from any goroutine.
func (c *Client) Close() { c.CloseWith(websocket.CloseNormalClosure, "") }

// CloseWith is [Client.Close] with another close code and reason, such as
// 1001 for a browser tab that navigates away or 4000 for an app's own code.
func (c *Client) CloseWith(code int, reason string) {
	c.shutdown(func() {
		msg := websocket.FormatCloseMessage(code, reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.timeout))
	})
}

// Abort closes the TCP connection without a close frame, resetting it where
// the connection is TCP, to simulate a client that crashed or lost its
// network. It is safe to call more than once and from any goroutine.
func (c *Client) Abort() {
	c.shutdown(func() {
		if tcp, ok := c.ws.NetConn().(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // close sends RST instead of FIN
		}
	})
}

// shutdown runs goodbye and closes the connection the first time it is
// called, and waits until no read is left in flight.
func (c *Client) shutdown(goodbye func()) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	goodbye()
	_ = c.ws.Close()
	c.reads.Wait()
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// read returns the next frame from the connection, or false when deadline
// passes first. It never sets a read deadline on the connection, because
// gorilla makes a read timeout permanent, and ExpectNoEvent must be able to
// wait in vain; instead the read runs in a goroutine, and a read that
// outlives its caller is picked up by the next call. Close ends it.
func (c *Client) read(deadline time.Time) (frame, bool) {
	if c.readErr != nil {
		return frame{err: c.readErr}, true
	}
	if c.pending == nil {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			c.readErr = errClosed
			return frame{err: errClosed}, true
		}
		c.reads.Add(1)
		c.mu.Unlock()
		ch := make(chan frame, 1)
		go func() {
			defer c.reads.Done()
			ch <- newFrame(c.ws.ReadMessage())
		}()
		c.pending = ch
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case f := <-c.pending:
		c.pending = nil
		var ce *websocket.CloseError
		if f.err != nil && !errors.As(f.err, &ce) && c.isClosed() {
			f.err = errClosed // not a network failure: the test closed c meanwhile
		}
		c.readErr = f.err
		return f, true
	case <-timer.C:
		return frame{}, false
	}
}
