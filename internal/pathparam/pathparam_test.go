package pathparam

import (
	"net/url"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		path  string // the request path as sent
		value string // what the router handed out
		want  string
	}{
		{"plain", "/ws/lobby", "lobby", "lobby"},
		{"escaped slash taken from the raw path", "/ws/a%2Fb", "a%2Fb", "a/b"},
		{"escaped slash already decoded by the router", "/ws/a%2Fb", "a/b", "a/b"},
		{"escaped percent already decoded", "/ws/100%25", "100%", "100%"},
		{"escaped percent raw beside an escaped slash", "/ws/a%2F100%25", "a%2F100%25", "a/100%"},
		{"decoded percent beside an escaped slash", "/ws/a%2F100%2541", "a/100%41", "a/100%41"},
		{"utf-8 decoded by net/url", "/ws/caf%C3%A9", "café", "café"},
		{"value not from the path", "/ws/a%2Fb", "x%2Fy", "x%2Fy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := Unescape(u.RawPath, tt.value); got != tt.want {
				t.Errorf("Unescape(%q, %q) = %q, want %q", u.RawPath, tt.value, got, tt.want)
			}
		})
	}
}
