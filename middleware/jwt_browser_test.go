package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// TestJWTKeyErrors: an empty key says it is empty and how it usually
// comes to be; a key of the wrong type says which type is wanted; an HMAC
// key shorter than the hash output (RFC 7518, section 3.2) names the
// sizes.
func TestJWTKeyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		key    any
		want   []string // substrings of the error; none: accepted
	}{
		{"unset environment variable", "HS256", []byte(nil), []string{"HS256 secret is empty", "set it", `os.Getenv("JWT_SECRET")`}},
		{"empty", "HS256", []byte{}, []string{"secret is empty"}},
		{"a string", "HS256", "secret", []string{"[]byte", "not a string"}},
		{"an int", "HS256", 42, []string{"needs a []byte secret, not int"}},
		{"HS256 short", "HS256", make([]byte, 31), []string{"HS256 secret is 31 bytes", "RFC 7518", "32 bytes for HS256, 48 for HS384 and 64 for HS512"}},
		{"HS384 short", "HS384", make([]byte, 47), []string{"HS384 secret is 47 bytes", "use 48 or more"}},
		{"HS512 short", "HS512", make([]byte, 63), []string{"HS512 secret is 63 bytes", "use 64 or more"}},
		{"HS256 enough", "HS256", make([]byte, 32), nil},
		{"HS384 enough", "HS384", make([]byte, 48), nil},
		{"HS512 enough", "HS512", make([]byte, 64), nil},
	}
	for _, tt := range tests {
		_, err := JWT(JWTConfig{SigningKey: tt.key, SigningMethod: tt.method})
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v, want accepted", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted, want an error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
		if !strings.Contains(err.Error(), "JWTConfig.SigningKey") {
			t.Errorf("%s: error %q does not name the field", tt.name, err)
		}
	}
	// The same checks for every key of SigningKeys, by kid.
	_, err := JWT(JWTConfig{SigningKeys: map[string]any{"k1": []byte("short")}})
	if err == nil || !strings.Contains(err.Error(), `SigningKeys["k1"]`) || !strings.Contains(err.Error(), "5 bytes") {
		t.Errorf("short key in SigningKeys: %v", err)
	}
}

// TestJWTSubprotocolForBrowsers: a browser sends its token as a
// subprotocol entry beside the app's protocol. With the app's protocol
// missing from core.Config.Subprotocols, the JWT middleware selects it, so
// the browser connects (it fails a 101 that selects none of its offers);
// with only the token entry offered, the handshake is refused with a
// message saying what to offer, and counted.
func TestJWTSubprotocolForBrowsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		hub      []string
		offer    func(tok string) []string
		selected string
		status   int
	}{
		{"app protocol not configured", nil, func(tok string) []string { return []string{"chat.v1", "bearer." + tok} }, "chat.v1", 0},
		{"token first", nil, func(tok string) []string { return []string{"bearer." + tok, "chat.v1"} }, "chat.v1", 0},
		{"app protocol configured", []string{"chat.v2", "chat.v1"}, func(tok string) []string { return []string{"chat.v1", "chat.v2", "bearer." + tok} }, "chat.v2", 0},
		{"token alone", nil, func(tok string) []string { return []string{"bearer." + tok} }, "", http.StatusBadRequest},
		{"token alone, hub lists protocols", []string{"chat.v1"}, func(tok string) []string { return []string{"bearer." + tok} }, "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			hub, err := core.NewHub(core.Config{Subprotocols: tt.hub, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = hub.Close() })
			srv := httptest.NewServer(hub.Handler(app, mustJWT(t, JWTConfig{SigningKey: secret})))
			t.Cleanup(srv.Close)

			tok := hs256(t)
			offered := tt.offer(tok)
			d := websocket.Dialer{Subprotocols: offered}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, wsURL(srv.URL), nil)
			if tt.status != 0 {
				if err == nil {
					ws.Close()
					t.Fatal("handshake accepted, want it refused")
				}
				body := make([]byte, 512)
				n, _ := resp.Body.Read(body)
				if resp.StatusCode != tt.status || !strings.Contains(string(body[:n]), "offer the app's protocol too") {
					t.Errorf("refused with %d %s, want %d and what to offer", resp.StatusCode, body[:n], tt.status)
				}
				if strings.Contains(string(body[:n]), tok) {
					t.Error("the refusal repeats the token")
				}
				if n := hub.Stats().Rejected["subprotocol"]; n != 1 {
					t.Errorf(`Stats.Rejected["subprotocol"] = %d, want 1`, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer ws.Close()
			sel := resp.Header.Get("Sec-Websocket-Protocol")
			if sel != tt.selected {
				t.Errorf("101 selects %q, want %q (a browser fails a 101 that selects none of its offers)", sel, tt.selected)
			}
			if strings.Contains(sel, tok) {
				t.Error("the 101 echoes the token")
			}
			if n := hub.Stats().UnnegotiatedSubprotocols; n != 0 {
				t.Errorf("Stats.UnnegotiatedSubprotocols = %d, want 0", n)
			}
			if strings.Contains(logs.String(), tok) {
				t.Errorf("the log holds the token:\n%s", logs)
			}
		})
	}
}
