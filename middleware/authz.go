package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rushws/rushws/core"
)

// Claims are verified claims as the authorization rules read them: the
// JSON object of a token's payload, whatever form the authentication
// middleware stored it in.
type Claims map[string]any

// Value returns the claim called name. A name with dots ("realm_access.roles")
// walks nested objects when no claim has the whole name.
func (cl Claims) Value(name string) (any, bool) {
	if v, ok := cl[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = map[string]any(cl)
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Strings returns the claim called name as a list: a JSON array of strings,
// or a string holding space-separated values (the form of OAuth's "scope",
// RFC 8693 section 4.2, and of single roles). A missing claim is an empty
// list; a claim of another type (a number, an object, an array holding
// anything but strings) is an error that names the claim.
func (cl Claims) Strings(name string) ([]string, error) {
	v, ok := cl.Value(name)
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case string:
		return strings.Fields(t), nil
	case []string:
		return t, nil
	case []any:
		out := make([]string, 0, len(t))
		for i, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %q: element %d is %s, want a string", name, i, jsonType(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("claim %q is %s, want an array of strings or a space-separated string", name, jsonType(v))
}

// jsonType names the JSON type of a decoded value, with its article.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// errNoClaims is the cause of a refusal for want of verified claims.
var errNoClaims = errors.New("no verified claims on the connection")

// AuthzConfig configures an [Authorizer]: where the verified claims are and
// what the role, scope and permission claims are called. The zero value
// reads the claims the JWT middleware, echo-jwt or a Gin middleware stored
// under "user".
type AuthzConfig struct {
	// Skipper lets a handshake through without a check. It is not
	// consulted for events. Optional. Default DefaultSkipper (never skip).
	Skipper Skipper

	// ContextKey is the Conn metadata key the claims are read from, as
	// stored by the JWT middleware (a *jwt.Token), by echo-jwt and copied
	// by echows and echo5ws (a *jwt.Token), or by a Gin middleware and
	// copied by ginws (jwt.MapClaims, map[string]any, jwt.Claims, or a
	// struct that encodes to the claims' JSON). Optional. Default "user".
	ContextKey string
	// ClaimsFunc replaces the lookup under ContextKey: it returns the
	// verified claims of the connection, or nil when it has none. Optional.
	ClaimsFunc func(c *core.Conn) (Claims, error)

	// RolesClaim names the claim holding roles: an array of strings or a
	// space-separated string. A dotted name reads a nested object
	// ("realm_access.roles"). Optional. Default "roles".
	RolesClaim string
	// ScopeClaim names the claim holding OAuth scopes: a space-separated
	// string (RFC 8693, section 4.2) or an array. With the default name, a
	// token without "scope" is read for "scp" too, where some identity
	// providers put an array. Optional. Default "scope".
	ScopeClaim string
	// PermissionsClaim names the claim holding permissions: an array of
	// strings or a space-separated string. Optional. Default
	// "permissions".
	PermissionsClaim string

	// CloseOnFailure accepts a refused handshake and closes the connection
	// at once with 4403 (4401 when it has no claims) and the reason, because
	// a browser only sees 1006 for a refused handshake; the JS client stops
	// reconnecting on these codes. Set it on routes browsers use. The hub
	// counts such connections as accepted. Optional. Default false: 403
	// (401 without claims) before the upgrade.
	CloseOnFailure bool
}

// Authorizer makes authorization rules that share one AuthzConfig. It is
// safe for concurrent use.
type Authorizer struct {
	cfg AuthzConfig
}

// NewAuthorizer returns an Authorizer for cfg, with its defaults filled
// in. It returns an error for a claim name that is blank.
func NewAuthorizer(cfg AuthzConfig) (*Authorizer, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultSkipper
	}
	if cfg.ContextKey == "" {
		cfg.ContextKey = defaultContextKey
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.ScopeClaim == "" {
		cfg.ScopeClaim = "scope"
	}
	if cfg.PermissionsClaim == "" {
		cfg.PermissionsClaim = "permissions"
	}
	var errs []error
	for field, v := range map[string]string{"ContextKey": cfg.ContextKey, "RolesClaim": cfg.RolesClaim,
		"ScopeClaim": cfg.ScopeClaim, "PermissionsClaim": cfg.PermissionsClaim} {
		if strings.TrimSpace(v) == "" || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") {
			errs = append(errs, fmt.Errorf("rushws: AuthzConfig.%s %q is not a claim name", field, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Authorizer{cfg: cfg}, nil
}

// defaultAuthorizer serves the package-level rules; it is never changed.
var defaultAuthorizer, _ = NewAuthorizer(AuthzConfig{})

// Rule is one authorization check over a connection's verified claims,
// usable as handshake middleware (Rule.Handshake, a core.MiddlewareFunc)
// and as event middleware (Rule.Event, a core.EventMiddlewareFunc):
//
//	mod := middleware.RequireRole("moderator")
//	echows.WS(e, "/admin", hub, admin, auth, mod.Handshake)   // the route
//	c.On("ban", ban, mod.Event)                                // one event
//
// A Rule is safe for concurrent use.
type Rule struct {
	a      *Authorizer
	reason string // core.Refuse*: the rule's kind, in Stats.EventsRefused
	what   string // what is required, for messages: `role "admin"`
	check  func(c *core.Conn, cl Claims) (bool, error)
}

// RequireRole returns a rule that admits connections whose claims hold
// role among their roles (AuthzConfig.RolesClaim).
func (a *Authorizer) RequireRole(role string) *Rule {
	return a.RequireAnyRole(role)
}

// RequireAnyRole returns a rule that admits connections whose claims hold
// at least one of roles. Without roles it admits nobody.
func (a *Authorizer) RequireAnyRole(roles ...string) *Rule {
	what := "role " + quoteList(roles, " or ")
	if len(roles) > 1 {
		what = "one of the roles " + quoteList(roles, ", ")
	}
	return &Rule{a: a, reason: core.RefuseRole, what: what, check: func(_ *core.Conn, cl Claims) (bool, error) {
		have, err := cl.Strings(a.cfg.RolesClaim)
		return containsAny(have, roles), err
	}}
}

// RequireScope returns a rule that admits connections whose claims hold
// every one of scopes (AuthzConfig.ScopeClaim). Without scopes it admits
// nobody.
func (a *Authorizer) RequireScope(scopes ...string) *Rule {
	return &Rule{a: a, reason: core.RefuseScope, what: plural("scope", scopes), check: func(_ *core.Conn, cl Claims) (bool, error) {
		have, err := cl.Strings(a.cfg.ScopeClaim)
		if err == nil && a.cfg.ScopeClaim == "scope" {
			if _, ok := cl["scope"]; !ok {
				have, err = cl.Strings("scp")
			}
		}
		return containsAll(have, scopes), err
	}}
}

// RequirePermission returns a rule that admits connections whose claims
// hold every one of perms (AuthzConfig.PermissionsClaim). Without perms it
// admits nobody.
func (a *Authorizer) RequirePermission(perms ...string) *Rule {
	return &Rule{a: a, reason: core.RefusePermission, what: plural("permission", perms), check: func(_ *core.Conn, cl Claims) (bool, error) {
		have, err := cl.Strings(a.cfg.PermissionsClaim)
		return containsAll(have, perms), err
	}}
}

// RequireClaims returns a rule that admits connections for which pred
// returns true, given the connection (its params, its metadata) and its
// verified claims. name describes the check in refusals ("same tenant").
// pred runs on handshake goroutines and read goroutines, concurrently for
// different connections.
func (a *Authorizer) RequireClaims(name string, pred func(c *core.Conn, claims Claims) bool) *Rule {
	return &Rule{a: a, reason: core.RefuseClaims, what: strconv.Quote(name), check: func(c *core.Conn, cl Claims) (bool, error) {
		return pred(c, cl), nil
	}}
}

// RequireRole is [Authorizer.RequireRole] with the default AuthzConfig.
func RequireRole(role string) *Rule { return defaultAuthorizer.RequireRole(role) }

// RequireAnyRole is [Authorizer.RequireAnyRole] with the default
// AuthzConfig.
func RequireAnyRole(roles ...string) *Rule { return defaultAuthorizer.RequireAnyRole(roles...) }

// RequireScope is [Authorizer.RequireScope] with the default AuthzConfig.
func RequireScope(scopes ...string) *Rule { return defaultAuthorizer.RequireScope(scopes...) }

// RequirePermission is [Authorizer.RequirePermission] with the default
// AuthzConfig.
func RequirePermission(perms ...string) *Rule { return defaultAuthorizer.RequirePermission(perms...) }

// RequireClaims is [Authorizer.RequireClaims] with the default
// AuthzConfig.
func RequireClaims(name string, pred func(c *core.Conn, claims Claims) bool) *Rule {
	return defaultAuthorizer.RequireClaims(name, pred)
}

// Check reports whether c passes the rule: nil, or a *core.RefusedError
// that says why not (its Reason is core.RefuseUnauthenticated when c has
// no verified claims, else the rule's kind). Handlers call it for checks
// that depend on the data, such as "only moderators may delete others'
// messages".
func (r *Rule) Check(c *core.Conn) error {
	cl, err := r.a.claims(c)
	if err != nil || cl == nil {
		if err == nil {
			err = errNoClaims
		}
		return &core.RefusedError{Reason: core.RefuseUnauthenticated, Message: "authentication required", Err: err}
	}
	ok, err := r.check(c, cl)
	if err != nil {
		return &core.RefusedError{Reason: r.reason, Message: r.what + " required", Err: err}
	}
	if !ok {
		return &core.RefusedError{Reason: r.reason, Message: r.what + " required"}
	}
	return nil
}

// Handshake is the rule as handshake middleware (a core.MiddlewareFunc):
// put it after the authentication middleware. A connection without
// verified claims is refused with 401 (Stats().Rejected["unauthorized"]),
// one that fails the rule with 403 and the requirement as the message
// (Stats().Rejected["forbidden"]); with AuthzConfig.CloseOnFailure it is
// accepted and closed at once with 4401 or 4403 instead.
func (r *Rule) Handshake(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if r.a.cfg.Skipper(c) {
			return next(c)
		}
		err := r.Check(c)
		if err == nil {
			return next(c)
		}
		re := err.(*core.RefusedError)
		he := &core.HTTPError{Status: http.StatusForbidden, Message: re.Message, Reason: core.RejectForbidden, Err: err}
		if re.Reason == core.RefuseUnauthenticated {
			he = &core.HTTPError{Status: http.StatusUnauthorized, Message: re.Message, Reason: core.RejectUnauthorized,
				Header: http.Header{"Www-Authenticate": {"Bearer"}}, Err: err}
		}
		if !r.a.cfg.CloseOnFailure {
			return he
		}
		// The close frame is queued now and leaves right after the
		// upgrade; the hub runs no route handler for such a connection.
		_ = c.Close(core.CloseCodeForStatus(he.Status), he.Message)
		return next(c)
	}
}

// Event is the rule as event middleware (a core.EventMiddlewareFunc), for
// Hub.UseEvent, core.EventMiddleware, Conn.UseEvent or one event's
// arguments to Conn.On. A refused event gets the "forbidden" error (or ack
// error) with the requirement as its message, and is counted in
// Stats().EventsRefused under the rule's kind (core.RefuseRole,
// RefuseScope, RefusePermission, RefuseClaims) or RefuseUnauthenticated.
func (r *Rule) Event(next core.EventFunc) core.EventFunc {
	return func(c *core.Conn, data json.RawMessage) (any, error) {
		if err := r.Check(c); err != nil {
			return nil, err
		}
		return next(c, data)
	}
}

// claims returns the verified claims of c, nil when it has none, or an
// error for a value of a form that holds no claims.
func (a *Authorizer) claims(c *core.Conn) (Claims, error) {
	if a.cfg.ClaimsFunc != nil {
		return a.cfg.ClaimsFunc(c)
	}
	return claimsOf(c.Get(a.cfg.ContextKey), a.cfg.ContextKey)
}

// claimsOf turns what authentication middleware stored into Claims.
func claimsOf(v any, key string) (Claims, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case *jwt.Token:
		if t == nil || !t.Valid {
			return nil, fmt.Errorf("%q holds a token that was not verified", key)
		}
		return claimsOf(t.Claims, key)
	case jwt.MapClaims:
		return Claims(t), nil
	case map[string]any:
		return Claims(t), nil
	case Claims:
		return t, nil
	case string, []byte, bool, float64, int, int64:
		return nil, fmt.Errorf("%q holds a %T, not claims", key, v)
	}
	// A claims struct (jwt.RegisteredClaims, an application's own): its
	// JSON form is the token's payload.
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%q holds a %T that does not encode to JSON: %w", key, v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%q holds a %T that does not encode to a JSON object", key, v)
	}
	return Claims(m), nil
}

func containsAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

// containsAll reports whether have holds every entry of want; an empty
// want admits nobody, so a rule built from an empty list fails closed.
func containsAll(have, want []string) bool {
	if len(want) == 0 {
		return false
	}
	for _, w := range want {
		if !containsAny(have, []string{w}) {
			return false
		}
	}
	return true
}

// quoteList quotes each entry and joins them with sep.
func quoteList(list []string, sep string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, sep)
}

// plural names one or several required values: `scope "a"`, `scopes "a", "b"`.
func plural(kind string, list []string) string {
	if len(list) == 1 {
		return kind + " " + strconv.Quote(list[0])
	}
	return kind + "s " + quoteList(list, ", ")
}
