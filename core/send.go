package core

import (
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rushws/rushws/internal/quote"
)

// maxWritev bounds the bytes handed to one writev, so the writer notices a
// stalled peer (and records progress) in steps of this size.
const maxWritev = 256 << 10

// outbound is one queued frame, framed once. Broadcasts share one frame
// among every recipient.
type outbound struct {
	frame []byte // the whole frame, header included; never modified once queued
	hdr   uint8  // header length: the payload is frame[hdr:]
	op    uint8  // the frame's opcode
	n     int    // payload bytes of a data frame, 0 for a control frame
}

// payload returns the frame's payload, for gorilla's compressed path.
func (o *outbound) payload() []byte { return o.frame[o.hdr:] }

// isData reports whether o is a text or binary message.
func (o *outbound) isData() bool { return o.op < opClose }

// dataOut frames payload (copied) as a message of the given opcode.
func dataOut(op byte, payload []byte) outbound {
	return outbound{frame: newFrame(op, payload), hdr: uint8(headerLen(len(payload))), op: op, n: len(payload)}
}

// sealedOut seals a frameBuf built in place as a message.
func sealedOut(b frameBuf, op byte) outbound {
	n := len(b) - maxHeader
	return outbound{frame: b.seal(op), hdr: uint8(headerLen(n)), op: op, n: n}
}

// controlOut frames a control frame.
func controlOut(op byte, payload []byte) outbound {
	return outbound{frame: newFrame(op, payload), hdr: 2, op: op}
}

// closeOut frames a close frame with code and reason.
func closeOut(code int, reason string) outbound {
	// A close frame's reason must be UTF-8 (RFC 6455 7.1.6): a browser
	// fails the connection on anything else.
	reason = quote.Cut(strings.ToValidUTF8(reason, ""), maxCloseReason)
	p := make([]byte, 2, 2+len(reason))
	p[0], p[1] = byte(code>>8), byte(code)
	return controlOut(opClose, append(p, reason...))
}

// newShared frames a message once for many recipients.
func newShared(mt int, data []byte) (outbound, error) {
	if mt != TextMessage && mt != BinaryMessage {
		return outbound{}, errors.New("rushws: unknown message type")
	}
	return dataOut(opcodeOf(mt), data), nil
}

// Send queues a text message. It never blocks: when the queue is full the
// hub's slow-consumer policy applies and ErrQueueFull is returned.
func (c *Conn) Send(text string) error {
	if !utf8.ValidString(text) {
		return ErrInvalidUTF8
	}
	b := append(newFrameBuf(len(text)), text...)
	return c.enqueue(sealedOut(b, opText), true)
}

// SendBinary queues a binary message. data is copied.
func (c *Conn) SendBinary(data []byte) error {
	return c.enqueue(dataOut(opBinary, data), true)
}

// SendJSON queues v encoded as JSON in a text message.
func (c *Conn) SendJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.enqueue(dataOut(opText, b), true)
}

// Emit queues the event message {"event":event,"data":data}. With
// recovery on it is kept in the connection's history, like a send through
// Hub.ToIDs, so a client that reconnects gets it if it was missed.
func (c *Conn) Emit(event string, data any) error {
	if c.sess != nil {
		_, err := c.hub.ToIDs(c.id).Emit(event, data)
		return err
	}
	b, err := appendEvent(newFrameBuf(64), event, data, 0)
	if err != nil {
		return err
	}
	return c.enqueue(sealedOut(b, opText), true)
}

// enqueue adds o to the send queue without blocking and starts the writer
// when none runs. limited says whether the slow-consumer policy applies;
// control frames and a connection's replies to its own messages are not
// limited (reads pause instead, see pauseIfBehind).
func (c *Conn) enqueue(o outbound, limited bool) error {
	start, err := c.push(o, limited)
	if start {
		go c.writeLoop()
	}
	return err
}

