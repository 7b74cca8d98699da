package core

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParsePosition checks that no input panics and that what parses
// prints back to the same text.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"Xk3a:42", "a:0", "e_-9:18446744073709551615", ":1", "a:", "a:-1", "a:1:2", "a:18446744073709551616", strings.Repeat("e", 33) + ":1", "a:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			return
		}
		if !ValidEpoch(p.Epoch) {
			t.Fatalf("%q parsed to invalid epoch %q", s, p.Epoch)
		}
		if again, err := ParsePosition(p.String()); err != nil || again != p {
			t.Fatalf("%q -> %v -> %q -> %v, %v", s, p, p.String(), again, err)
		}
	})
}

// FuzzParseRecover checks the recover message decoder on what a client
// sends: no panic, and what it accepts is well-formed.
func FuzzParseRecover(f *testing.F) {
	tok := strings.Repeat("A", 43)
	f.Add(`{"event":"recover","data":{"token":"` + tok + `","positions":{"conn":"e:1","all":"e:0","room:lobby":"e:7"}}}`)
	f.Add(`{"event":"recover","data":{"token":"` + tok + `"}}`)
	f.Add(`{"event":"recover","data":{"token":"short","positions":{}}}`)
	f.Add(`{"event":"recover","data":{"token":"` + tok + `","positions":{"room:":"e:1"}}}`)
	f.Add(`{"event":"chat","data":1}`)
	f.Add(`{"event":"recover","data":null}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		req, isRecover, ok := parseRecover([]byte(s))
		if ok && !isRecover {
			t.Fatal("ok without isRecover")
		}
		if !ok {
			return
		}
		if !validToken(req.token) || len(req.positions) > maxRecoverStreams {
			t.Fatalf("accepted token %q with %d positions", req.token, len(req.positions))
		}
		for name, p := range req.positions {
			if !validWireStream(name) || !ValidEpoch(p.Epoch) {
				t.Fatalf("accepted %q: %v", name, p)
			}
		}
	})
}

// FuzzPos checks appendPos and parsePos, which reads "pos" back from a kept
// message (as Redis hands it over): no panic on any input, and a round
// trip for any envelope and stream names.
func FuzzPos(f *testing.F) {
	f.Add([]byte(`{"event":"chat","data":{"pos":1}}`), "room:a\x00b", "e1", uint64(5))
	f.Add([]byte(`{"event":"x","data":"\"pos\":{"}`), "all", "E", uint64(0))
	f.Add([]byte(`,"pos":{"a":"b:1"}}`), "conn:h.x", "Z_-", uint64(1<<63))
	f.Fuzz(func(t *testing.T, data []byte, stream, epoch string, off uint64) {
		_, _ = parsePos(data)
		env, err := encodeEvent("ev", json.RawMessage(nil), 0)
		if err != nil {
			t.Fatal(err)
		}
		if json.Valid(data) {
			env, _ = encodeEvent("ev", json.RawMessage(data), 0)
		}
		// Stream names are checked before they are used: room names are
		// valid UTF-8 (ValidRoomName), connection IDs base64url.
		if !ValidEpoch(epoch) || !validWireStream(WireStream(stream)) && !strings.HasPrefix(stream, "conn:") || !utf8.ValidString(stream) {
			return
		}
		out := appendPos(env, []string{stream}, []Position{{epoch, off}})
		if !json.Valid(out) {
			t.Fatalf("appendPos made invalid JSON: %s", out)
		}
		pos, ok := parsePos(out)
		if !ok || pos[WireStream(stream)] != (Position{epoch, off}) {
			t.Fatalf("parsePos(%s) = %v, %v", out, pos, ok)
		}
	})
}

type testClaims struct{ sub string }

func (c *testClaims) GetSubject() (string, error) { return c.sub, nil }

// token has the shape of golang-jwt's *jwt.Token, which the JWT middleware
// stores under "user".
type token struct {
	Raw    string
	Claims subjecter
}

func TestDefaultIdentity(t *testing.T) {
	t.Parallel()
	var nilClaims *testClaims
	for _, tc := range []struct {
		name string
		user any
		want string
	}{
		{"claims", &testClaims{"alice"}, "alice"},
		{"token", &token{Raw: "secret", Claims: &testClaims{"bob"}}, "bob"},
		{"token value", token{Claims: &testClaims{"carol"}}, "carol"},
		{"token without claims", &token{}, ""},
		{"token with nil claims", &token{Claims: nilClaims}, ""},
		{"nil token", (*token)(nil), ""},
		{"string", "dave", ""},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Conn{}
			if tc.user != nil {
				c.Set("user", tc.user)
			}
			if got := subjectOf(c); got != tc.want {
				t.Fatalf("subjectOf = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReplayFrom(t *testing.T) {
	t.Parallel()
	state := StreamState{Top: Position{"E", 10}, Oldest: 4}
	for _, tc := range []struct {
		name         string
		saved        string
		client       *Position
		state        StreamState
		from         uint64
		reason       string
		unknownStart bool
	}{
		{"saved only", "E:5", nil, state, 5, "", false},
		{"client later than saved", "E:5", &Position{"E", 8}, state, 8, "", false},
		{"saved later than client (joined after)", "E:9", &Position{"E", 3}, state, 9, "", false},
		{"up to date", "E:10", nil, state, 10, "", false},
		{"first missed still held", "E:3", nil, state, 3, "", false},
		{"first missed trimmed", "E:2", nil, state, 0, RecoverTooFarBehind, false},
		{"nothing held any more", "E:2", nil, StreamState{Top: Position{"E", 10}}, 0, RecoverTooFarBehind, false},
		{"epoch changed (saved)", "F:5", nil, state, 0, RecoverHistoryLost, false},
		{"epoch changed (client)", "", &Position{"F", 5}, state, 0, RecoverHistoryLost, false},
		{"ahead of the stream", "E:11", nil, state, 0, RecoverHistoryLost, false},
		{"malformed saved", "E", nil, state, 0, RecoverUnknown, false},
		{"nothing known", "", nil, state, 0, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := map[string]Position{}
			var client Position
			if tc.client != nil {
				client = *tc.client
				wire["room:r"] = client
			}
			from, reason, unknown := replayFrom("room:r", tc.saved, client, wire, tc.state)
			if reason != tc.reason || unknown != tc.unknownStart || reason == "" && from.Offset != tc.from {
				t.Fatalf("replayFrom = %v, %q, %v; want offset %d, %q, %v", from, reason, unknown, tc.from, tc.reason, tc.unknownStart)
			}
		})
	}
}
