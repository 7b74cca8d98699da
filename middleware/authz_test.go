package middleware

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

var ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// signer is one signing algorithm of the table: how tokens are signed and
// how the JWT middleware verifies them.
type signer struct {
	alg    jwt.SigningMethod
	sign   any
	verify any
}

func signers() []signer {
	return []signer{
		{jwt.SigningMethodHS256, secret, secret},
		{jwt.SigningMethodRS256, rsaKey(), &rsaKey().PublicKey},
		{jwt.SigningMethodES256, ecKey(), &ecKey().PublicKey},
	}
}

// authzRules are the rules under test, by name; each guards a route
// (/r/<name>) and an event (<name>).
func authzRules(t *testing.T) map[string]*Rule {
	nested, err := NewAuthorizer(AuthzConfig{RolesClaim: "realm_access.roles"})
	if err != nil {
		t.Fatal(err)
	}
	custom, err := NewAuthorizer(AuthzConfig{ScopeClaim: "scp", PermissionsClaim: "perms"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Rule{
		"role":        RequireRole("admin"),
		"any-role":    RequireAnyRole("admin", "moderator"),
		"scope":       RequireScope("chat:write"),
		"scopes":      RequireScope("chat:read", "chat:write"),
		"permission":  RequirePermission("moderate"),
		"predicate":   RequireClaims("same tenant", func(c *core.Conn, cl Claims) bool { return cl["tenant"] == c.Param("tenant") }),
		"nested-role": nested.RequireRole("admin"),
		"scp-only":    custom.RequireScope("chat:write"),
		"perms":       custom.RequirePermission("moderate"),
	}
}

// authzServer serves, behind the JWT middleware for s, a route per rule
// (/r/<rule>/<tenant>) and an events route (/ev/<tenant>) whose event
// <rule> is guarded by that rule; /anon/... the same without
// authentication.
type authzServer struct {
	hub *core.Hub
	url string
}

func newAuthzServer(t *testing.T, s signer, rules map[string]*Rule) *authzServer {
	t.Helper()
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	auth := mustJWT(t, JWTConfig{SigningKey: s.verify, SigningMethod: s.alg.Alg()})
	events := func(c *core.Conn) error {
		for name, r := range rules {
			if err := c.On(name, func(*core.Conn, json.RawMessage) (any, error) { return "done", nil }, r.Event); err != nil {
				return err
			}
		}
		return c.Emit("welcome", nil)
	}
	mux := http.NewServeMux()
	for name, r := range rules {
		mux.Handle("/r/"+name+"/{tenant}", hub.Handler(app, auth, r.Handshake))
		mux.Handle("/anon/r/"+name+"/{tenant}", hub.Handler(app, r.Handshake))
	}
	mux.Handle("/ev/{tenant}", hub.Handler(events, auth))
	mux.Handle("/anon/ev/{tenant}", hub.Handler(events))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &authzServer{hub: hub, url: srv.URL}
}

// TestAuthzRules runs every case with tokens signed by HS256, RS256 and
// ES256, each as a handshake rule (101 or 403) and as an event rule (the
// handler's reply or forbidden).
func TestAuthzRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims jwt.MapClaims
		rule   string
		allow  bool
	}{
		{"role in an array", jwt.MapClaims{"roles": []string{"user", "admin"}}, "role", true},
		{"role as a string", jwt.MapClaims{"roles": "admin"}, "role", true},
		{"roles space-separated", jwt.MapClaims{"roles": "user admin"}, "role", true},
		{"other role", jwt.MapClaims{"roles": []string{"moderator"}}, "role", false},
		{"role differs in case", jwt.MapClaims{"roles": []string{"Admin"}}, "role", false},
		{"roles missing", jwt.MapClaims{}, "role", false},
		{"roles null", jwt.MapClaims{"roles": nil}, "role", false},
		{"roles a number", jwt.MapClaims{"roles": 42}, "role", false},
		{"roles an object", jwt.MapClaims{"roles": map[string]any{"admin": true}}, "role", false},
		{"roles array holding a number", jwt.MapClaims{"roles": []any{"admin", 7}}, "role", false},
		{"any role: the second", jwt.MapClaims{"roles": []string{"moderator"}}, "any-role", true},
		{"any role: none", jwt.MapClaims{"roles": []string{"user"}}, "any-role", false},
		{"scope space-separated", jwt.MapClaims{"scope": "chat:read chat:write"}, "scope", true},
		{"scope alone", jwt.MapClaims{"scope": "chat:write"}, "scope", true},
		{"scope missing one", jwt.MapClaims{"scope": "chat:read"}, "scope", false},
		{"scope is a prefix only", jwt.MapClaims{"scope": "chat:writer"}, "scope", false},
		{"scopes all present", jwt.MapClaims{"scope": "chat:write chat:read"}, "scopes", true},
		{"scopes one missing", jwt.MapClaims{"scope": "chat:write"}, "scopes", false},
		{"scp array when no scope", jwt.MapClaims{"scp": []string{"chat:write"}}, "scope", true},
		{"scope wins over scp", jwt.MapClaims{"scope": "chat:read", "scp": []string{"chat:write"}}, "scope", false},
		{"scope malformed", jwt.MapClaims{"scope": 3.5}, "scope", false},
		{"permission in an array", jwt.MapClaims{"permissions": []string{"broadcast", "moderate"}}, "permission", true},
		{"permission as a string", jwt.MapClaims{"permissions": "moderate"}, "permission", true},
		{"permissions empty", jwt.MapClaims{"permissions": []string{}}, "permission", false},
		{"permissions malformed", jwt.MapClaims{"permissions": true}, "permission", false},
		{"predicate holds", jwt.MapClaims{"tenant": "acme"}, "predicate", true},
		{"predicate fails", jwt.MapClaims{"tenant": "globex"}, "predicate", false},
		{"nested roles", jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"admin"}}}, "nested-role", true},
		{"nested roles missing", jwt.MapClaims{"realm_access": map[string]any{}}, "nested-role", false},
		{"nested roles under a string", jwt.MapClaims{"realm_access": "admin"}, "nested-role", false},
		{"configured scope claim", jwt.MapClaims{"scp": "chat:write"}, "scp-only", true},
		{"configured scope claim ignores scope", jwt.MapClaims{"scope": "chat:write"}, "scp-only", false},
		{"configured permissions claim", jwt.MapClaims{"perms": []string{"moderate"}}, "perms", true},
	}
	rules := authzRules(t)
	for _, s := range signers() {
		t.Run(s.alg.Alg(), func(t *testing.T) {
			t.Parallel()
			srv := newAuthzServer(t, s, rules)
			refusedEvents := map[string]uint64{}
			forbidden := uint64(0)
			for _, tt := range tests {
				claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
				for k, v := range tt.claims {
					claims[k] = v
				}
				tok := sign(t, s.alg, s.sign, claims, nil)

				// As a handshake rule.
				url := srv.url + "/r/" + tt.rule + "/acme"
				if tt.allow {
					wstest.Dial(t, url, bearer(tok)).Expect("welcome")
				} else {
					status, msg, _ := refused(t, url, bearer(tok))
					forbidden++
					if status != http.StatusForbidden || !strings.HasSuffix(msg, " required") {
						t.Errorf("%s: handshake refused with %d %q, want 403 naming the requirement", tt.name, status, msg)
					}
				}

				// As an event rule.
				c := wstest.Dial(t, srv.url+"/ev/acme", bearer(tok))
				c.Expect("welcome")
				r := c.EmitWithAck(tt.rule, nil)
				switch {
				case tt.allow && (r.Err != nil || string(r.Data) != `"done"`):
					t.Errorf("%s: event reply %s %+v, want done", tt.name, r.Data, r.Err)
				case !tt.allow && (r.Err == nil || r.Err.Code != core.CodeForbidden || !strings.HasSuffix(r.Err.Message, " required")):
					t.Errorf("%s: event reply %s %+v, want forbidden naming the requirement", tt.name, r.Data, r.Err)
				case !tt.allow:
					refusedEvents[ruleReason(tt.rule)]++
				}
				c.Close()
			}
			st := srv.hub.Stats()
			if st.Rejected["forbidden"] != forbidden {
				t.Errorf(`Stats.Rejected["forbidden"] = %d, want %d`, st.Rejected["forbidden"], forbidden)
			}
			for reason, n := range refusedEvents {
				if st.EventsRefused[reason] != n {
					t.Errorf("Stats.EventsRefused[%q] = %d, want %d (all: %v)", reason, st.EventsRefused[reason], n, st.EventsRefused)
				}
			}
		})
	}
}