// push is enqueue without starting the writer: start reports that the
// caller must (the writer role is claimed for it).
func (c *Conn) push(o outbound, limited bool) (start bool, err error) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false, ErrClosed
	}
	size := len(o.frame)
	if c.queueBytes > 0 && c.overLocked(size) {
		if !o.isData() && o.op != opClose { // a ping or pong to a backed-up peer: the queue itself will tell
			c.mu.Unlock()
			return false, nil
		}
		if limited && c.fullLocked(size) {
			err := c.applyPolicyLocked()
			after := c.afterClosingLocked()
			c.mu.Unlock()
			after()
			return false, err
		}
	}
	c.appendLocked(o)
	c.queueBytes += size
	if o.isData() {
		c.queued++
	}
	start = c.startWriterLocked()
	c.mu.Unlock()
	return start, nil
}

// queueChunk is the capacity of the queue arrays that writers recycle: a
// broadcast to idle members then allocates no queue array per member.
const queueChunk = 4

// queuePool holds empty queue arrays of queueChunk frames.
var queuePool = sync.Pool{New: func() any { return new([queueChunk]outbound) }}

// appendLocked adds o to the queue, taking a recycled array for an empty
// one. c.mu is held.
func (c *Conn) appendLocked(o outbound) {
	if cap(c.queue) == 0 {
		c.queue = queuePool.Get().(*[queueChunk]outbound)[:0]
	}
	c.queue = append(c.queue, o)
}

// recycleQueue gives back a queue array nothing refers to any more.
func recycleQueue(q []outbound) {
	if cap(q) == queueChunk {
		a := (*[queueChunk]outbound)(q[:queueChunk])
		clear(a[:])
		queuePool.Put(a)
	}
}

// overLocked reports whether adding size bytes takes the queue over its
// bound. c.mu is held.
func (c *Conn) overLocked(size int) bool {
	cfg := &c.hub.cfg
	return c.queueBytes+size > cfg.SendQueueBytes || c.queued >= cfg.SendQueueMessages
}

// fullLocked reports whether a queue over its bound is full: its socket has
// accepted nothing for SlowConsumerGrace, or it holds twice its bound. A
// peer that is reading gets the grace to catch up on a burst. c.mu is held.
func (c *Conn) fullLocked(size int) bool {
	cfg := &c.hub.cfg
	if c.queueBytes+size > 2*cfg.SendQueueBytes || c.queued >= 2*cfg.SendQueueMessages {
		return true
	}
	started := c.writeStart.Load()
	return started != 0 && time.Now().UnixNano()-started > int64(cfg.SlowConsumerGrace)
}

// applyPolicyLocked applies the slow-consumer policy to a full queue and
// returns ErrQueueFull. c.mu is held; the caller runs afterClosingLocked's
// result after unlocking.
func (c *Conn) applyPolicyLocked() error {
	h := c.hub
	if h.cfg.SlowConsumer == SlowDrop {
		h.stats.drops.Add(1)
		if !c.warnedSlow {
			c.warnedSlow = true
			h.log.Warn("rushws: send queue full, dropping messages", "conn", c.id, "ip", c.ip,
				"queuedBytes", c.queueBytes)
		}
		return ErrQueueFull
	}
	c.slowCloseLocked()
	return ErrQueueFull
}

// slowCloseLocked closes a slow consumer: what is queued is dropped, the
// frame in flight is completed, then 1008 "slow consumer" is sent, all
// within WriteTimeout. c.mu is held and the state is open.
func (c *Conn) slowCloseLocked() {
	h := c.hub
	h.stats.slowCloses.Add(1)
	h.log.Warn("rushws: peer not reading, closing slow consumer", "conn", c.id, "ip", c.ip,
		"queuedBytes", c.queueBytes)
	c.beginClosingLocked(ClosePolicyViolation, "slow consumer")
	c.dropQueueLocked()
	c.queue = append(c.queue, closeOut(ClosePolicyViolation, "slow consumer"))
	c.abandon.Store(true)
	if c.wire != nil {
		c.wire.interrupt() // the writer completes its frame in flight, then closes
	}
	if start := c.startWriterLocked(); start {
		go c.writeLoop()
	}
}

