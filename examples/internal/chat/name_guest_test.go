package chat

import "testing"

// TestDisplayNameGuests: guests of one hub, whose connection IDs share the
// hub's ID as their prefix, get names from the rest of their IDs.
func TestDisplayNameGuests(t *testing.T) {
	a := displayName("", "HUBhub00.AAAAAAAAAAAA")
	b := displayName("", "HUBhub00.BBBBBBBBBBBB")
	if a == b {
		t.Fatalf("two guests of one hub are both %q, want different names", a)
	}
	if got := displayName("", "noDot"); got != "guest-noDot" {
		t.Errorf("displayName for an ID without a hub part = %q, want %q", got, "guest-noDot")
	}
}
