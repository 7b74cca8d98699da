package core

import (
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// closeGrace is how long a closing connection waits for the peer's close
// frame before the TCP connection is dropped.
const closeGrace = 2 * time.Second

// slowCloseGrace bounds the write in flight when a slow consumer is closed,
// so its buffers are released soon.
const slowCloseGrace = time.Second

type outKind uint8

const (
	kindText outKind = iota
	kindBinary
	kindPrepared
	kindPing
	kindClose
)

// outbound is one queued frame. Broadcasts share one PreparedMessage among
// every recipient; n is the payload size counted against the byte bound.
type outbound struct {
	kind outKind
	data []byte
	pm   *websocket.PreparedMessage
	n    int
}

// Send queues a text message. It never blocks: when the queue is full the
// hub's slow-consumer policy applies and ErrQueueFull is returned.
func (c *Conn) Send(text string) error {
	if !utf8.ValidString(text) {
		return ErrInvalidUTF8
	}
	return c.enqueue(outbound{kind: kindText, data: []byte(text), n: len(text)}, true)
}

// SendBinary queues a binary message. data is copied.
func (c *Conn) SendBinary(data []byte) error {
	b := append([]byte(nil), data...)
	return c.enqueue(outbound{kind: kindBinary, data: b, n: len(b)}, true)
}

// SendJSON queues v encoded as JSON in a text message.
func (c *Conn) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.enqueue(outbound{kind: kindText, data: b, n: len(b)}, true)
}

// Emit queues the event message {"event":event,"data":data}.
func (c *Conn) Emit(event string, data any) error {
	b, err := encodeEvent(event, data, 0)
	if err != nil {
		return err
	}
	return c.enqueue(outbound{kind: kindText, data: b, n: len(b)}, true)
}

// enqueue adds o to the send queue without blocking and starts the writer
// when none runs. limited says whether the queue bounds apply.
func (c *Conn) enqueue(o outbound, limited bool) error {
	cfg := &c.hub.cfg
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.queued > 0 && (c.queued >= cfg.SendQueueMessages || c.queueBytes+o.n > cfg.SendQueueBytes) {
		if !limited { // a ping to a backed-up peer: the queue itself will tell
			c.mu.Unlock()
			return nil
		}
		err := c.fullLocked()
		c.mu.Unlock()
		return err
	}
	c.queue = append(c.queue, o)
	if o.kind <= kindPrepared {
		c.queued++
		c.queueBytes += o.n
	}
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// fullLocked applies the slow-consumer policy. c.mu is held.
func (c *Conn) fullLocked() error {
	h := c.hub
	if h.cfg.SlowConsumer == SlowDrop {
		h.stats.drops.Add(1)
		if !c.warnedSlow {
			c.warnedSlow = true
			h.log.Warn("rushws: send queue full, dropping messages", "conn", c.id, "ip", c.ip)
		}
		return ErrQueueFull
	}
	h.stats.slowCloses.Add(1)
	h.log.Warn("rushws: send queue full, closing slow consumer", "conn", c.id, "ip", c.ip)
	c.state = stateClosing
	c.closeCode, c.closeReason = ClosePolicyViolation, "slow consumer"
	clear(c.queue)
	c.queue = append(c.queue[:0], outbound{kind: kindClose, data: websocket.FormatCloseMessage(ClosePolicyViolation, "slow consumer")})
	// Cut the write in flight short: the peer is not reading.
	c.abandon.Store(true)
	if c.ws != nil {
		_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(slowCloseGrace))
	}
	return ErrQueueFull
}

// startWriterLocked reports whether the caller must start the writer, and
// marks it running. c.mu is held.
func (c *Conn) startWriterLocked() bool {
	if c.writing || c.ws == nil || len(c.queue) == 0 || c.state == stateClosed {
		return false
	}
	if c.deferWrite && !c.queueHalfFullLocked() {
		return false // the read goroutine writes it when the handler returns
	}
	c.writing = true
	return true
}

// queueHalfFullLocked reports whether the queue holds half its bound or
// more. c.mu is held.
func (c *Conn) queueHalfFullLocked() bool {
	cfg := &c.hub.cfg
	return 2*c.queued >= cfg.SendQueueMessages || 2*c.queueBytes >= cfg.SendQueueBytes
}

