package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/origincheck"
	"github.com/rushws/rushws/internal/quote"
)

// ErrOriginNotAllowed is the cause of a handshake the Origin middleware
// refused; the error passed to OriginConfig.ErrorHandler wraps it.
var ErrOriginNotAllowed = errors.New("rushws: origin not allowed")

// OriginConfig configures [Origin].
type OriginConfig struct {
	// Skipper lets a handshake through to the hub's own origin check
	// (same-origin unless core.Config says otherwise) instead of this
	// allowlist. Optional. Default DefaultSkipper (never skip).
	Skipper Skipper

	// AllowOrigins lists the origins browsers may connect from, each an
	// exact "scheme://host[:port]" ("https://app.example.com",
	// "http://localhost:5173") or a wildcard subdomain with an explicit
	// scheme ("https://*.example.com", which matches
	// https://a.example.com and https://a.b.example.com but neither
	// https://example.com, which must be listed too, nor
	// https://evil-example.com). Entries are parsed as URLs and compared
	// by scheme, host (case-insensitively) and port, where a default port
	// equals its absence (https://x is https://x:443); never by substring.
	// Hosts are ASCII (write internationalized names in punycode, as
	// browsers send them). "*" is refused: that is
	// core.Config.InsecureSkipOriginCheck. Required.
	AllowOrigins []string

	// DenyMissingOrigin refuses handshakes without an Origin header.
	// Browsers always send one, so such requests come from other programs
	// (mobile apps, servers, CLIs), which could send any Origin they liked
	// anyway. Optional. Default false: requests without Origin are allowed.
	DenyMissingOrigin bool
	// InsecureAllowNullOrigin accepts "Origin: null", which browsers send
	// from sandboxed iframes, data: URLs and file:// pages — on any site,
	// so allowing it is close to allowing every origin. Optional. Default
	// false: "null" is refused.
	InsecureAllowNullOrigin bool

	// ErrorHandler is called when an origin is refused, with an error
	// wrapping ErrOriginNotAllowed; what it returns refuses the handshake
	// instead of the default error. Returning nil still refuses, with the
	// default error. Optional. Default 403 with {"status":403,"message":
	// "origin not allowed"}, counted as Stats().Rejected["origin"].
	ErrorHandler func(c *core.Conn, err error) error
}

// Origin returns middleware that lets browsers connect only from the
// allowed origins, refusing others with 403 before the upgrade (counted in
// the hub's Stats().Rejected["origin"]). It validates every entry once and
// returns an error for an entry that is not scheme://host[:port], holds a
// path, a wildcard anywhere but a leading "*." label, or a wildcard over a
// top-level domain.
//
// On the routes it covers it replaces the hub's same-origin check: the
// allowlist is the one place that decides. Behind a reverse proxy the
// same-origin check compares with the Host the proxy forwards, which is
// why it fails there; list the public origin here rather than switching
// checks off (see the package documentation).
func Origin(cfg OriginConfig) (core.MiddlewareFunc, error) {
	m, err := newOrigin(cfg)
	if err != nil {
		return nil, err
	}
	return m.middleware, nil
}

func newOrigin(cfg OriginConfig) (*originMiddleware, error) {
	if len(cfg.AllowOrigins) == 0 {
		return nil, errors.New("rushws: OriginConfig.AllowOrigins is required")
	}
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultSkipper
	}
	o := &originMiddleware{cfg: cfg, exact: make(map[string]bool), allowlist: describeAllowlist(cfg.AllowOrigins)}
	var errs []error
	for _, s := range cfg.AllowOrigins {
		r, err := parseOrigin(s, true)
		if err != nil {
			errs = append(errs, fmt.Errorf("rushws: OriginConfig.AllowOrigins: %w", err))
			continue
		}
		if r.wildcard {
			o.wildcards = append(o.wildcards, r)
		} else {
			o.exact[r.key()] = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

type originMiddleware struct {
	cfg       OriginConfig
	exact     map[string]bool // scheme://host:port
	wildcards []originRule
	allowlist string // for refusal messages
}

// originRule is one parsed origin: lower-case scheme and host, and the
// port with defaults made explicit. A wildcard's host is the domain under
// "*.".
type originRule struct {
	scheme, host, port string
	wildcard           bool
}

func (r originRule) key() string { return r.scheme + "://" + bracketIPv6(r.host) + ":" + r.port }

// bracketIPv6 brackets an IPv6 literal, so keys stay unambiguous.
func bracketIPv6(host string) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]"
	}
	return host
}

