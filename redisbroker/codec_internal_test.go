package redisbroker

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
)

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    core.BrokerMessage
	}{
		{"room text", core.BrokerMessage{Hub: "h1", Rooms: []string{"lobby"}, Data: []byte(`{"event":"x"}`)}},
		{"everyone binary", core.BrokerMessage{Hub: "h1", All: true, Binary: true, Data: []byte{0, 0xff, '\r', '\n', 0}}},
		{"several rooms with exclusions", core.BrokerMessage{Hub: "h-_9", Rooms: []string{"a", "b ☕", strings.Repeat("r", 256)}, Except: []string{"h1.c1", "h2.c2"}, ExceptRooms: []string{"muted"}, Data: []byte("x")}},
		{"direct", core.BrokerMessage{Hub: "h1", Conn: "h2.abc", Data: []byte("hi")}},
		{"close command", core.BrokerMessage{Hub: "h1", Rooms: []string{"r"}, CloseCode: 4403, Data: []byte("kicked")}},
		{"empty payload", core.BrokerMessage{Hub: "h1", All: true, Data: []byte{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := encode(nil, &tc.m)
			if len(b) > encodedSize(&tc.m) {
				t.Errorf("encoded %d bytes, bound said %d", len(b), encodedSize(&tc.m))
			}
			got, err := decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Data, tc.m.Data) {
				t.Errorf("data %q, want %q", got.Data, tc.m.Data)
			}
			got.Data, tc.m.Data = nil, nil
			if !reflect.DeepEqual(got, tc.m) {
				t.Errorf("got %+v, want %+v", got, tc.m)
			}
		})
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	t.Parallel()
	good := encode(nil, &core.BrokerMessage{Hub: "h1", Rooms: []string{"r"}, Data: []byte("x")})
	cases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte{'{'}, good[1:]...)},
		{"unknown flag", append([]byte{magic, 0x80}, good[2:]...)},
		{"truncated header", good[:4]},
		{"string longer than message", []byte{magic, 0, 200, 'h'}},
		{"huge list count", []byte{magic, 0, 2, 'h', '1', 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"overlong varint", []byte{magic, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"bad hub ID", encode(nil, &core.BrokerMessage{Hub: "h*", All: true})},
		{"empty hub ID", encode(nil, &core.BrokerMessage{All: true})},
		{"bad room", encode(nil, &core.BrokerMessage{Hub: "h1", Rooms: []string{"a\x00"}})},
		{"connection ID naming no hub", encode(nil, &core.BrokerMessage{Hub: "h1", Conn: "nohub"})},
		{"invalid UTF-8 text", encode(nil, &core.BrokerMessage{Hub: "h1", All: true, Data: []byte{0xff}})},
		{"close code out of range", encode(nil, &core.BrokerMessage{Hub: "h1", All: true, CloseCode: 99})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decode(tc.b); !errors.Is(err, errMalformed) {
				t.Fatalf("decode = %v, want errMalformed", err)
			}
		})
	}
}

// FuzzDecode checks that no input panics and that whatever decodes
// encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(encode(nil, &core.BrokerMessage{Hub: "h1", Rooms: []string{"r", "s"}, Except: []string{"h1.x"}, Data: []byte("x")}))
	f.Add(encode(nil, &core.BrokerMessage{Hub: "h1", All: true, Binary: true, CloseCode: 1000, Data: []byte{0}}))
	f.Add([]byte{magic, 0, 0xff})
	f.Add(append([]byte{magic, flagKept | flagAll, 2, 'h', '1', 0, 0, 0, 0}, `{"event":"a","data":1,"pos":{"all":"e:1"}}`...))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err != nil {
			return
		}
		if again := encode(nil, &m); !bytes.Equal(again, b) {
			// Non-minimal varints decode too; the re-encoding must decode
			// to the same message.
			m2, err := decode(again)
			if err != nil || !reflect.DeepEqual(m2, m) {
				t.Fatalf("re-encoding changed the message: %+v vs %+v (%v)", m, m2, err)
			}
		}
	})
}
