package core

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// The frame reader: RFC 6455 section 5 for client frames, after gorilla's
// handshake. It reads what the socket holds into a pooled buffer, unmasks
// and checks each frame's payload as it arrives (so invalid UTF-8 is caught
// at the byte that makes it invalid, even in the middle of a frame), and
// dispatches each message as soon as it is whole. Nothing is allocated for
// a frame before its header has been checked against the limits.
//
// A burst of reading ends when the socket has nothing more and the reader
// stands at a frame boundary: the connection then holds no read buffer, and
// in poller mode no goroutine. What survives between bursts is a fragmented
// message in progress (its payload so far and its UTF-8 state), in
// Conn.rd.

// Frame header bits a client may send (RFC 6455 section 5.2), beside finBit
// and the opcodes in frame.go.
const (
	rsv1Bit = 0x40
	rsv2Bit = 0x20
	rsv3Bit = 0x10
	maskBit = 0x80
	opCont  = 0x0
	maxCtrl = 125 // the largest control frame payload
	readMin = 512 // the smallest read buffer
)

// msgState is what a connection keeps of a fragmented message between
// bursts. Only the goroutine that reads the connection touches it.
type msgState struct {
	op    byte       // opcode of the message in progress; 0 when none
	flate bool       // the message is compressed (RSV1 on its first frame)
	buf   *[]byte    // its payload so far, from readBufPool
	wire  int64      // bytes of payload received so far (compressed, when flate)
	utf8  utf8Stream // validation state of an uncompressed text message
}

// endMessage forgets the message in progress, if any, and gives its
// buffer back.
func (c *Conn) endMessage() {
	if m := c.rd; m != nil {
		if m.buf != nil {
			putReadBuf(m.buf)
		}
		c.rd = nil
	}
}

// burst is one burst of reading: the pooled buffer and the bytes in it.
type burst struct {
	buf   []byte
	r, w  int
	ctrl  [maxCtrl]byte // the payload of a control frame split across reads
	now   nowRead       // a non-blocking read's state, made once per burst
	short bool          // the last non-blocking read took less than it could: the socket is empty
}

// burstPool holds bursts; only a connection that is reading holds one.
var burstPool sync.Pool

// getBurst returns an empty burst whose buffer holds at least size bytes.
func getBurst(size int) *burst {
	if b, ok := burstPool.Get().(*burst); ok && len(b.buf) >= size {
		return b
	}
	b := &burst{buf: make([]byte, max(size, readMin))}
	b.now.init()
	return b
}

func putBurst(b *burst) {
	b.r, b.w, b.short = 0, 0, false
	burstPool.Put(b)
}

// errNothing ends a burst: the socket holds nothing more just now.
var errNothing = errors.New("rushws: nothing to read")

// errProtocol ends the read loop after a protocol violation; the close
// frame has been sent.
var errProtocol = errors.New("rushws: protocol violation")

