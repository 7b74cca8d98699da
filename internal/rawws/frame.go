package rawws

import (
	"encoding/binary"
	"math/rand/v2"
	"unicode/utf8"
)

// Opcodes of RFC 6455 section 5.2.
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// Close codes a test compares with: the ones a server sends, and 1005 and
// 1006, which never travel on the wire but stand for "close frame without a
// code" and "no close frame at all".
const (
	CloseNormal        = 1000
	CloseProtocolError = 1002
	CloseNoStatus      = 1005
	CloseAbnormal      = 1006
	CloseInvalidUTF8   = 1007
	ClosePolicy        = 1008
	CloseTooBig        = 1009
)

// Frame is one WebSocket frame, as built by a test or as read from the
// server.
type Frame struct {
	// Fin marks the last frame of a message.
	Fin bool
	// Rsv holds the three reserved bits (RSV1 is 4, RSV2 is 2, RSV3 is 1).
	Rsv byte
	// Op is the opcode, 0 to 15.
	Op byte
	// Payload is the unmasked payload.
	Payload []byte
	// Length, when non-zero, is written as the payload length instead of
	// len(Payload), to claim a length the frame does not carry. It is
	// always written in the 64-bit form.
	Length uint64
	// Unmasked leaves the frame unmasked, which a server must refuse from a
	// client.
	Unmasked bool
	// Masked reports, for a frame read from the server, whether it was
	// masked (a server must never mask).
	Masked bool
}

// Bytes returns the frame's wire form, masked with a random key unless
// Unmasked is set.
func (f Frame) Bytes() []byte {
	b0 := f.Op&0x0f | (f.Rsv&7)<<4
	if f.Fin {
		b0 |= 0x80
	}
	out := make([]byte, 0, 14+len(f.Payload))
	out = append(out, b0)
	var maskBit byte
	if !f.Unmasked {
		maskBit = 0x80
	}
	switch n := len(f.Payload); {
	case f.Length != 0:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, f.Length)
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n < 1<<16:
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if f.Unmasked {
		return append(out, f.Payload...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	out = append(out, key[:]...)
	for i, c := range f.Payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// Text returns a single-frame text message.
func Text(s string) Frame { return Frame{Fin: true, Op: OpText, Payload: []byte(s)} }

// Binary returns a single-frame binary message.
func Binary(b []byte) Frame { return Frame{Fin: true, Op: OpBinary, Payload: b} }

// Ping returns a ping with the given payload.
func Ping(payload []byte) Frame { return Frame{Fin: true, Op: OpPing, Payload: payload} }

// Pong returns a pong with the given payload.
func Pong(payload []byte) Frame { return Frame{Fin: true, Op: OpPong, Payload: payload} }

// Close returns a close frame with the given payload (see ClosePayload).
func Close(payload []byte) Frame { return Frame{Fin: true, Op: OpClose, Payload: payload} }

// Fragments splits a message of opcode op into frames carrying the
// payload in pieces of at most size bytes (at least one frame, even for an
// empty payload).
func Fragments(op byte, payload []byte, size int) []Frame {
	var out []Frame
	for first := true; first || len(payload) > 0; first = false {
		n := min(size, len(payload))
		f := Frame{Op: OpContinuation, Payload: payload[:n]}
		if first {
			f.Op = op
		}
		payload = payload[n:]
		f.Fin = len(payload) == 0
		out = append(out, f)
	}
	return out
}

// Join returns the wire form of frames, in order.
func Join(frames ...Frame) []byte {
	var out []byte
	for _, f := range frames {
		out = append(out, f.Bytes()...)
	}
	return out
}

// ClosePayload returns the payload of a close frame carrying code and
// reason. The reason is taken as is, valid UTF-8 or not.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// ParseClose returns the code and reason of a close frame's payload: 1005
// for an empty payload. ok is false for a payload of one byte or a reason
// that is not valid UTF-8, which a server must never send.
func ParseClose(payload []byte) (code int, reason string, ok bool) {
	switch len(payload) {
	case 0:
		return CloseNoStatus, "", true
	case 1:
		return 0, "", false
	}
	reason = string(payload[2:])
	return int(binary.BigEndian.Uint16(payload)), reason, utf8.ValidString(reason)
}
