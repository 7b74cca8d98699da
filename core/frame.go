package core

import (
	"encoding/binary"
	"errors"
)

// Server-to-client frames are framed here rather than by gorilla, so the
// writer can hand many of them to the kernel in one writev: gorilla writes
// (and flushes) one message per call. A server frame is simple: FIN, the
// opcode, the payload length and the payload, never masked. gorilla still
// reads every frame, and writes compressed messages (see Conn.compress).

// Frame header bits and opcodes (RFC 6455 section 5.2).
const (
	finBit   = 0x80
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// maxHeader is the longest server frame header: 2 bytes and a 64-bit
// length.
const maxHeader = 10

// errAbandoned ends a write that was cancelled before it began.
var errAbandoned = errors.New("rushws: write abandoned")

// headerLen returns the header length of a server frame with n payload
// bytes.
func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n < 1<<16:
		return 4
	}
	return 10
}

// putHeader writes the header of a final frame with the given opcode and
// payload length into b, which is exactly headerLen(n) long.
func putHeader(b []byte, op byte, n int) {
	b[0] = finBit | op
	switch len(b) {
	case 2:
		b[1] = byte(n)
	case 4:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
}

// newFrame returns one frame holding payload, in a single allocation.
func newFrame(op byte, payload []byte) []byte {
	h := headerLen(len(payload))
	b := make([]byte, h+len(payload))
	putHeader(b[:h], op, len(payload))
	copy(b[h:], payload)
	return b
}

// frameBuf is a frame built in place: encoders append the payload after
// maxHeader reserved bytes, and seal writes the header just before it, so
// an event is encoded and framed in one buffer.
type frameBuf []byte

// newFrameBuf returns a frameBuf with room for a payload of about n bytes.
func newFrameBuf(n int) frameBuf {
	return make(frameBuf, maxHeader, maxHeader+n)
}

// seal writes the header and returns the frame.
func (b frameBuf) seal(op byte) []byte {
	n := len(b) - maxHeader
	h := headerLen(n)
	putHeader(b[maxHeader-h:maxHeader], op, n)
	return b[maxHeader-h:]
}

// opcodeOf maps a gorilla message type to its opcode.
func opcodeOf(mt int) byte {
	if mt == BinaryMessage {
		return opBinary
	}
	return opText
}

// pingFrame is the heartbeat's ping: empty, shared by every connection.
var pingFrame = []byte{finBit | opPing, 0}

// pingOut is the heartbeat's ping as queued.
var pingOut = outbound{frame: pingFrame, hdr: 2, op: opPing}