// dropQueueLocked forgets what is queued. c.mu is held.
func (c *Conn) dropQueueLocked() {
	clear(c.queue)
	c.queue = c.queue[:0]
	c.queued, c.queueBytes = 0, 0
}

// startWriterLocked reports whether the caller must start the writer, and
// marks it running. c.mu is held.
func (c *Conn) startWriterLocked() bool {
	if c.writing || c.wire == nil || len(c.queue) == 0 || c.state == stateClosed {
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
// costs no extra goroutine.
func (c *Conn) writeDeferred() {
	c.mu.Lock()
	c.deferWrite = false
	start := c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.drain(true)
	}
}

// pauseIfBehind stops the read goroutine while the connection's writer is
// behind: more than a quarter of the queue's bound waits. The client is then
// not read, so TCP slows it down and nobody else; it resumes once the writer
// is down to an eighth, or has stopped.
func (c *Conn) pauseIfBehind() {
	c.mu.Lock()
	if !c.writing || c.state != stateOpen || 4*c.queueBytes <= c.hub.cfg.SendQueueBytes {
		c.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	c.resume = ch
	c.mu.Unlock()
	c.hub.stats.pauses.Add(1)
	<-ch
}

// resumeLocked wakes a paused read goroutine when the writer has caught up
// or stops. c.mu is held.
func (c *Conn) resumeLocked(stopping bool) {
	if c.resume != nil && (stopping || 8*c.queueBytes <= c.hub.cfg.SendQueueBytes) {
		close(c.resume)
		c.resume = nil
	}
}

// endWriterLocked ends the writer role: what is left is dropped (the queue
// is empty or the connection closed), and an idle connection keeps no queue
// array. A paused read goroutine and finish, waiting for the writer, are
// woken. c.mu is held.
func (c *Conn) endWriterLocked() {
	c.dropQueueLocked()
	recycleQueue(c.queue)
	recycleQueue(c.spare)
	c.queue, c.spare = nil, nil
	c.writing = false
	c.resumeLocked(true)
	if c.writerDone != nil {
		close(c.writerDone)
		c.writerDone = nil
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
		if inline && !first && len(c.queue) > 0 && c.state != stateClosed {
			c.mu.Unlock()
			go c.writeLoop() // c.writing stays set: the writer goroutine owns it now
			return
		}
		if len(c.queue) == 0 || c.state == stateClosed {
			c.endWriterLocked()
			c.mu.Unlock()
			return
		}
		batch := c.queue
		c.queue = c.spare[:0]
		c.spare = nil
		queuedBytes := c.queueBytes
		c.mu.Unlock()

		h.stats.observeQueue(queuedBytes)
		msgs, bytes, ok := c.writeBatch(batch)
		h.stats.messagesOut.Add(msgs)
		h.stats.bytesOut.Add(bytes)
		counted, size := 0, 0
		for i := range batch {
			if batch[i].isData() {
				counted++
			}
			size += len(batch[i].frame)
		}
		clear(batch)

		c.mu.Lock()
		if c.spare == nil && cap(batch) <= 64 {
			c.spare = batch[:0]
		}
		c.queued -= counted
		c.queueBytes -= size
		if !ok {
			c.dropQueueLocked()
			c.beginClosingLocked(CloseAbnormal, "write failed")
		}
		if c.state != stateOpen || c.queued < 0 || c.queueBytes < 0 {
			c.queued, c.queueBytes = max(c.queued, 0), max(c.queueBytes, 0)
		}
		c.resumeLocked(false)
	}
}

// writeBatch writes one batch of frames and returns the messages and
// payload bytes that left. ok is false when the connection must not be
// written to again.
func (c *Conn) writeBatch(batch []outbound) (msgs, bytes uint64, ok bool) {
	if c.compress {
		for i := range batch {
			batch[i] = compressed(batch[i])
		}
	}
	w := c.wire
	timeout := c.hub.cfg.WriteTimeout
	bp := buffersPool.Get().(*net.Buffers)
	defer func() {
		clear((*bp)[:cap(*bp)])
		*bp = (*bp)[:0]
		buffersPool.Put(bp)
	}()
	for i := 0; i < len(batch); {
		if c.abandon.Load() {
			return msgs, bytes, c.finishAbandoned(nil, batch[i:])
		}
		// One writev: frames up to maxWritev bytes (at least one), up to and
		// including a close frame.
		j, size, closing := i, 0, false
		for j < len(batch) && (j == i || size+len(batch[j].frame) <= maxWritev) {
			size += len(batch[j].frame)
			j++
			if batch[j-1].op == opClose {
				closing = true
				break
			}
		}
		if closing && w.closeSent.Load() {
			j-- // a close frame has been sent already (gorilla's reply)
			closing = false
			if j == i {
				return msgs, bytes, false
			}
		}
		bufs := (*bp)[:0]
		for k := i; k < j; k++ {
			bufs = append(bufs, batch[k].frame)
		}
		*bp = bufs[:0] // keep what it grew to
		group := len(bufs)
		now := time.Now()
		c.writeStart.Store(now.UnixNano())
		_, err := w.writeFrames(&bufs, now.Add(timeout), &c.abandon)
		c.writeStart.Store(0)
		done := group - len(bufs) // frames written whole
		for k := i; k < i+done; k++ {
			if batch[k].isData() {
				msgs++
				bytes += uint64(batch[k].n)
			}
		}
		if err != nil {
			var rest []byte
			if len(bufs) > 0 && len(bufs[0]) < len(batch[i+done].frame) {
				rest = bufs[0] // the frame in flight, partly written
			}
			if errors.Is(err, errAbandoned) || isTimeout(err) {
				if rest != nil && batch[i+done].isData() {
					msgs++
					bytes += uint64(batch[i+done].n)
				}
				return msgs, bytes, c.finishAbandoned(rest, batch[i+done:])
			}
			c.kill(CloseAbnormal, "write failed")
			return msgs, bytes, false
		}
		if closing {
			w.closeSent.Store(true)
			c.afterCloseSent()
			return msgs, bytes, false
		}
		i = j
	}
	return msgs, bytes, true
}

// finishAbandoned ends a connection whose writer timed out or was told to
// stop (a slow consumer, a peer's close): the frame in flight (rest) is
// completed, so the peer never reads a cut message, then a close frame is
// sent, both within one WriteTimeout; then the TCP connection is left to the
// read loop's close grace. A peer that resumes reading within the grace
// reads whole messages and the close code. pending are the frames not yet
// written; only a close frame among them is still sent.
func (c *Conn) finishAbandoned(rest []byte, pending []outbound) bool {
	h := c.hub
	w := c.wire
	c.mu.Lock()
	if c.state == stateOpen { // the write timed out: the peer has stopped reading
		c.slowCloseLocked()
	}
	code, reason := c.closeCode, c.closeReason
	c.dropQueueLocked()
	after := c.afterClosingLocked()
	c.mu.Unlock()
	after()
	c.abandon.Store(true)

	var bufs net.Buffers
	if rest != nil {
		bufs = append(bufs, rest)
	}
	if !w.closeSent.Load() && code != CloseAbnormal && validCloseCode(code) {
		frame := closeOut(code, reason).frame
		for i := range pending {
			if pending[i].op == opClose {
				frame = pending[i].frame
				break
			}
		}
		bufs = append(bufs, frame)
	}
	if len(bufs) == 0 {
		c.afterCloseSent()
		return false
	}
	if _, err := w.writeFrames(&bufs, time.Now().Add(h.cfg.WriteTimeout), nil); err != nil {
		c.kill(CloseAbnormal, "write failed")
		return false
	}
	w.closeSent.Store(true)
	c.afterCloseSent()
	return false
}

// buffersPool holds the iovec slices writers hand to writev, so a wake-up
// allocates none.
var buffersPool = sync.Pool{New: func() any { return new(net.Buffers) }}

// isTimeout reports a write deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// maxCloseReason is the most bytes of reason a close frame carries;
// longer reasons are cut without splitting a UTF-8 character.
const maxCloseReason = 123
