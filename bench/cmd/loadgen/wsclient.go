package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// wsConn is a minimal WebSocket client, lighter than a full library so the
// load generator's own CPU stays low: a fixed handshake, server frames parsed
// from a small buffer, and client frames masked with a zero key.
type wsConn struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
	buf []byte // payload of the last frame read
}

var errNotUpgraded = errors.New("handshake not answered with 101")

// dialer dials from rotating source addresses 127.0.0.2 to 127.0.0.254, so
// tens of thousands of connections do not run out of ports.
type dialer struct {
	addr string
	next uint32
	mu   sync.Mutex
}

func (d *dialer) source() net.IP {
	d.mu.Lock()
	i := d.next
	d.next++
	d.mu.Unlock()
	return net.IPv4(127, 0, 0, byte(2+i%253))
}

func (d *dialer) dial(ctx context.Context, path string, rcvbuf int) (*wsConn, error) {
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: d.source()}, Timeout: 10 * time.Second}
	if rcvbuf > 0 {
		nd.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + d.addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	status, err := br.ReadSlice('\n')
	if err != nil {
		nc.Close()
		return nil, err
	}
	if !bytes.Contains(status, []byte(" 101 ")) {
		nc.Close()
		return nil, fmt.Errorf("%w: %q", errNotUpgraded, bytes.TrimSpace(status))
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			nc.Close()
			return nil, err
		}
		if len(line) <= 2 {
			break
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return &wsConn{nc: nc, br: br}, nil
}

const (
	opText   = 1
	opBinary = 2
	opClose  = 8
	opPing   = 9
	opPong   = 10
)

// readFrame returns the next data frame's opcode and payload (valid until
// the next call), answering pings on the way. Fragmented messages are not
// expected from these servers and are returned frame by frame.
func (c *wsConn) readFrame() (int, []byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, nil, err
		}
		op := int(h[0] & 0x0f)
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("server frame is masked")
		}
		if n > 1<<24 {
			return 0, nil, errors.New("frame too large")
		}
		if uint64(cap(c.buf)) < n {
			c.buf = make([]byte, n)
		}
		p := c.buf[:n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		switch op {
		case opPing:
			if err := c.write(opPong, p); err != nil {
				return 0, nil, err
			}
		case opPong:
		case opClose:
			return opClose, p, io.EOF
		default:
			return op, p, nil
		}
	}
}

// write sends one masked frame (zero mask key, so the payload goes out as
// is). Safe for concurrent use.
func (c *wsConn) write(op int, p []byte) error {
	var hdr [14]byte
	hdr[0] = 0x80 | byte(op)
	n := 2
	switch {
	case len(p) < 126:
		hdr[1] = 0x80 | byte(len(p))
	case len(p) <= 0xffff:
		hdr[1] = 0x80 | 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(len(p)))
		n = 4
	default:
		hdr[1] = 0x80 | 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(len(p)))
		n = 10
	}
	n += 4 // the zero mask key
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(p) < 512 {
		var b [512 + 14]byte
		m := copy(b[:], hdr[:n])
		m += copy(b[m:], p)
		_, err := c.nc.Write(b[:m])
		return err
	}
	bufs := net.Buffers{hdr[:n], p}
	_, err := bufs.WriteTo(c.nc)
	return err
}

func (c *wsConn) close() { _ = c.nc.Close() }
