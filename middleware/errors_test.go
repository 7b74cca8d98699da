package middleware

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
)

// refusalError runs mw on a handshake request built by edit and returns
// the error the hub hands to the framework, whose loggers print it.
func refusalError(t *testing.T, mw core.MiddlewareFunc, edit func(r *http.Request)) error {
	t.Helper()
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	r := httptest.NewRequest(http.MethodGet, "http://app.example.com/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	edit(r)
	err = hub.Serve(httptest.NewRecorder(), r, core.ConnInfo{}, func(*core.Conn) error { return nil }, mw)
	if err == nil {
		t.Fatal("handshake accepted, want a refusal")
	}
	return err
}

// TestRefusalMessages pins the text a framework logs for refusals: the
// Origin and what it was compared with, quoted, escaped and cut; JWT
// reasons once, plainly, without the token.
func TestRefusalMessages(t *testing.T) {
	t.Parallel()
	origin, err := Origin(OriginConfig{AllowOrigins: []string{"https://app.example.com", "https://*.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := Origin(OriginConfig{AllowOrigins: []string{"https://app.example.com"}, DenyMissingOrigin: true})
	if err != nil {
		t.Fatal(err)
	}
	auth := mustJWT(t, JWTConfig{SigningKey: secret})
	expired := hs256(t, "sub", "alice", "exp", float64(1))
	long := "https://" + strings.Repeat("a", 200) + ".example.org"
	tests := []struct {
		name    string
		mw      core.MiddlewareFunc
		edit    func(r *http.Request)
		want    string
		is      error
		notWant string
	}{
		{
			name: "foreign origin",
			mw:   origin,
			edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil.example.org") },
			want: `rushws: handshake refused: 403 origin not allowed: origin "https://evil.example.org" matches none of ` +
				`the allowlist [https://app.example.com https://*.example.com]`,
			is: ErrOriginNotAllowed,
		},
		{
			name: "origin with control characters is escaped",
			mw:   origin,
			edit: func(r *http.Request) { r.Header.Set("Origin", "https://evil\x1b[31m.example") },
			want: `rushws: handshake refused: 403 origin not allowed: origin "https://evil\x1b[31m.example" matches none of ` +
				`the allowlist [https://app.example.com https://*.example.com]`,
			is: ErrOriginNotAllowed,
		},
		{
			name: "long origin is cut",
			mw:   origin,
			edit: func(r *http.Request) { r.Header.Set("Origin", long) },
			want: `rushws: handshake refused: 403 origin not allowed: origin "` + long[:100] + `"... matches none of ` +
				`the allowlist [https://app.example.com https://*.example.com]`,
			is: ErrOriginNotAllowed,
		},
		{
			name: "null origin",
			mw:   origin,
			edit: func(r *http.Request) { r.Header.Set("Origin", "null") },
			want: `rushws: handshake refused: 403 origin not allowed: origin "null" (a sandboxed or file:// page), and InsecureAllowNullOrigin is not set`,
			is:   ErrOriginNotAllowed,
		},
		{
			name: "missing origin",
			mw:   strict,
			edit: func(r *http.Request) {},
			want: `rushws: handshake refused: 403 origin not allowed: no Origin header, and DenyMissingOrigin is set`,
			is:   ErrOriginNotAllowed,
		},
		{
			name: "missing token",
			mw:   auth,
			edit: func(r *http.Request) {},
			want: `rushws: handshake refused: 401 missing token: jwt: looked in header "Authorization", subprotocol "bearer."`,
			is:   ErrTokenMissing,
		},
		{
			name:    "expired token",
			mw:      auth,
			edit:    func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+expired) },
			want:    `rushws: handshake refused: 401 token expired: jwt: token from header "Authorization": token has invalid claims: token is expired`,
			notWant: expired,
		},
		{
			name:    "badly signed token from a query",
			mw:      mustJWT(t, JWTConfig{SigningKey: secret, TokenLookup: "query:token"}),
			edit:    func(r *http.Request) { r.URL.RawQuery = "token=" + expired + "x" },
			want:    `rushws: handshake refused: 401 invalid token: jwt: token from query "token": token signature is invalid: signature is invalid`,
			notWant: expired,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := refusalError(t, tt.mw, tt.edit)
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			if strings.Count(err.Error(), "rushws:") != 1 {
				t.Errorf("error %q repeats its prefix", err)
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant[:20]) {
				t.Errorf("error %q holds the token", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}