// ruleReason is the Stats reason of a refusal by the named test rule.
func ruleReason(rule string) string {
	switch {
	case strings.Contains(rule, "role"):
		return core.RefuseRole
	case strings.Contains(rule, "scope"), rule == "scp-only":
		return core.RefuseScope
	case strings.Contains(rule, "perm"):
		return core.RefusePermission
	}
	return core.RefuseClaims
}

// TestAuthzWithoutClaims: without verified claims a handshake is refused
// with 401 and an event as unauthenticated.
func TestAuthzWithoutClaims(t *testing.T) {
	t.Parallel()
	srv := newAuthzServer(t, signers()[0], authzRules(t))
	status, msg, h := refused(t, srv.url+"/anon/r/role/acme")
	if status != http.StatusUnauthorized || msg != "authentication required" || h.Get("Www-Authenticate") != "Bearer" {
		t.Errorf("refused with %d %q (WWW-Authenticate %q), want 401 authentication required, Bearer", status, msg, h.Get("Www-Authenticate"))
	}
	c := wstest.Dial(t, srv.url+"/anon/ev/acme")
	c.Expect("welcome")
	c.Emit("role", nil)
	if e := c.ExpectError(core.CodeForbidden); e.Message != "authentication required" {
		t.Errorf("error event %q, want authentication required", e.Message)
	}
	st := srv.hub.Stats()
	if st.Rejected["unauthorized"] != 1 || st.EventsRefused[core.RefuseUnauthenticated] != 1 {
		t.Errorf("Stats: rejected %v, events refused %v; want unauthorized 1, unauthenticated 1", st.Rejected, st.EventsRefused)
	}
}

