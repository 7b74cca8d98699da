package rawws

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Conn is one client connection over a net.Conn: the handshake written by
// hand, frames written as given, and frames read as the server sent them.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
}

// NewConn wraps a connection whose handshake is done (or that a test feeds
// frames without one, such as one end of net.Pipe).
func NewConn(nc net.Conn) *Conn { return &Conn{nc: nc, br: bufio.NewReader(nc)} }

// ErrNotUpgraded is returned by Handshake when the server answered with a
// status other than 101; the *HandshakeError carries it.
var ErrNotUpgraded = errors.New("rawws: handshake not answered with 101")

// HandshakeError reports a refused handshake: the status line and what the
// body started with.
type HandshakeError struct {
	Status int
	Line   string
}

// Error implements error.
func (e *HandshakeError) Error() string { return fmt.Sprintf("%v: %q", ErrNotUpgraded, e.Line) }

// Unwrap returns ErrNotUpgraded.
func (e *HandshakeError) Unwrap() error { return ErrNotUpgraded }

// Request returns an opening handshake for path on host, with a fresh key
// (returned too), and extra header lines.
func Request(host, path string, header http.Header) (req []byte, key string) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key = base64.StdEncoding.EncodeToString(k[:])
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, host, key)
	_ = header.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes(), key
}

// AcceptKey returns the Sec-WebSocket-Accept value that answers key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// Dial connects to addr (host:port) and completes the opening handshake for
// path, within timeout.
func Dial(addr, path string, header http.Header, timeout time.Duration) (*Conn, error) {
	return DialEarly(addr, path, header, nil, timeout)
}

// DialEarly is Dial, but writes early right after the handshake request in
// the same write, as a client that does not wait for the 101 would; the
// server may refuse that.
func DialEarly(addr, path string, header http.Header, early []byte, timeout time.Duration) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := NewConn(nc)
	if err := c.Handshake(addr, path, header, early, timeout); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Handshake writes the opening handshake (and early, in the same write)
// and reads the response, checking the 101 status and the accept key.
func (c *Conn) Handshake(host, path string, header http.Header, early []byte, timeout time.Duration) error {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	req, key := Request(host, path, header)
	if _, err := c.nc.Write(append(req, early...)); err != nil {
		return err
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		res.Body.Close()
		return &HandshakeError{Status: res.StatusCode, Line: strings.TrimSpace(res.Status + " " + string(body))}
	}
	if got := res.Header.Get("Sec-Websocket-Accept"); got != AcceptKey(key) {
		return fmt.Errorf("rawws: Sec-WebSocket-Accept %q does not answer the key", got)
	}
	return nil
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// Write writes b as is.
func (c *Conn) Write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// WriteFrames writes the frames in one write.
func (c *Conn) WriteFrames(frames ...Frame) error { return c.Write(Join(frames...)) }

// WriteChopped writes b in pieces of at most n bytes, one write each, so
// the server reads frames split across TCP segments.
func (c *Conn) WriteChopped(b []byte, n int) error {
	for len(b) > 0 {
		k := min(n, len(b))
		if err := c.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

// SetDeadline sets the read and write deadline of the connection.
func (c *Conn) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// ReadFrame reads the next frame from the server as it is, control frames
// included.
func (c *Conn) ReadFrame() (Frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, Rsv: h[0] >> 4 & 7, Op: h[0] & 0x0f, Masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return Frame{}, fmt.Errorf("rawws: server frame of %d bytes", n)
	}
	var key [4]byte
	if f.Masked {
		if _, err := io.ReadFull(c.br, key[:]); err != nil {
			return Frame{}, err
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.Payload); err != nil {
		return Frame{}, err
	}
	if f.Masked {
		for i := range f.Payload {
			f.Payload[i] ^= key[i&3]
		}
	}
	return f, nil
}

// Message is one data message read from the server, its fragments joined.
type Message struct {
	Op      byte
	Payload []byte
}

// Result is what the server sent until it closed: data messages, pongs,
// and how it closed.
type Result struct {
	// Messages are the data messages, in order.
	Messages []Message
	// Pongs are the payloads of the pongs, in order.
	Pongs [][]byte
	// Pings counts the server's pings (answered by Drain).
	Pings int
	// Code and Reason are the server's close code and reason: 1005 for a
	// close frame without a code, 1006 when the connection ended without a
	// close frame.
	Code   int
	Reason string
	// Err is the read error that ended the connection without a close
	// frame, or the first protocol error the server made (a masked frame,
	// reserved bits, a malformed close frame, data after the close frame).
	Err error
}

// Drain reads until the server closes or timeout passes, answering pings
// and the server's close frame as a client does, and then closes the
// connection.
func (c *Conn) Drain(timeout time.Duration) Result {
	defer c.Close()
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	res := Result{Code: CloseAbnormal}
	var frag *Message
	fail := func(err error) {
		if res.Err == nil {
			res.Err = err
		}
	}
	for {
		f, err := c.ReadFrame()
		if err != nil {
			fail(err)
			return res
		}
		if f.Masked || f.Rsv != 0 {
			fail(fmt.Errorf("rawws: server frame masked=%v rsv=%d", f.Masked, f.Rsv))
		}
		switch f.Op {
		case OpClose:
			code, reason, ok := ParseClose(f.Payload)
			if !ok {
				fail(fmt.Errorf("rawws: malformed close payload %q", f.Payload))
			}
			res.Code, res.Reason = code, reason
			echo := []byte(nil)
			if code != CloseNoStatus {
				echo = ClosePayload(uint16(code), "")
			}
			_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = c.WriteFrames(Close(echo))
			return res
		case OpPing:
			res.Pings++
			_ = c.WriteFrames(Pong(f.Payload))
		case OpPong:
			res.Pongs = append(res.Pongs, f.Payload)
		case OpText, OpBinary:
			if frag != nil {
				fail(errors.New("rawws: server started a message inside another"))
			}
			frag = &Message{Op: f.Op, Payload: f.Payload}
		case OpContinuation:
			if frag == nil {
				fail(errors.New("rawws: server sent a continuation without a message"))
				continue
			}
			frag.Payload = append(frag.Payload, f.Payload...)
		default:
			fail(fmt.Errorf("rawws: server sent opcode %d", f.Op))
		}
		if frag != nil && f.Fin && f.Op <= OpBinary {
			res.Messages = append(res.Messages, *frag)
			frag = nil
		}
	}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Reset closes the connection with a TCP reset instead of a FIN, as a
// client whose machine or network fails.
func (c *Conn) Reset() error {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return c.nc.Close()
}
