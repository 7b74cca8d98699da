package chat

import (
	"strings"
	"testing"
)

func TestDisplayName(t *testing.T) {
	t.Parallel()
	const id = "HUBhub00.AbCdEfGhIjKl"
	tests := []struct {
		name, requested, want string
	}{
		{"plain", "alice", "alice"},
		{"trimmed", "  bob \t", "bob"},
		{"empty", "", "guest-AbCdEf"},
		{"only spaces", "   ", "guest-AbCdEf"},
		{"32 runes", strings.Repeat("é", 32), strings.Repeat("é", 32)},
		{"33 runes", strings.Repeat("é", 33), "guest-AbCdEf"},
		{"control character", "a\x00b", "guest-AbCdEf"},
		{"newline inside", "a\nb", "guest-AbCdEf"},
		{"invalid UTF-8", "a\xffb", "guest-AbCdEf"},
		{"markup kept as text", "<img src=x>", "<img src=x>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := displayName(tt.requested, id); got != tt.want {
				t.Errorf("displayName(%q) = %q, want %q", tt.requested, got, tt.want)
			}
		})
	}
}
