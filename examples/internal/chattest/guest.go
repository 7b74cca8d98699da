package chattest

import (
	"strings"
	"testing"

	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/wstest"
)

// testGuests: two connections without a name, on the same hub, get two
// different guest names. Every connection ID of a hub starts with the hub's
// ID, so a name cut from the start of the ID would be the same for all.
func testGuests(t *testing.T, newApp NewAppFunc) {
	srv, _ := startApp(t, newApp)
	first := wstest.Dial(t, srv.URL+"/ws/lobby")
	var a chat.Presence
	first.ExpectInto("joined", &a)
	second := wstest.Dial(t, srv.URL+"/ws/lobby")
	var b chat.Presence
	second.ExpectInto("joined", &b)
	if !strings.HasPrefix(a.Name, "guest-") || !strings.HasPrefix(b.Name, "guest-") {
		t.Fatalf("guest names = %q and %q, want both to start with \"guest-\"", a.Name, b.Name)
	}
	if a.Name == b.Name {
		t.Fatalf("two guests on one hub are both called %q, want different names", a.Name)
	}
}
