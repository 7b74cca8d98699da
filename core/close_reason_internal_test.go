package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCloseReasonIsUTF8 checks that a close frame's reason stays within
// the 123 bytes a close frame allows, is valid UTF-8 however the caller's
// reason was cut or spelled, and keeps what fits.
func TestCloseReasonIsUTF8(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reason, want string
	}{
		{"short", "bye", "bye"},
		{"cut between characters", strings.Repeat("é", 100), strings.Repeat("é", 61)},
		{"cut inside a character", "x" + strings.Repeat("é", 100), "x" + strings.Repeat("é", 61)},
		{"invalid bytes dropped", "bad\xffreason", "badreason"},
	} {
		o := closeOut(CloseNormal, tc.reason)
		got := string(o.payload()[2:])
		if got != tc.want || len(got) > maxCloseReason || !utf8.ValidString(got) {
			t.Errorf("%s: reason %q (%d bytes), want %q", tc.name, got, len(got), tc.want)
		}
	}
}