// fill reads more bytes into b. mid says the reader is inside a frame: then
// it waits for them, at most ReadTimeout; otherwise, where the socket
// allows non-blocking reads, it returns errNothing when none are there.
func (c *Conn) fill(b *burst, mid bool) error {
	if b.r == b.w {
		b.r, b.w = 0, 0
	} else if b.r > 0 && len(b.buf)-b.w < readMin {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	w := c.wire
	if len(w.prefix) > 0 { // sent in the handshake's packet
		n := copy(b.buf[b.w:], w.prefix)
		w.prefix = w.prefix[n:]
		if len(w.prefix) == 0 {
			w.prefix = nil
		}
		b.w += n
		return nil
	}
	if !mid && w.peek {
		if b.short {
			// The socket had no more a moment ago: park without another
			// read. Re-arming the poller reports input that came since,
			// and in goroutine mode waitReadable sees it.
			return errNothing
		}
		n, err := w.readNow(&b.now, b.buf[b.w:])
		b.short = n < len(b.buf)-b.w
		b.w += n
		if err == nil && n == 0 {
			return errNothing
		}
		return err
	}
	if mid && !c.midDeadline {
		c.midDeadline = true
		_ = w.Conn.SetReadDeadline(time.Now().Add(c.hub.cfg.ReadTimeout))
	}
	n, err := w.Conn.Read(b.buf[b.w:])
	b.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	if mid && isTimeout(err) && !c.closing() {
		c.abort(CloseProtocolError, "frame incomplete past the read timeout", true)
		return errProtocol
	}
	return err
}

// closing reports whether the connection is no longer open.
func (c *Conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state != stateOpen
}

// readBurst reads and dispatches messages until the socket has nothing more
// at a frame boundary (nil) or the connection has ended (the error it ends
// with). Without non-blocking reads (TLS, platforms without them) it
// returns only when the connection ends.
func (c *Conn) readBurst() error {
	b := getBurst(c.hub.cfg.ReadBufferSize)
	defer putBurst(b)
	for {
		err := c.readFrame(b)
		if c.midDeadline {
			c.midDeadline = false
			_ = c.wire.Conn.SetReadDeadline(time.Time{})
		}
		if err == errNothing {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readFrame reads, checks and handles one frame.
func (c *Conn) readFrame(b *burst) error {
	// The header: 2 bytes, then up to 8 of length and 4 of mask key.
	for b.w-b.r < 2 {
		if err := c.fill(b, b.w > b.r); err != nil {
			return err
		}
	}
	h0, h1 := b.buf[b.r], b.buf[b.r+1]
	if reason := c.checkHeader(h0, h1); reason != "" {
		c.abort(CloseProtocolError, reason, true)
		return errProtocol
	}
	need := 6
	switch h1 & 0x7f {
	case 126:
		need = 8
	case 127:
		need = 14
	}
	for b.w-b.r < need {
		if err := c.fill(b, true); err != nil {
			return err
		}
	}
	var n uint64
	switch h1 & 0x7f {
	case 126:
		n = uint64(binary.BigEndian.Uint16(b.buf[b.r+2:]))
	case 127:
		n = binary.BigEndian.Uint64(b.buf[b.r+2:])
	default:
		n = uint64(h1 & 0x7f)
	}
	var key [4]byte
	copy(key[:], b.buf[b.r+need-4:])
	fin, op := h0&finBit != 0, h0&0xf
	if n>>63 != 0 {
		c.abort(CloseProtocolError, "invalid frame length", true)
		return errProtocol
	}
	b.r += need
	if op >= opClose {
		return c.readControl(b, op, int(n), key)
	}
	return c.readData(b, fin, op, h0&rsv1Bit != 0, int64(n), key)
}

// checkHeader returns why a frame's first two bytes break RFC 6455 or
// RFC 7692, or "" when they are valid.
func (c *Conn) checkHeader(h0, h1 byte) string {
	n := h1 & 0x7f
	op := h0 & 0xf
	switch {
	case h1&maskBit == 0:
		return "client frame not masked"
	case h0&(rsv2Bit|rsv3Bit) != 0:
		return "reserved bit set"
	case op > opBinary && op < opClose || op > opPong:
		return "unknown opcode"
	}
	if op >= opClose {
		switch {
		case h0&finBit == 0:
			return "fragmented control frame"
		case n > maxCtrl:
			return "control frame too long"
		case h0&rsv1Bit != 0:
			return "reserved bit set on a control frame"
		}
		return ""
	}
	switch {
	case op == opCont && c.rd == nil:
		return "continuation frame without a message"
	case op != opCont && c.rd != nil:
		return "new message inside a fragmented message"
	case h0&rsv1Bit != 0 && (!c.compress || op == opCont):
		return "reserved bit set"
	}
	return ""
}

// readControl reads a control frame's payload and handles it.
func (c *Conn) readControl(b *burst, op byte, n int, key [4]byte) error {
	var p []byte
	if b.w-b.r >= n { // whole in the buffer, as almost always
		p = b.buf[b.r : b.r+n]
		b.r += n
	} else {
		got := 0
		for got < n {
			if b.r == b.w {
				if err := c.fill(b, true); err != nil {
					return err
				}
			}
			k := copy(b.ctrl[got:n], b.buf[b.r:b.w])
			b.r += k
			got += k
		}
		p = b.ctrl[:n]
	}
	maskBytes(key, 0, p)
	switch op {
	case opPing:
		c.onPing(p)
		return nil
	case opPong:
		c.onPong()
		return nil
	}
	return c.readClose(p)
}

// readClose checks the peer's close frame and answers it. It returns the
// error the read loop ends with.
func (c *Conn) readClose(p []byte) error {
	code, reason := CloseNoStatus, ""
	switch {
	case len(p) == 1:
		c.abort(CloseProtocolError, "invalid close frame payload", true)
		return errProtocol
	case len(p) >= 2:
		code = int(binary.BigEndian.Uint16(p))
		if !validCloseCode(code) {
			c.abort(CloseProtocolError, "invalid close code", true)
			return errProtocol
		}
		if !utf8.Valid(p[2:]) {
			c.abort(CloseInvalidPayload, "invalid UTF-8 in close reason", true)
			return errProtocol
		}
		reason = string(p[2:])
	}
	c.onPeerClose(code, reason)
	return &CloseError{Code: code, Reason: reason}
}

// readData reads a text, binary or continuation frame: its payload goes to
// the message in progress, or, for a whole message already in the buffer,
// straight to dispatch.
func (c *Conn) readData(b *burst, fin bool, op byte, rsv1 bool, n int64, key [4]byte) error {
	m := c.rd
	limit := c.hub.cfg.ReadLimit
	if m == nil && fin && !rsv1 && n <= limit && int64(b.w-b.r) >= n {
		// A whole message, all in the buffer: dispatched from it, no copy.
		p := b.buf[b.r : b.r+int(n)]
		b.r += int(n)
		maskBytes(key, 0, p)
		if op == opText && !utf8.Valid(p) {
			return c.invalidUTF8()
		}
		return c.deliver(int(op), p)
	}
	if m == nil {
		m = &msgState{op: op, flate: rsv1}
		c.rd = m
	}
	if m.flate {
		limit = compressedLimit(limit)
	}
	if m.wire+n > limit {
		c.hub.stats.errors.Add(1)
		c.abort(CloseTooBig, "message too big", true)
		return errProtocol
	}
	m.wire += n
	text := m.op == opText && !m.flate
	if m.buf == nil {
		m.buf = getReadBuf()
	}
	pos := 0
	for left := n; left > 0; {
		if b.r == b.w {
			if err := c.fill(b, true); err != nil {
				return err
			}
		}
		k := int(min(left, int64(b.w-b.r)))
		p := b.buf[b.r : b.r+k]
		b.r += k
		left -= int64(k)
		pos = maskBytes(key, pos, p)
		if text && !m.utf8.feed(p) {
			return c.invalidUTF8()
		}
		*m.buf = append(*m.buf, p...)
	}
	if !fin {
		return nil
	}
	if text && !m.utf8.done() {
		return c.invalidUTF8()
	}
	mt, data := int(m.op), *m.buf
	if m.flate {
		out, err := c.inflate(data)
		if err != nil {
			c.endMessage()
			return err
		}
		putReadBuf(m.buf)
		m.buf = out
		data = *out
		if mt == TextMessage && !utf8.Valid(data) {
			return c.invalidUTF8()
		}
	}
	err := c.deliver(mt, data)
	c.endMessage()
	return err
}

// deliver dispatches a whole message, or keeps a copy of it for
// readFirstMessage.
func (c *Conn) deliver(mt int, data []byte) error {
	if s := c.sess; s != nil && s.holdNext != nil {
		h := s.holdNext
		h.mt, h.data = mt, append([]byte(nil), data...)
		return errHeld
	}
	return c.handle(mt, data)
}

// compressedLimit bounds the compressed bytes of a message whose inflated
// size may reach limit: incompressible data grows a little when deflated,
// and a compressed message must not be refused for that.
func compressedLimit(limit int64) int64 {
	return limit + limit/4 + 4096
}

// invalidUTF8 closes the connection with 1007 for a text message that is
// not UTF-8; nothing of it is dispatched.
func (c *Conn) invalidUTF8() error {
	c.endMessage()
	c.hub.stats.errors.Add(1)
	c.abort(CloseInvalidPayload, "invalid UTF-8", true)
	return errInvalidUTF8
}

// maskBytes unmasks p in place, pos bytes into the frame's payload, and
// returns the position after p (RFC 6455 section 5.3).
func maskBytes(key [4]byte, pos int, p []byte) int {
	i := 0
	if len(p) >= 16 {
		// Eight bytes at a time, with the key rotated to pos.
		var k8 [8]byte
		for j := range k8 {
			k8[j] = key[(pos+j)&3]
		}
		kw := binary.LittleEndian.Uint64(k8[:])
		for ; i+8 <= len(p); i += 8 {
			binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^kw)
		}
	}
	for ; i < len(p); i++ {
		p[i] ^= key[(pos+i)&3]
	}
	return (pos + len(p)) & 3
}

// getReadBuf returns an empty pooled message buffer.
func getReadBuf() *[]byte {
	bp := readBufPool.Get().(*[]byte)
	*bp = (*bp)[:0]
	return bp
}

// putReadBuf gives a message buffer back, unless it grew too large to keep.
func putReadBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledReadBuf {
		*bp = (*bp)[:0]
		readBufPool.Put(bp)
	}
}

// readBufPool holds the buffers messages are assembled in: a busy
// connection does not allocate one a message, and an idle one holds none.
var readBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// maxPooledReadBuf keeps the pool from holding on to buffers grown for rare
// large messages.
const maxPooledReadBuf = 64 << 10

// utf8Stream validates UTF-8 fed in pieces, rejecting a sequence at the
// first byte that makes it invalid (fail fast, as Autobahn rates it).
type utf8Stream struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // the range the next continuation byte must fall in
}

// feed checks the next piece and reports whether everything so far may
// still be valid UTF-8.
func (s *utf8Stream) feed(p []byte) bool {
	i := 0
	for s.need > 0 && i < len(p) { // finish a sequence from the last piece
		if !s.cont(p[i]) {
			return false
		}
		i++
	}
	if i == len(p) {
		return true
	}
	// Whole sequences with the standard library; the tail by hand.
	end := len(p)
	for k := len(p) - 1; k >= i && k >= len(p)-3; k-- {
		if p[k] >= 0xC0 { // a lead byte: is its sequence cut short?
			if !utf8.FullRune(p[k:]) {
				end = k
			}
			break
		}
		if p[k] < 0x80 {
			break
		}
	}
	if !utf8.Valid(p[i:end]) {
		return false
	}
	for _, c := range p[end:] {
		if s.need == 0 {
			if !s.lead(c) {
				return false
			}
		} else if !s.cont(c) {
			return false
		}
	}
	return true
}

// done reports whether the text ended on a whole sequence.
func (s *utf8Stream) done() bool { return s.need == 0 }

// lead starts a sequence at lead byte c.
func (s *utf8Stream) lead(c byte) bool {
	s.lo, s.hi = 0x80, 0xBF
	switch {
	case c < 0x80:
		return true
	case c >= 0xC2 && c <= 0xDF:
		s.need = 1
	case c == 0xE0:
		s.need, s.lo = 2, 0xA0
	case c == 0xED:
		s.need, s.hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		s.need = 2
	case c == 0xF0:
		s.need, s.lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		s.need = 3
	case c == 0xF4:
		s.need, s.hi = 3, 0x8F
	default:
		return false
	}
	return true
}

// cont takes continuation byte c.
func (s *utf8Stream) cont(c byte) bool {
	if c < s.lo || c > s.hi {
		return false
	}
	s.need--
	s.lo, s.hi = 0x80, 0xBF
	return true
}
