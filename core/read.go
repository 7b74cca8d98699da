package core

import (
	"errors"
	"time"
)

// startReading hands the connection, upgraded and through its route
// handler, to its reader: parked on the hub's poller (read by a goroutine
// only when input arrives), or a read goroutine of its own.
func (c *Conn) startReading() {
	if c.poll == nil {
		go c.readLoop()
		return
	}
	if len(c.wire.prefix) > 0 || c.sess != nil && c.sess.first != nil {
		// Frames came with the handshake, or a message was read before the
		// route handler: handle them first.
		go c.readReady()
		return
	}
	c.reading.Store(false)
	if err := c.poll.add(c); err != nil && c.reading.CompareAndSwap(false, true) {
		c.hub.log.Debug("rushws: cannot park connection", "conn", c.id, "err", err)
		go c.finish(err)
	}
}

// readReady reads and dispatches what a parked connection received, then
// parks it again; it runs on a goroutine the poller started.
func (c *Conn) readReady() {
	err := c.handleHeld()
	if err == nil {
		err = c.readBurst()
	}
	if err != nil {
		c.finish(err)
		return
	}
	c.reading.Store(false)
	if err := c.poll.arm(c); err != nil && c.reading.CompareAndSwap(false, true) {
		c.finish(err) // the socket closed as the connection parked
	}
}

// readLoop is the connection's read goroutine in goroutine mode: it waits
// for input (holding no buffer where the socket allows), reads and
// dispatches it, and finishes the connection when the peer or the server
// ends it.
func (c *Conn) readLoop() {
	err := c.handleHeld()
	for err == nil {
		if len(c.wire.prefix) == 0 { // else frames came with the handshake
			err = c.wire.waitReadable()
		}
		if err == nil {
			err = c.readBurst()
		}
	}
	c.finish(err)
}

// handle dispatches one message read into data, then writes what its
// handlers queued. A non-nil result ends the read loop and is what the
// connection finishes with.
func (c *Conn) handle(mt int, data []byte) error {
	h := c.hub
	c.lastSeen.Store(time.Now().UnixNano())
	h.stats.messagesIn.Add(1)
	h.stats.bytesIn.Add(uint64(len(data)))
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
	if mt == TextMessage {
		return c.dispatchText(data)
	}
	return c.dispatchRaw(mt, data, CodeBadRequest, "binary messages are not accepted")
}

// onPing answers a ping through the send queue, after what is queued, so
// the pong never lands inside a batch of frames.
func (c *Conn) onPing(data []byte) {
	c.lastSeen.Store(time.Now().UnixNano())
	_ = c.enqueue(controlOut(opPong, data), false)
}

// onPong records a pong: the peer is alive, and the ping's round trip.
func (c *Conn) onPong() {
	now := time.Now().UnixNano()
	c.lastSeen.Store(now)
	if sent := c.pingSent.Swap(0); sent > 0 && now > sent {
		c.hub.stats.recordRTT(time.Duration(now - sent))
	}
}
