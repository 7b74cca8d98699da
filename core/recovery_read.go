package core

import (
	"errors"
	"time"
)

// readFirstMessage reads the connection's first message, before its
// reader starts, waiting at most timeout: the recover message of a client
// that asked to recover its session. Control frames met on the way are
// handled as usual; bytes read past the message are handed back to the
// reader (as frames sent with the handshake are).
func readFirstMessage(c *Conn, timeout time.Duration) (int, []byte, error) {
	w := c.wire
	_ = w.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = w.Conn.SetReadDeadline(time.Time{}) }()
	var held heldMessage
	c.sess.holdNext = &held
	defer func() { c.sess.holdNext = nil }()
	b := getBurst(c.hub.cfg.ReadBufferSize)
	defer putBurst(b)
	for {
		err := c.readFrame(b)
		c.midDeadline = false
		switch {
		case err == errHeld:
			if b.w > b.r {
				w.prefix = append(append([]byte(nil), b.buf[b.r:b.w]...), w.prefix...)
			}
			c.lastSeen.Store(time.Now().UnixNano())
			return held.mt, held.data, nil
		case err == errNothing:
			b.short = false // read again once the socket has input
			if err := w.waitReadable(); err != nil {
				return 0, nil, err
			}
		case err != nil:
			return 0, nil, err
		}
	}
}

// errHeld ends readFrame when it has kept a message for readFirstMessage.
var errHeld = errors.New("rushws: message held")

// handleHeld dispatches the message prepareSession read first, when it was
// not a recover message, before anything read after it.
func (c *Conn) handleHeld() error {
	s := c.sess
	if s == nil || s.first == nil {
		return nil
	}
	first := s.first
	s.first = nil
	return c.handle(first.mt, first.data)
}