// TestAuthzClaimForms reads the claims from every form middleware store
// them in, under "user": a verified *jwt.Token, MapClaims, a map, a claims
// struct; and refuses what is not claims (a string, an unverified token).
func TestAuthzClaimForms(t *testing.T) {
	t.Parallel()
	type roleClaims struct {
		jwt.RegisteredClaims
		Roles []string `json:"roles"`
	}
	tests := []struct {
		name  string
		value any
		allow bool
	}{
		{"verified token", &jwt.Token{Valid: true, Claims: jwt.MapClaims{"roles": []any{"admin"}}}, true},
		{"verified token with struct claims", &jwt.Token{Valid: true, Claims: &roleClaims{Roles: []string{"admin"}}}, true},
		{"unverified token", &jwt.Token{Claims: jwt.MapClaims{"roles": []any{"admin"}}}, false},
		{"jwt.MapClaims", jwt.MapClaims{"roles": []any{"admin"}}, true},
		{"map[string]any", map[string]any{"roles": "admin"}, true},
		{"Claims", Claims{"roles": []string{"admin"}}, true},
		{"claims struct", roleClaims{Roles: []string{"admin"}}, true},
		{"claims struct without the role", &roleClaims{Roles: []string{"user"}}, false},
		{"a string", "alice", false},
		{"a channel", make(chan int), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = hub.Close() })
			set := func(next core.HandlerFunc) core.HandlerFunc {
				return func(c *core.Conn) error { c.Set("user", tt.value); return next(c) }
			}
			srv := httptest.NewServer(hub.Handler(func(c *core.Conn) error { return c.Emit("welcome", nil) }, set, RequireRole("admin").Handshake))
			t.Cleanup(srv.Close)
			if tt.allow {
				wstest.Dial(t, srv.URL).Expect("welcome")
				return
			}
			if status, _, _ := refused(t, srv.URL); status != http.StatusUnauthorized && status != http.StatusForbidden {
				t.Errorf("status %d, want 401 or 403", status)
			}
		})
	}
}

