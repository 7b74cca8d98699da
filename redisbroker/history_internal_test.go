package redisbroker

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
)

// FuzzDecodeSession checks the session record decoder on what Redis holds:
// no panic, and what it accepts names a connection of a hub and valid
// rooms and positions.
func FuzzDecodeSession(f *testing.F) {
	good, _ := json.Marshal(core.SessionRecord{ConnID: "h1.abc", Hub: "h1", Live: true, Rooms: []string{"lobby"},
		Positions: map[string]string{"room:lobby": "e:3", "conn:h1.abc": "e:0", "all": "e:9"},
		Meta:      map[string]json.RawMessage{"nick": json.RawMessage(`"x"`)}})
	f.Add(good, "1700000000000")
	f.Add([]byte(`{"id":"nohub"}`), "0")
	f.Add([]byte(`{"id":"h.x","rooms":["a\u0000"]}`), "1")
	f.Add([]byte(`{"id":"h.x","pos":{"room:":"e:1"}}`), "-1")
	f.Add([]byte(`null`), "x")
	f.Fuzz(func(t *testing.T, d []byte, deadline string) {
		rec, err := decodeSession(d, deadline)
		if err != nil {
			return
		}
		if !validHubID(core.HubOf(rec.ConnID)) {
			t.Fatalf("accepted connection ID %q", rec.ConnID)
		}
		for _, r := range rec.Rooms {
			if !core.ValidRoomName(r) {
				t.Fatalf("accepted room %q", r)
			}
		}
		for k, v := range rec.Positions {
			if _, ok := streamKey(k); !ok {
				t.Fatalf("accepted stream %q", k)
			}
			if _, err := core.ParsePosition(v); err != nil {
				t.Fatalf("accepted position %q", v)
			}
		}
	})
}

// FuzzParseEntry checks the history entry decoder on what Redis returns:
// no panic; what it accepts is a kept event message.
func FuzzParseEntry(f *testing.F) {
	hdr := encode(nil, &core.BrokerMessage{Hub: "h1", Rooms: []string{"r"}, Except: []string{"h1.x"}})
	hdr[1] |= flagKept
	f.Add(int64(1700000000000), "1", "1", append(hdr, `{"event":"a","data":1,"pos":{"room:r":"e:1"}}`...))
	f.Add(int64(0), "0", "1", hdr)
	f.Add(int64(-1), "x", "", []byte{magic})
	f.Fuzz(func(t *testing.T, ms int64, off, seq string, msg []byte) {
		e, err := parseEntry(ms, off, seq, msg)
		if err != nil {
			return
		}
		if e.Offset == 0 || e.Time != time.UnixMilli(ms) {
			t.Fatalf("accepted %+v", e)
		}
	})
}

// FuzzDecodeEntry drives decodeEntry with the shapes go-redis returns.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("1700000000000-0", "o", "3", "g", "9", "m", "x")
	f.Add("-", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, id, k1, v1, k2, v2, k3, v3 string) {
		_, _ = decodeEntry([]any{id, []any{k1, v1, k2, v2, k3, v3}})
		_, _ = decodeEntry([]any{id})
		_, _ = decodeEntry(id)
	})
}

func TestStreamKeyRefusesOtherNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "room:", "room:a\x00", "conn:nohub", "conn:h*.x", "conn:" + strings.Repeat("a", 200) + ".x", "other"} {
		if k, ok := streamKey(name); ok {
			t.Errorf("streamKey(%q) = %q, want refused", name, k)
		}
	}
	for _, name := range []string{"all", "room:lobby", "room:☕ {x}*", "conn:h1.abc_-"} {
		if _, ok := streamKey(name); !ok {
			t.Errorf("streamKey(%q) refused", name)
		}
	}
}
