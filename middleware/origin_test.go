package middleware

import (
	"errors"
	"net/http"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

var allowList = []string{
	"https://app.example.com",
	"https://*.example.org",
	"http://localhost:5173",
	"https://[2001:db8::1]:8443",
}

func mustOrigin(t *testing.T, cfg OriginConfig) core.MiddlewareFunc {
	t.Helper()
	mw, err := Origin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func TestOriginAllows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin string
		cfg          OriginConfig
	}{
		{"exact", "https://app.example.com", OriginConfig{}},
		{"host case", "https://APP.Example.com", OriginConfig{}},
		{"explicit default port", "https://app.example.com:443", OriginConfig{}},
		{"port", "http://localhost:5173", OriginConfig{}},
		{"wildcard", "https://chat.example.org", OriginConfig{}},
		{"wildcard nested", "https://eu.chat.example.org", OriginConfig{}},
		{"IPv6", "https://[2001:db8::1]:8443", OriginConfig{}},
		{"no Origin", "", OriginConfig{}},
		{"null allowed", "null", OriginConfig{InsecureAllowNullOrigin: true}},
	}
	forEachAdapter(t, func(t *testing.T, a adapter) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.AllowOrigins = allowList
				s := newServer(t, a, core.Config{}, app, mustOrigin(t, cfg))
				var opts []wstest.Option
				if tc.origin != "" {
					opts = append(opts, wstest.WithOrigin(tc.origin))
				}
				c := wstest.Dial(t, s.url, opts...)
				c.Expect("welcome")
				if st := s.hub.Stats(); st.Accepted != 1 || len(st.Rejected) != 0 {
					t.Fatalf("accepted %d, rejected %v", st.Accepted, st.Rejected)
				}
			})
		}
	})
}

func TestOriginRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		origin  []string
		cfg     OriginConfig
		noMatch bool
	}{
		{name: "foreign", origin: []string{"https://evil.com"}},
		{name: "look-alike suffix", origin: []string{"https://app.example.com.evil.com"}},
		{name: "look-alike prefix", origin: []string{"https://evilapp.example.com"}},
		{name: "look-alike dash", origin: []string{"https://evil-example.org"}},
		{name: "wildcard under another domain", origin: []string{"https://a.example.org.evil.com"}},
		{name: "wildcard apex not listed", origin: []string{"https://example.org"}},
		{name: "other scheme", origin: []string{"http://app.example.com"}},
		{name: "wildcard other scheme", origin: []string{"http://chat.example.org"}},
		{name: "other port", origin: []string{"https://app.example.com:8443"}},
		{name: "port 80 on https", origin: []string{"https://app.example.com:80"}},
		{name: "other port on localhost", origin: []string{"http://localhost:5174"}},
		{name: "null", origin: []string{"null"}},
		{name: "path", origin: []string{"https://app.example.com/"}},
		{name: "userinfo", origin: []string{"https://evil.com@app.example.com"}},
		{name: "garbage", origin: []string{"app.example.com"}},
		{name: "trailing dot", origin: []string{"https://app.example.com."}},
		{name: "two Origin headers", origin: []string{"https://app.example.com", "https://evil.com"}},
		{name: "missing when denied", cfg: OriginConfig{DenyMissingOrigin: true}},
	}
	forEachAdapter(t, func(t *testing.T, a adapter) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var seen error
				cfg := tc.cfg
				cfg.AllowOrigins = allowList
				cfg.ErrorHandler = func(c *core.Conn, err error) error { seen = err; return nil }
				s := newServer(t, a, core.Config{}, app, mustOrigin(t, cfg))
				good := wstest.Dial(t, s.url, wstest.WithOrigin("https://app.example.com"))
				good.Expect("welcome")

				h := http.Header{}
				for _, o := range tc.origin {
					h.Add("Origin", o)
				}
				status, msg, _ := refused(t, s.url, wstest.WithHeader(h))
				if status != http.StatusForbidden || msg != "origin not allowed" {
					t.Fatalf("refused with %d %q, want 403 origin not allowed", status, msg)
				}
				if n := rejected(s, "origin"); n != 1 {
					t.Fatalf("Rejected[origin] = %d, want 1", n)
				}
				if !errors.Is(seen, ErrOriginNotAllowed) {
					t.Fatalf("ErrorHandler saw %v", seen)
				}
				undisturbed(t, s, good, 1)
			})
		}
	})
}

// TestOriginReplacesSameOrigin shows the one place that decides: with the
// middleware, a listed cross-origin page connects; without it, the hub's
// same-origin default refuses the same request; and a skipped handshake
// falls back to the hub's check.
func TestOriginReplacesSameOrigin(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		mw := mustOrigin(t, OriginConfig{
			AllowOrigins: []string{"https://app.example.com"},
			Skipper:      func(c *core.Conn) bool { return c.Request().Header.Get("X-Skip") != "" },
		})
		with := newServer(t, a, core.Config{}, app, mw)
		c := wstest.Dial(t, with.url, wstest.WithOrigin("https://app.example.com"))
		c.Expect("welcome")
		if status, _, _ := refused(t, with.url, wstest.WithOrigin("https://app.example.com"), withHeaders("X-Skip", "1")); status != http.StatusForbidden {
			t.Fatalf("skipped handshake: status %d, want the hub's 403", status)
		}

		without := newServer(t, a, core.Config{}, app)
		if status, _, _ := refused(t, without.url, wstest.WithOrigin("https://app.example.com")); status != http.StatusForbidden {
			t.Fatalf("hub default: status %d, want 403", status)
		}
		if n := rejected(with, "origin") + rejected(without, "origin"); n != 2 {
			t.Fatalf("Rejected[origin] total %d, want 2", n)
		}
	})
}

func TestOriginConfigErrors(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{
		"*",
		"app.example.com",
		"https://",
		"https://app.example.com/",
		"https://app.example.com/path",
		"https://app.example.com?x=1",
		"https://app.example.com#x",
		"https://user@app.example.com",
		"https://*.com",
		"https://*",
		"https://a.*.example.com",
		"https://*example.com",
		"https://app.*",
		"*.example.com",
		"https://app.example.com:99999",
		"https://app.example.com:",
		"https://bücher.example",
		"https://app_example.com",
		"//app.example.com",
	} {
		t.Run(entry, func(t *testing.T) {
			if _, err := Origin(OriginConfig{AllowOrigins: []string{entry}}); err == nil {
				t.Fatalf("Origin accepted %q", entry)
			}
		})
	}
	if _, err := Origin(OriginConfig{}); err == nil {
		t.Fatal("Origin accepted an empty allowlist")
	}
}

func TestOriginMatching(t *testing.T) {
	t.Parallel()
	m, err := newOrigin(OriginConfig{AllowOrigins: []string{"https://*.example.com", "https://example.com", "http://127.0.0.1:8080", "chrome-extension://abcdefghijklmnop"}})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]bool{
		"https://example.com":                 true,
		"https://example.com:443":             true,
		"https://a.example.com":               true,
		"https://a.b.example.com":             true,
		"https://a.example.com:444":           false,
		"https://evil-example.com":            false,
		"https://a.example.com.evil.com":      false,
		"https://.example.com":                false,
		"http://127.0.0.1:8080":               true,
		"http://127.0.0.1":                    false,
		"http://1.127.0.0.1:8080":             false,
		"chrome-extension://abcdefghijklmnop": true,
		"chrome-extension://other":            false,
	} {
		if got := m.allowed(origin); got != want {
			t.Errorf("allowed(%q) = %v, want %v", origin, got, want)
		}
	}
}
