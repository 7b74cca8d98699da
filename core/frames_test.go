package core_test

import (
	"encoding/binary"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// frame builds one masked client frame: fin, rsv bits (0-7), opcode and
// payload, as a broken client might send it.
func frame(fin bool, rsv byte, opcode byte, payload []byte) []byte {
	b0 := opcode | rsv<<4
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n < 1<<16:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	mask := []byte{1, 2, 3, 4}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

func TestMalformedFrames(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{ReadLimit: 1024}, chat)
	bystander := wstest.Dial(t, s.url("lobby"))
	closePayload := func(code uint16) []byte { return binary.BigEndian.AppendUint16(nil, code) }
	tiny := func(n int) []byte {
		var out []byte
		out = append(out, frame(false, 0, 1, []byte("a"))...)
		for i := 0; i < n; i++ {
			out = append(out, frame(false, 0, 0, []byte("a"))...)
		}
		return out
	}
	tests := []struct {
		name string
		data []byte
		code int
	}{
		{"reserved bits", frame(true, 4, 1, []byte(`{"event":"echo"}`)), 1002},
		{"unknown opcode", frame(true, 0, 3, []byte("x")), 1002},
		{"oversized ping", frame(true, 0, 9, make([]byte, 200)), 1002},
		{"fragmented ping", frame(false, 0, 9, []byte("x")), 1002},
		{"continuation without start", frame(true, 0, 0, []byte("x")), 1002},
		{"close code 999", frame(true, 0, 8, closePayload(999)), 1002},
		{"close code 1005 on the wire", frame(true, 0, 8, closePayload(1005)), 1002},
		{"flood of tiny fragments", tiny(5000), core.CloseTooBig},
		{"length over the limit", frame(true, 0, 2, make([]byte, 70000)), core.CloseTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := wstest.Dial(t, s.url("lobby"))
			if _, err := c.Conn().NetConn().Write(tt.data); err != nil {
				t.Fatal(err)
			}
			c.ExpectClose(tt.code)
			roundTrip(t, bystander)
		})
	}
	eventually(t, "only the bystander to remain", func() bool { return s.hub.Stats().Connections == 1 })
	if r, _ := s.hub.Room("lobby"); r.Members != 1 {
		t.Fatalf("lobby members = %d, want 1", r.Members)
	}
}

func TestBinaryWithoutRawHandler(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	c := wstest.Dial(t, s.url("lobby"))
	c.SendBinary([]byte{0xde, 0xad})
	if e := c.ExpectError(core.CodeBadRequest); e.Message != "binary messages are not accepted" {
		t.Fatalf("error = %+v", e)
	}
	roundTrip(t, c)
}
