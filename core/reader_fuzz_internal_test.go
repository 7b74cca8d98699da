package core

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzInflate feeds arbitrary bytes to the permessage-deflate inflater: it
// never panics, never returns more than the limit, and what the writer
// compresses comes back whole.
func FuzzInflate(f *testing.F) {
	f.Add([]byte{0x00}, []byte("hello"), uint16(64))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []byte(""), uint16(1))
	f.Add([]byte{0x03, 0x00}, bytes.Repeat([]byte("ab"), 300), uint16(100))
	f.Add([]byte{0xff, 0xff, 0xff}, []byte{0, 1, 2}, uint16(0))
	f.Fuzz(func(t *testing.T, wire, payload []byte, limit uint16) {
		if out, err := inflateMessage(wire, int64(limit)); err == nil {
			if len(*out) > int(limit) {
				t.Fatalf("inflated %d bytes over the limit %d", len(*out), limit)
			}
			putReadBuf(out)
		} else if err != errInflate && err != errInflatedTooBig {
			t.Fatalf("unexpected error %v", err)
		}
		o := compressed(dataOut(opBinary, payload))
		if o.frame[0] != finBit|rsv1Bit|opBinary {
			t.Fatalf("compressed frame header %#x", o.frame[0])
		}
		out, err := inflateMessage(o.frame[o.hdr:], int64(len(payload)))
		if err != nil || !bytes.Equal(*out, payload) {
			t.Fatalf("round trip of %d bytes: %v", len(payload), err)
		}
	})
}

// FuzzUTF8Stream checks the incremental validator against utf8.Valid for
// any text cut at any two places: the same verdict, whatever the cuts.
func FuzzUTF8Stream(f *testing.F) {
	f.Add([]byte("κόσμε"), uint8(1), uint8(3))
	f.Add([]byte{0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90, 0x80, 0x80}, uint8(11), uint8(12))
	f.Add([]byte{0xed, 0xa0, 0x80}, uint8(1), uint8(2))
	f.Add([]byte{0xf0, 0x90, 0x80}, uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, text []byte, a, b uint8) {
		i, j := int(a)%(len(text)+1), int(b)%(len(text)+1)
		if i > j {
			i, j = j, i
		}
		var s utf8Stream
		ok := s.feed(text[:i]) && s.feed(text[i:j]) && s.feed(text[j:]) && s.done()
		if ok != utf8.Valid(text) {
			t.Fatalf("%q cut at %d and %d: stream says %v, utf8.Valid %v", text, i, j, ok, !ok)
		}
	})
}