// TestAuthzCloseOnFailure: a route for browsers accepts and closes with
// 4403 (4401 without claims), so the page can read why.
func TestAuthzCloseOnFailure(t *testing.T) {
	t.Parallel()
	a, err := NewAuthorizer(AuthzConfig{CloseOnFailure: true})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	ran := make(chan struct{}, 4)
	handler := func(c *core.Conn) error { ran <- struct{}{}; return c.Emit("welcome", nil) }
	mux := http.NewServeMux()
	mux.Handle("/ws", hub.Handler(handler, mustJWT(t, JWTConfig{SigningKey: secret, ContinueOnIgnoredError: true,
		ErrorHandler: func(*core.Conn, error) error { return nil }}), a.RequireRole("admin").Handshake))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	c := wstest.Dial(t, srv.URL+"/ws", bearer(hs256(t, "roles", []string{"user"})))
	if reason := c.ExpectClose(core.CloseForbidden); reason != `role "admin" required` {
		t.Errorf("close reason %q", reason)
	}
	c = wstest.Dial(t, srv.URL+"/ws")
	if reason := c.ExpectClose(core.CloseUnauthorized); reason != "authentication required" {
		t.Errorf("close reason %q", reason)
	}
	wstest.Dial(t, srv.URL+"/ws", bearer(hs256(t, "roles", []string{"admin"}))).Expect("welcome")
	if n := len(ran); n != 1 {
		t.Errorf("route handler ran %d times, want once (only for the admin)", n)
	}
}

func TestAuthorizerConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]AuthzConfig{
		"blank roles claim":  {RolesClaim: " "},
		"dotted scope claim": {ScopeClaim: "a."},
		"leading dot":        {PermissionsClaim: ".perms"},
		"blank context key":  {ContextKey: "\t"},
	} {
		if _, err := NewAuthorizer(cfg); err == nil || !strings.Contains(err.Error(), "AuthzConfig.") {
			t.Errorf("%s: %v, want an error naming the field", name, err)
		}
	}
	// A rule made from an empty list fails closed.
	if ok, _ := RequireScope().check(nil, Claims{"scope": "a"}); ok {
		t.Error("RequireScope() with no scope admitted a connection")
	}
	if ok, _ := RequireAnyRole().check(nil, Claims{"roles": "a"}); ok {
		t.Error("RequireAnyRole() with no role admitted a connection")
	}
}

// TestClaimsStrings covers the list forms of a claim, and the errors that
// name a malformed one.
func TestClaimsStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value any
		want  string
		err   string
	}{
		{"array", []any{"a", "b"}, "a|b", ""},
		{"[]string", []string{"a"}, "a", ""},
		{"space-separated", " a  b\tc ", "a|b|c", ""},
		{"empty string", "", "", ""},
		{"number", 1.0, "", `claim "x" is a number`},
		{"bool", true, "", `claim "x" is a boolean`},
		{"object", map[string]any{}, "", `claim "x" is an object`},
		{"array with a number", []any{"a", 1.0}, "", `claim "x": element 1 is a number`},
	}
	for _, tt := range tests {
		got, err := Claims{"x": tt.value}.Strings("x")
		if tt.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if got, err := (Claims{}).Strings("x"); got != nil || err != nil {
		t.Errorf("missing claim: %q, %v; want none", got, err)
	}
}
