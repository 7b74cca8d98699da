package core

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzEncodeEvent checks the encoder every outbound event goes through:
// for a valid event name and any JSON data it writes one JSON object that
// decodes, with the inbound envelope, to the same name, data and ack; an
// invalid name is refused.
func FuzzEncodeEvent(f *testing.F) {
	f.Add("chat", []byte(`{"text":"hi"}`), uint64(0))
	f.Add("echo", []byte(`"\u2028\ud83d\ude00<script>"`), uint64(7))
	f.Add("a\"b\\c", []byte(`null`), uint64(1<<63))
	f.Add("", []byte(`1`), uint64(1))
	f.Add("tab\t", []byte(`[]`), uint64(0))
	f.Add("émoji 🎉", []byte(` {"a" : [1, 2.5e3, true]} `), uint64(42))
	f.Fuzz(func(t *testing.T, event string, data []byte, ack uint64) {
		if !json.Valid(data) {
			return
		}
		b, err := encodeEvent(event, json.RawMessage(data), ack)
		if !ValidEventName(event) {
			if err == nil {
				t.Fatalf("encodeEvent accepted the invalid name %q", event)
			}
			return
		}
		if err != nil {
			t.Fatalf("encodeEvent(%q, %q, %d): %v", event, data, ack, err)
		}
		if !json.Valid(b) {
			t.Fatalf("encodeEvent wrote invalid JSON %q", b)
		}
		var env envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%q does not decode: %v", b, err)
		}
		if env.Event == nil || *env.Event != event {
			t.Fatalf("event %q came back as %v", event, env.Event)
		}
		if ack > 0 && (env.Ack == nil || *env.Ack != ack) || ack == 0 && env.Ack != nil {
			t.Fatalf("ack %d came back as %v", ack, env.Ack)
		}
		if want, got := decodeAny(t, data), decodeAny(t, env.Data); !reflect.DeepEqual(want, got) {
			t.Fatalf("data %s came back as %s", data, env.Data)
		}
	})
}

// decodeAny decodes JSON keeping numbers as written.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return v
}
