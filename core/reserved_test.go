package core_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// TestReservedEventOn: On with a reserved name says the name is reserved and
// lists the reserved names, so the fix is obvious.
func TestReservedEventOn(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 1)
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		errc <- c.On("error", func(*core.Conn, json.RawMessage) (any, error) { return nil, nil })
		return nil
	})
	wstest.Dial(t, s.url("lobby"))
	err := <-errc
	if !errors.Is(err, core.ErrInvalidEvent) {
		t.Fatalf(`On("error") = %v, want ErrInvalidEvent`, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, `"error" is reserved`) {
		t.Errorf(`On("error") = %q, want it to say "error" is reserved`, msg)
	}
	for _, name := range core.ReservedEventNames() {
		if !strings.Contains(msg, name) {
			t.Errorf(`On("error") = %q, want it to list the reserved name %q`, msg, name)
		}
	}
}

// TestReservedEventEmit: the server may not send reserved names either,
// through any target or a connection, while the library's own error events
// still reach the client.
func TestReservedEventEmit(t *testing.T) {
	t.Parallel()
	errc := make(chan error, 2)
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		errc <- c.Emit("session", nil)
		errc <- c.EmitWithAckFunc("close", nil, time.Second, func(json.RawMessage, error) {})
		return c.Join("lobby")
	})
	c := wstest.Dial(t, s.url("lobby"))
	for range 2 {
		if err := <-errc; !errors.Is(err, core.ErrInvalidEvent) || !strings.Contains(err.Error(), "is reserved") {
			t.Errorf("Conn emit of a reserved name = %v, want ErrInvalidEvent saying it is reserved", err)
		}
	}
	for _, name := range core.ReservedEventNames() {
		if _, err := s.hub.Broadcast().Emit(name, "x"); !errors.Is(err, core.ErrInvalidEvent) || !strings.Contains(err.Error(), "is reserved") {
			t.Errorf("Broadcast().Emit(%q) = %v, want ErrInvalidEvent saying it is reserved", name, err)
		}
		if _, err := s.hub.To("lobby").Emit(name, "x"); !errors.Is(err, core.ErrInvalidEvent) {
			t.Errorf("To(lobby).Emit(%q) = %v, want ErrInvalidEvent", name, err)
		}
	}
	// The library's own "error" event still goes out.
	c.Emit("nobody-handles-this", nil)
	c.ExpectError(core.CodeUnknownEvent)
}

// TestReservedEventNamesMatchClient: the JS client refuses the same names
// (its RESERVED set), so neither side accepts what the other refuses.
func TestReservedEventNamesMatchClient(t *testing.T) {
	t.Parallel()
	script := string(client.Script())
	const start = "const RESERVED = new Set(["
	i := strings.Index(script, start)
	if i < 0 {
		t.Fatalf("client/rushws.js has no %q", start)
	}
	list, _, ok := strings.Cut(script[i+len(start):], "]")
	if !ok {
		t.Fatal("client/rushws.js: RESERVED is not closed")
	}
	var js []string
	if err := json.Unmarshal([]byte("["+list+"]"), &js); err != nil {
		t.Fatalf("client/rushws.js RESERVED %q: %v", list, err)
	}
	slices.Sort(js)
	if goNames := core.ReservedEventNames(); !slices.Equal(js, goNames) {
		t.Fatalf("reserved event names: JS client %v, core %v", js, goNames)
	}
}
