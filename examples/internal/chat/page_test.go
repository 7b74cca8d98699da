package chat

import (
	"strings"
	"testing"
)

func TestPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, framework, want string
	}{
		{"echo", "Echo", "<title>rushws chat (Echo)</title>"},
		{"gin", "Gin", "<h1>rushws chat <small>(Gin)</small></h1>"},
		{"markup escaped", "<b>", "<title>rushws chat (&lt;b&gt;)</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if page := string(Page(tt.framework)); !strings.Contains(page, tt.want) || strings.Contains(page, "{{") {
				t.Errorf("Page(%q) has no %q", tt.framework, tt.want)
			}
		})
	}
}
