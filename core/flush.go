package core

import (
	"errors"
	"sync"
)

// A broadcast to many idle members would start one writer goroutine per
// member. Instead, the members whose writer must start are handed to one
// flusher goroutine, which writes each member's queue with one
// non-blocking writev, as raw gorilla writes to each in turn, but without
// ever waiting on a socket: a member whose socket cannot take the whole
// batch at once gets a writer goroutine of its own for the rest, with the
// usual deadlines and slow-consumer policy. The flusher runs once the
// broadcaster yields, like the writers it replaces, so members still batch
// what queued meanwhile.

// flushMin is the fewest members for which the flusher replaces writer
// goroutines.
const flushMin = 4

// flushPool holds the member lists handed to flushers.
var flushPool = sync.Pool{New: func() any { return new([]*Conn) }}

// errWouldBlock reports a socket that cannot take the write now.
var errWouldBlock = errors.New("rushws: write would block")

// flusher is one flusher goroutine's reusable state: the iovecs of the
// writev in progress and the function RawConn.Write runs, made once rather
// than per write.
type flusher struct {
	iovs [][]byte
	n    int
	err  error
	fn   func(fd uintptr) bool
}

// flushAll writes what is queued for each of conns, whose writer role has
// been claimed for it, without blocking; then returns the list to the pool.
func flushAll(list *[]*Conn) {
	f := flusherPool.Get().(*flusher)
	for i, c := range *list {
		c.flushNow(f)
		(*list)[i] = nil
	}
	*list = (*list)[:0]
	flushPool.Put(list)
	flusherPool.Put(f)
}

// flushNow writes the queue with one non-blocking writev. The caller holds
// the writer role (c.writing); flushNow ends it, or hands it to a writer
// goroutine when anything is left or anything is unusual (closing,
// compression, a control frame other than ping or pong).
func (c *Conn) flushNow(f *flusher) {
	w := c.wire
	c.mu.Lock()
	batch := c.queue
	simple := !c.compress && w != nil && w.raw != nil && canWritev && c.state == stateOpen && !c.abandon.Load() &&
		len(batch) > 0 && len(batch) <= 64
	size := 0
	for i := 0; simple && i < len(batch); i++ {
		simple = batch[i].op != opClose
		size += len(batch[i].frame)
	}
	if !simple || size > maxWritev {
		c.mu.Unlock()
		go c.writeLoop() // the usual writer, for what is unusual
		return
	}
	c.queue = nil
	queued := c.queueBytes
	c.mu.Unlock()
	c.hub.stats.observeQueue(queued)

	f.iovs = f.iovs[:0]
	for i := range batch {
		f.iovs = append(f.iovs, batch[i].frame)
	}
	n, err := w.tryWritev(f)
	clear(f.iovs)
	var msgs, bytes uint64
	written, left := 0, -1 // frames written whole; index of the first not
	for i := range batch {
		f := len(batch[i].frame)
		if n < f {
			left = i
			break
		}
		n -= f
		written += f
		if batch[i].isData() {
			msgs++
			bytes += uint64(batch[i].n)
		}
	}
	h := c.hub
	h.stats.messagesOut.Add(msgs)
	h.stats.bytesOut.Add(bytes)

	c.mu.Lock()
	c.queued -= int(msgs)
	c.queueBytes -= written
	var rest []outbound
	if left >= 0 {
		// What the socket did not take goes back in front of what was
		// queued since, the frame in flight first (its written part
		// counted as sent).
		rest = make([]outbound, 0, len(batch)-left+len(c.queue))
		first := batch[left]
		if n > 0 {
			c.queueBytes -= n
			first.frame, first.hdr = first.frame[n:], 0
		}
		rest = append(rest, first)
		rest = append(rest, batch[left+1:]...)
		rest = append(rest, c.queue...)
		c.queue = rest
	}
	clear(batch)
	recycleQueue(batch)
	failed := err != nil && !errors.Is(err, errWouldBlock)
	if !failed && len(c.queue) > 0 {
		c.mu.Unlock()
		go c.writeLoop() // the rest waits on the socket: a writer of its own
		return
	}
	c.endWriterLocked()
	c.mu.Unlock()
	if failed { // the peer is gone: the read loop notices and cleans up
		c.kill(CloseAbnormal, "write failed")
	}
}
