package core

import (
	"errors"
	"io"
	"time"
)

// readFirstMessage reads the connection's first message, before its read
// loop starts, waiting at most timeout: the recover message of a client
// that asked to recover its session. It is the one place recovery reads
// from the socket; it uses the connection's reading API (gorilla's
// NextReader today) and is to be pointed at the new reader when the read
// path changes. After a read timeout or error the connection cannot be read
// again, and its read loop ends it.
func readFirstMessage(c *Conn, timeout time.Duration) (int, []byte, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	mt, r, err := c.ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, c.hub.cfg.ReadLimit+1))
	if err != nil {
		return 0, nil, err
	}
	if int64(len(data)) > c.hub.cfg.ReadLimit {
		return 0, nil, errors.New("rushws: first message over the read limit")
	}
	_ = c.ws.SetReadDeadline(time.Time{})
	c.lastSeen.Store(time.Now().UnixNano())
	return mt, data, nil
}

// readLoopAfterHeld handles the message prepareSession read first, when it
// was not a recover message, then runs the read loop.
func (c *Conn) readLoopAfterHeld() {
	if s := c.sess; s != nil && s.first != nil {
		first := s.first
		s.first = nil
		if err := c.handle(first.mt, first.data, nil); err != nil {
			c.finish(err)
			return
		}
	}
	c.readLoop()
}