// writeDeferred ends the deferral begun when the read goroutine started to
// dispatch a message, and writes what was queued meanwhile (the handler's
// replies, mostly) on the read goroutine itself: one batch, with a writer
// goroutine taking over when more is queued. An echo or an ack reply then
// costs no goroutine start.
func (c *Conn) writeDeferred() {
	c.mu.Lock()
	c.deferWrite = false
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.drain(true)
	}
}

// closeGraceful queues a close frame after the messages already queued.
func (c *Conn) closeGraceful(code int, reason string) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	c.closeCode, c.closeReason = code, reason
	c.queue = append(c.queue, outbound{kind: kindClose, data: websocket.FormatCloseMessage(code, truncateReason(reason))})
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// kill drops the TCP connection at once; the read loop then finishes the
// connection. code and reason are what OnClose handlers see.
func (c *Conn) kill(code int, reason string) {
	c.mu.Lock()
	if c.state == stateOpen {
		c.state = stateClosing
		c.closeCode, c.closeReason = code, reason
	}
	c.mu.Unlock()
	if c.ws != nil {
		_ = c.ws.NetConn().Close()
	}
}

// writeLoop is the writer goroutine: it drains the send queue and exits
// when it is empty. At most one writer runs per connection (c.writing), so
// gorilla's one-writer rule holds.
func (c *Conn) writeLoop() { c.drain(false) }

// drain writes the send queue until it is empty; the caller has set
// c.writing. inline means it runs on the read goroutine, which writes one
// batch and then hands the rest to a writer goroutine, so that it soon
// reads again (pongs, the peer's close frame).
func (c *Conn) drain(inline bool) {
	h := c.hub
	c.mu.Lock() // held at the top of every round
	for first := true; ; first = false {
		batch := c.queue
		if inline && !first && len(batch) > 0 && c.state != stateClosed {
			c.mu.Unlock()
			go c.writeLoop() // c.writing stays set: the writer goroutine owns it now
			return
		}
		if len(batch) == 0 || c.state == stateClosed {
			c.queue, c.queued, c.queueBytes = nil, 0, 0
			c.writing = false
			if c.writerDone != nil {
				close(c.writerDone)
				c.writerDone = nil
			}
			c.mu.Unlock()
			return
		}
		c.queue = nil
		c.mu.Unlock()

		deadline := time.Now().Add(h.cfg.WriteTimeout)
		_ = c.ws.SetWriteDeadline(deadline)
		var msgs, bytes uint64
		stop := false
		for i := range batch {
			o := &batch[i]
			if o.kind != kindClose && c.abandon.Load() {
				break // closed as a slow consumer: only the close frame is left to send
			}
			var err error
			switch o.kind {
			case kindText:
				err = c.ws.WriteMessage(websocket.TextMessage, o.data)
			case kindBinary:
				err = c.ws.WriteMessage(websocket.BinaryMessage, o.data)
			case kindPrepared:
				err = c.ws.WritePreparedMessage(o.pm)
			case kindPing:
				err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
			case kindClose:
				err = c.ws.WriteControl(websocket.CloseMessage, o.data, time.Now().Add(slowCloseGrace))
				// Give the peer a moment to answer, then the read
				// loop's deadline ends the connection.
				_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
				stop = true
			}
			if o.kind <= kindPrepared && err == nil {
				msgs++
				bytes += uint64(o.n)
			}
			if err != nil {
				// The peer is gone or too slow: end the connection; the
				// read loop notices and cleans up.
				c.kill(CloseAbnormal, "write failed")
				stop = true
			}
			if stop {
				break
			}
		}
		h.stats.messagesOut.Add(msgs)
		h.stats.bytesOut.Add(bytes)
		counted, countedBytes := 0, 0
		for i := range batch {
			if batch[i].kind <= kindPrepared {
				counted++
				countedBytes += batch[i].n
			}
		}
		clear(batch)

		c.mu.Lock()
		c.queued -= counted
		c.queueBytes -= countedBytes
		if stop {
			clear(c.queue)
			c.queue = nil
			if c.state == stateOpen {
				c.state = stateClosing
			}
		}
		if c.state != stateOpen || c.queued < 0 {
			c.queued, c.queueBytes = 0, 0 // nothing more is accepted; keep the counts sane
		}
	}
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows, without splitting a UTF-8 sequence.
func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:123]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