// parseOrigin parses an origin, strictly: scheme://host[:port], nothing
// else.
func parseOrigin(s string, allowWildcard bool) (originRule, error) {
	bad := func(why string) (originRule, error) {
		if len(s) > 100 {
			s = s[:100] + "..."
		}
		return originRule{}, fmt.Errorf("%q is not an origin: %s", s, why)
	}
	if s == "*" {
		return bad("to accept every origin set core.Config.InsecureSkipOriginCheck (and think twice)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("does not parse as a URL")
	}
	switch {
	case u.Scheme == "" || u.Opaque != "" || u.Host == "":
		return bad("want scheme://host[:port]")
	case u.User != nil:
		return bad("has user information")
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#"):
		return bad("has a path, query or fragment (an origin has none, not even a trailing slash)")
	}
	r := originRule{scheme: u.Scheme, host: strings.ToLower(u.Hostname())}
	switch port := u.Port(); {
	case port != "":
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("port out of range")
		}
		r.port = strconv.Itoa(n)
	case strings.HasSuffix(u.Host, ":"):
		return bad("empty port")
	}
	if r.port == "" {
		switch r.scheme {
		case "http":
			r.port = "80"
		case "https":
			r.port = "443"
		}
	}
	if strings.HasPrefix(u.Host, "[") { // an IPv6 literal
		if a, err := netip.ParseAddr(r.host); err != nil || !a.Is6() {
			return bad("invalid IPv6 address")
		}
		return r, nil
	}
	host := r.host
	if rest, ok := strings.CutPrefix(host, "*."); ok && allowWildcard {
		if strings.IndexByte(rest, '.') < 0 {
			return bad("a wildcard must sit under a domain of two labels or more, such as *.example.com")
		}
		r.host, r.wildcard, host = rest, true, rest
	}
	if !validHostname(host) {
		if strings.IndexByte(host, '*') >= 0 {
			return bad(`a wildcard may only be a leading "*." label, with an explicit scheme`)
		}
		return bad("invalid host name (use punycode for international names)")
	}
	return r, nil
}

// validHostname reports whether h is dot-separated labels of ASCII
// letters, digits and hyphens (an IPv4 address qualifies).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

// allowed reports whether the Origin header value o is on the list.
func (m *originMiddleware) allowed(o string) bool {
	r, err := parseOrigin(o, false)
	if err != nil {
		return false
	}
	if m.exact[r.key()] {
		return true
	}
	if _, err := netip.ParseAddr(r.host); err == nil {
		return false // IP addresses have no subdomains
	}
	for _, w := range m.wildcards {
		if w.scheme == r.scheme && w.port == r.port &&
			len(r.host) > len(w.host)+1 && strings.HasSuffix(r.host, w.host) && r.host[len(r.host)-len(w.host)-1] == '.' {
			return true
		}
	}
	return false
}

func (m *originMiddleware) middleware(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if m.cfg.Skipper(c) {
			return next(c)
		}
		var why string
		switch vs := c.Request().Header.Values("Origin"); {
		case len(vs) == 0:
			if m.cfg.DenyMissingOrigin {
				why = "no Origin header, and DenyMissingOrigin is set"
			}
		case len(vs) > 1:
			why = strconv.Itoa(len(vs)) + " Origin headers"
		case vs[0] == "null":
			if !m.cfg.InsecureAllowNullOrigin {
				why = `origin "null" (a sandboxed or file:// page), and InsecureAllowNullOrigin is not set`
			}
		default:
			if !m.allowed(vs[0]) {
				why = "origin " + quote.Input(vs[0], maxLoggedOrigin) + " matches none of " + m.allowlist
			}
		}
		if why != "" {
			return m.refuse(c, why)
		}
		origincheck.Mark(c)
		return next(c)
	}
}

func (m *originMiddleware) refuse(c *core.Conn, why string) error {
	cause := &originError{why: why}
	if m.cfg.ErrorHandler != nil {
		if err := m.cfg.ErrorHandler(c, cause); err != nil {
			return err
		}
	}
	return &core.HTTPError{Status: http.StatusForbidden, Message: "origin not allowed", Reason: core.RejectOrigin, Err: cause}
}

// maxLoggedOrigin and maxLoggedAllowlist cut what a refusal's error
// carries of the client's Origin and of the allowlist.
const (
	maxLoggedOrigin    = 100
	maxLoggedAllowlist = 200
)

// originError says why an origin was refused: the Origin as received
// (quoted, escaped and cut) and what it was compared with. errors.Is
// matches ErrOriginNotAllowed.
type originError struct{ why string }

func (e *originError) Error() string        { return e.why }
func (e *originError) Is(target error) bool { return target == ErrOriginNotAllowed }

// describeAllowlist renders the allowlist for refusal messages, cut to a
// sane length.
func describeAllowlist(origins []string) string {
	s := "the allowlist [" + strings.Join(origins, " ") + "]"
	if len(s) > maxLoggedAllowlist {
		s = quote.Cut(s, maxLoggedAllowlist) + "...]"
	}
	return s
}
