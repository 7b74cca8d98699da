package middleware

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rushws/rushws/core"
)

// Token refusals. A [TokenError] wraps one of these or one of
// github.com/golang-jwt/jwt/v5's sentinels (jwt.ErrTokenExpired,
// jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid,
// jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
// jwt.ErrTokenRequiredClaimMissing ...), so callers test the cause with
// errors.Is.
var (
	// ErrTokenMissing means no source named in TokenLookup held a token.
	ErrTokenMissing = errors.New("rushws: missing token")
	// ErrUnknownKeyID means the token's "kid" header names no key of
	// JWTConfig.SigningKeys.
	ErrUnknownKeyID = errors.New("rushws: unknown key id")
)

// MaxTokenLength bounds the length of a token the JWT middleware will
// parse; longer values are refused as malformed before any decoding, so a
// hostile header costs one scan.
const MaxTokenLength = 16 << 10

// maxTokenCandidates bounds how many values of the TokenLookup sources are
// tried per handshake, so repeated headers cannot multiply the parsing work.
const maxTokenCandidates = 8

// TokenError is why the JWT middleware refused a handshake: where the token
// was found and the cause, which errors.Is and errors.As reach through
// Unwrap. Its message never contains the token; it names the source it
// came from, or the sources searched when none held one.
type TokenError struct {
	// Source is the TokenLookup source the token came from ("header",
	// "query", "cookie", "param" or "subprotocol"), or "" when none held
	// one.
	Source string
	// Err is the cause: ErrTokenMissing, ErrUnknownKeyID, a jwt/v5 error,
	// or what ParseTokenFunc returned.
	Err error

	where string // the source and its name, e.g. header "Authorization"
}

// Error implements error: "jwt: looked in header \"Authorization\"" for a
// missing token, "jwt: token from query \"token\": token is expired" for
// a refused one.
func (e *TokenError) Error() string {
	cause := strings.TrimPrefix(e.Err.Error(), "rushws: ")
	switch {
	case e.Source == "" && e.where != "" && errors.Is(e.Err, ErrTokenMissing):
		return "jwt: looked in " + e.where
	case e.Source == "":
		return "jwt: " + cause
	case e.where != "":
		return "jwt: token from " + e.where + ": " + cause
	default:
		return "jwt: token from " + e.Source + ": " + cause
	}
}

// Unwrap returns the cause.
func (e *TokenError) Unwrap() error { return e.Err }

// JWTConfig configures [JWT]. Field names follow labstack/echo-jwt. The
// zero value is not usable on its own: a key (SigningKey or SigningKeys) or
// a ParseTokenFunc is required, and JWT says so.
type JWTConfig struct {
	// Skipper lets a handshake through without looking for a token.
	// Optional. Default DefaultSkipper (never skip).
	Skipper Skipper

	// ErrorHandler is called when no token was valid, with a *TokenError.
	// What it returns is used instead of the default refusal: an
	// *core.HTTPError refuses the handshake with its status (or, with
	// CloseOnFailure, closes after the upgrade with 4401, 4403, 4429 or
	// 1008 and its Message). Returning nil refuses with the default error
	// unless ContinueOnIgnoredError is set. Optional. Default none: 401 with
	// the JSON body {"status":401,"message":"missing token"}, "token
	// expired" or "invalid token".
	ErrorHandler func(c *core.Conn, err error) error
	// ContinueOnIgnoredError lets the handshake through, without claims,
	// when ErrorHandler returns nil: for routes that also serve anonymous
	// users. Optional. Default false.
	ContinueOnIgnoredError bool

	// ContextKey is the Conn metadata key the verified *jwt.Token (or what
	// ParseTokenFunc returned) is stored under, so handlers read it with
	// c.Get("user").(*jwt.Token). The stored token's Raw and Signature are
	// cleared, so the credential does not live as long as the connection.
	// Optional. Default "user".
	ContextKey string

	// SigningKey verifies tokens signed with SigningMethod: a []byte
	// secret for HS256/384/512, an *rsa.PublicKey for RS* and PS*, an
	// *ecdsa.PublicKey for ES*, an ed25519.PublicKey for EdDSA. Required
	// unless SigningKeys or ParseTokenFunc is set.
	SigningKey any
	// SigningKeys verifies tokens by the "kid" in their header, looked up
	// in this map only (keys are fetched from nowhere else); a token
	// without a listed kid is refused. Values are as for SigningKey. When
	// set, SigningKey is not used. Optional. Default none.
	SigningKeys map[string]any
	// SigningMethod is the one algorithm accepted ("HS256", "RS256",
	// "ES256", "PS256", "EdDSA" ...). A token that names another, such as
	// "none" or HS256 where RS256 is pinned, is refused before any key is
	// used. Optional. Default "HS256".
	SigningMethod string

	// TokenLookup lists where to look for the token, as
	// "<source>:<name>[:<prefix>]" entries separated by commas, tried in
	// order: "header:Authorization:Bearer " (the prefix is cut,
	// case-insensitively), "query:token", "cookie:token", "param:token" (a
	// route parameter), and "subprotocol", the form browsers can send (see
	// SubprotocolPrefix). Query strings are written to access logs: see the
	// package documentation before adding "query". Optional. Default
	// "header:Authorization:Bearer ,subprotocol".
	TokenLookup string
	// SubprotocolPrefix marks the Sec-WebSocket-Protocol entry that carries
	// the token: a browser calls new WebSocket(url, ["chat.v1",
	// "bearer."+token]). The token must be in base64url (a JWT as issued);
	// standard base64 ("+", "/", "=") is refused. The server selects the
	// app's own protocol ("chat.v1"), never the token entry: the first of
	// core.Config.Subprotocols the client offered, or else the first entry
	// the client offered that is not a token (core.Conn.SetSubprotocol),
	// since browsers fail a connection whose offered protocols were all
	// ignored. A client that offers nothing but the token entry is refused
	// with 400 and a message that says to offer the app's protocol too
	// (Stats().Rejected["subprotocol"]). Optional. Default "bearer.".
	SubprotocolPrefix string

	// Issuer, when set, must equal the token's "iss". Optional. Default ""
	// (not checked).
	Issuer string
	// Audience, when set, must contain a value of the token's "aud".
	// Optional. Default none (not checked).
	Audience []string
	// AllowMissingExp accepts tokens without an "exp" claim; they stay valid
	// for as long as the connection lasts. Optional. Default false: a token
	// without "exp" is refused.
	AllowMissingExp bool
	// Leeway is the clock skew tolerated when checking "exp", "nbf" and
	// "iat", and added to the expiry of a live connection. Optional.
	// Default 0.
	Leeway time.Duration

	// CloseOnFailure accepts a handshake whose token is refused and then
	// closes the connection with 4401 and the reason ("missing token",
	// "token expired", "invalid token"), because a browser only sees 1006
	// for a refused handshake and cannot tell the user to log in again (the
	// JS client stops reconnecting on 4401 and 4403). Set it on every route
	// browsers use: it is the recommended setting for them. The hub counts
	// such connections as accepted. Optional. Default false: the handshake
	// is refused with 401 before the upgrade, which suits programs.
	CloseOnFailure bool

	// ParseTokenFunc replaces the default parsing and verification: it
	// returns the value to store under ContextKey, or an error to refuse.
	// When it is set, SigningKey, SigningKeys, SigningMethod, Issuer,
	// Audience, AllowMissingExp, Leeway and NewClaimsFunc are not used. A
	// returned *jwt.Token or jwt.Claims with an "exp" still closes the
	// connection when it passes. Optional. Default verification with
	// golang-jwt/jwt/v5 as configured above.
	ParseTokenFunc func(c *core.Conn, auth string) (any, error)
	// NewClaimsFunc returns the claims value a token is decoded into, for
	// typed claims (a struct embedding jwt.RegisteredClaims). It is called
	// once per token parsed. Optional. Default a new jwt.MapClaims.
	NewClaimsFunc func(c *core.Conn) jwt.Claims

	now func() time.Time // the clock, replaced by tests
}

// JWT returns middleware that authenticates each handshake with a JSON Web
// Token (github.com/golang-jwt/jwt/v5), in the manner of echo-jwt. It
// validates cfg once and returns an error for a missing or mistyped key, an
// unknown or "none" SigningMethod, or a malformed TokenLookup.
//
// A valid token is stored under ContextKey before next runs, so later
// middleware, the route handler and event handlers read the claims with
// c.Get("user"). Without a valid token the handshake is refused with 401
// (Stats().Rejected["unauthorized"]) or, with CloseOnFailure, closed with
// 4401 after the upgrade. While the connection lives, the token's "exp" is
// watched: when it passes, the connection is closed with 4401 "token
// expired". Tokens are never logged; errors name the source, never the
// value.
func JWT(cfg JWTConfig) (core.MiddlewareFunc, error) {
	m, err := newJWT(cfg)
	if err != nil {
		return nil, err
	}
	return m.middleware, nil
}

type jwtMiddleware struct {
	cfg     JWTConfig
	lookups []tokenLookup
	looked  string // the lookups, for the error of a missing token
	parser  *jwt.Parser
	now     func() time.Time
}

type tokenLookup struct {
	source string // header, query, cookie, param, subprotocol
	name   string
	prefix string
	where  string // for errors: source and name, e.g. header "Authorization"
}

// defaultContextKey is where the JWT middleware stores the token and where
// the rules and CloseOnExpiry look for claims: echo-jwt's ContextKey, so
// that all of them meet in one place.
const defaultContextKey = "user"

func newJWT(cfg JWTConfig) (*jwtMiddleware, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultSkipper
	}
	if cfg.ContextKey == "" {
		cfg.ContextKey = defaultContextKey
	}
	if cfg.TokenLookup == "" {
		cfg.TokenLookup = "header:Authorization:Bearer ,subprotocol"
	}
	if cfg.SubprotocolPrefix == "" {
		cfg.SubprotocolPrefix = "bearer."
	}
	if cfg.SigningMethod == "" {
		cfg.SigningMethod = jwt.SigningMethodHS256.Alg()
	}
	if cfg.NewClaimsFunc == nil {
		cfg.NewClaimsFunc = func(*core.Conn) jwt.Claims { return jwt.MapClaims{} }
	}
	m := &jwtMiddleware{cfg: cfg, now: cfg.now}
	if m.now == nil {
		m.now = time.Now
	}
	var errs []error
	if cfg.Leeway < 0 {
		errs = append(errs, errors.New("rushws: JWTConfig.Leeway must not be negative"))
	}
	if !isTokenChars(cfg.SubprotocolPrefix) {
		errs = append(errs, fmt.Errorf("rushws: JWTConfig.SubprotocolPrefix %q is not a valid subprotocol prefix", cfg.SubprotocolPrefix))
	}
	lookups, err := parseTokenLookup(cfg.TokenLookup)
	if err != nil {
		errs = append(errs, err)
	}
	m.lookups = lookups
	wheres := make([]string, len(lookups))
	for i := range lookups {
		l := &lookups[i]
		l.where = l.source + " " + strconv.Quote(l.name)
		if l.source == "subprotocol" {
			l.where = "subprotocol " + strconv.Quote(cfg.SubprotocolPrefix)
		}
		wheres[i] = l.where
	}
	m.looked = strings.Join(wheres, ", ")
	if cfg.ParseTokenFunc == nil {
		errs = append(errs, m.checkKeys()...)
		opts := []jwt.ParserOption{jwt.WithValidMethods([]string{cfg.SigningMethod}), jwt.WithTimeFunc(m.now)}
		if !cfg.AllowMissingExp {
			opts = append(opts, jwt.WithExpirationRequired())
		}
		if cfg.Issuer != "" {
			opts = append(opts, jwt.WithIssuer(cfg.Issuer))
		}
		if len(cfg.Audience) > 0 {
			opts = append(opts, jwt.WithAudience(cfg.Audience...))
		}
		if cfg.Leeway > 0 {
			opts = append(opts, jwt.WithLeeway(cfg.Leeway))
		}
		m.parser = jwt.NewParser(opts...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// checkKeys validates SigningMethod and the keys' types once, so a
// mistyped key is a startup error instead of every token being refused.
func (m *jwtMiddleware) checkKeys() []error {
	cfg := m.cfg
	if cfg.SigningMethod == "none" {
		return []error{errors.New(`rushws: JWTConfig.SigningMethod "none" accepts unsigned tokens and is not supported`)}
	}
	method := jwt.GetSigningMethod(cfg.SigningMethod)
	if method == nil {
		return []error{fmt.Errorf("rushws: JWTConfig.SigningMethod %q is not a known algorithm", cfg.SigningMethod)}
	}
	if len(cfg.SigningKeys) == 0 {
		if cfg.SigningKey == nil {
			return []error{errors.New("rushws: JWTConfig needs a SigningKey, SigningKeys or a ParseTokenFunc")}
		}
		if err := checkKey(method, cfg.SigningKey); err != nil {
			return []error{fmt.Errorf("rushws: JWTConfig.SigningKey: %w", err)}
		}
		return nil
	}
	var errs []error
	for kid, key := range cfg.SigningKeys {
		if err := checkKey(method, key); err != nil {
			errs = append(errs, fmt.Errorf("rushws: JWTConfig.SigningKeys[%q]: %w", kid, err))
		}
	}
	return errs
}

// checkKey reports whether key can verify tokens signed with method.
func checkKey(method jwt.SigningMethod, key any) error {
	alg := method.Alg()
	switch m := method.(type) {
	case *jwt.SigningMethodHMAC:
		return checkHMACKey(alg, m.Hash.Size(), key)
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		if k, ok := key.(*rsa.PublicKey); !ok || k == nil {
			return fmt.Errorf("%s needs an *rsa.PublicKey, not %T", alg, key)
		}
	case *jwt.SigningMethodECDSA:
		if k, ok := key.(*ecdsa.PublicKey); !ok || k == nil {
			return fmt.Errorf("%s needs an *ecdsa.PublicKey, not %T", alg, key)
		}
	case *jwt.SigningMethodEd25519:
		if k, ok := key.(ed25519.PublicKey); !ok || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%s needs an ed25519.PublicKey, not %T", alg, key)
		}
	default:
		return fmt.Errorf("%s is not supported", alg)
	}
	return nil
}

// checkHMACKey refuses a secret that is not a []byte, is empty (the usual
// sign of an unset environment variable), or is shorter than the hash's
// output, the minimum RFC 7518 section 3.2 sets (32 bytes for HS256, 48
// for HS384, 64 for HS512).
func checkHMACKey(alg string, size int, key any) error {
	b, ok := key.([]byte)
	switch {
	case !ok:
		if _, isString := key.(string); isString {
			return fmt.Errorf("%s needs the secret as a []byte, not a string: write []byte(secret)", alg)
		}
		return fmt.Errorf("%s needs a []byte secret, not %T", alg, key)
	case len(b) == 0:
		return fmt.Errorf("the %s secret is empty: set it to at least %d random bytes "+
			"(a key read with []byte(os.Getenv(\"JWT_SECRET\")) is empty when the variable is unset)", alg, size)
	case len(b) < size:
		return fmt.Errorf("the %s secret is %d bytes, shorter than the hash output: RFC 7518 section 3.2 requires "+
			"at least 32 bytes for HS256, 48 for HS384 and 64 for HS512: use %d or more random bytes", alg, len(b), size)
	}
	return nil
}

// parseTokenLookup compiles TokenLookup.
func parseTokenLookup(s string) ([]tokenLookup, error) {
	var out []tokenLookup
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimLeft(entry, " ")
		if strings.TrimSpace(entry) == "subprotocol" {
			out = append(out, tokenLookup{source: "subprotocol"})
			continue
		}
		parts := strings.SplitN(entry, ":", 3)
		if len(parts) < 2 || strings.TrimSpace(parts[1]) == "" {
			return nil, fmt.Errorf("rushws: JWTConfig.TokenLookup entry %q is not <source>:<name>", entry)
		}
		l := tokenLookup{source: parts[0], name: strings.TrimSpace(parts[1])}
		if len(parts) == 3 {
			if l.source != "header" {
				return nil, fmt.Errorf("rushws: JWTConfig.TokenLookup entry %q: only header takes a prefix", entry)
			}
			l.prefix = parts[2]
		}
		switch l.source {
		case "header":
			l.name = http.CanonicalHeaderKey(l.name)
		case "query", "cookie", "param":
		case "subprotocol":
			return nil, fmt.Errorf(`rushws: JWTConfig.TokenLookup entry %q: write "subprotocol" and set SubprotocolPrefix`, entry)
		default:
			return nil, fmt.Errorf("rushws: JWTConfig.TokenLookup entry %q: unknown source %q", entry, l.source)
		}
		out = append(out, l)
	}
	return out, nil
}

type candidate struct {
	source string
	where  string
	value  string
}

// extract returns the token candidates of the request, in TokenLookup
// order, at most maxTokenCandidates.
func (m *jwtMiddleware) extract(c *core.Conn) []candidate {
	r := c.Request()
	var out []candidate
	add := func(l tokenLookup, v string) bool {
		if v != "" {
			out = append(out, candidate{l.source, l.where, v})
		}
		return len(out) < maxTokenCandidates
	}
	for _, l := range m.lookups {
		switch l.source {
		case "header":
			for _, v := range r.Header[l.name] {
				if n := len(l.prefix); n > 0 {
					if len(v) <= n || !strings.EqualFold(v[:n], l.prefix) {
						continue
					}
					v = v[n:]
				}
				if !add(l, v) {
					return out
				}
			}
		case "query":
			for _, v := range r.URL.Query()[l.name] {
				if !add(l, v) {
					return out
				}
			}
		case "cookie":
			for _, ck := range r.CookiesNamed(l.name) {
				if !add(l, ck.Value) {
					return out
				}
			}
		case "param":
			if !add(l, c.Param(l.name)) {
				return out
			}
		case "subprotocol":
			for _, v := range r.Header["Sec-Websocket-Protocol"] {
				for p := range strings.SplitSeq(v, ",") {
					p = strings.TrimSpace(p)
					if tok, ok := strings.CutPrefix(p, m.cfg.SubprotocolPrefix); ok {
						if !add(l, tok) {
							return out
						}
					}
				}
			}
		}
	}
	return out
}

// Causes of tokens refused by their shape, before decoding.
var (
	errNotBase64URL = fmt.Errorf("%w: not three base64url segments", jwt.ErrTokenMalformed)
	errTooLong      = fmt.Errorf("%w: longer than %d bytes", jwt.ErrTokenMalformed, MaxTokenLength)
)

// checkShape refuses, in one pass and without allocating, anything that is
// not three base64url segments of bounded length: padded or standard base64,
// a flood of dots, megabytes of header.
func checkShape(tok string) error {
	if len(tok) > MaxTokenLength {
		return errTooLong
	}
	if !isBase64URLToken(tok) {
		return errNotBase64URL
	}
	return nil
}

// isBase64URLToken reports whether tok is three non-empty-headed base64url
// segments separated by two dots.
func isBase64URLToken(tok string) bool {
	dots := 0
	for i := 0; i < len(tok); i++ {
		switch b := tok[i]; {
		case b == '.':
			dots++
			if dots > 2 {
				return false
			}
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return dots == 2 && tok[0] != '.'
}

// isTokenChars reports whether s is non-empty and made of HTTP token
// characters, as a subprotocol entry must be.
func isTokenChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, b) >= 0 {
			return false
		}
	}
	return true
}

// parse verifies one token with the configured parser.
func (m *jwtMiddleware) parse(c *core.Conn, auth string) (any, error) {
	if m.cfg.ParseTokenFunc != nil {
		return m.cfg.ParseTokenFunc(c, auth)
	}
	if err := checkShape(auth); err != nil {
		return nil, err
	}
	tok, err := m.parser.ParseWithClaims(auth, m.cfg.NewClaimsFunc(c), m.keyFunc)
	if err != nil {
		return nil, err
	}
	tok.Raw, tok.Signature = "", nil
	return tok, nil
}

// keyFunc picks the verification key; the algorithm was checked against
// SigningMethod before it runs.
func (m *jwtMiddleware) keyFunc(t *jwt.Token) (any, error) {
	if len(m.cfg.SigningKeys) == 0 {
		return m.cfg.SigningKey, nil
	}
	if kid, ok := t.Header["kid"].(string); ok {
		if key, ok := m.cfg.SigningKeys[kid]; ok {
			return key, nil
		}
	}
	return nil, ErrUnknownKeyID
}

// authenticate returns the first verified token among the candidates and
// when it expires, or the error of the last one tried (a token error wins
// over a missing one).
func (m *jwtMiddleware) authenticate(c *core.Conn) (any, time.Time, string, error) {
	cands := m.extract(c)
	if len(cands) == 0 {
		return nil, time.Time{}, "", &TokenError{Err: ErrTokenMissing, where: m.looked}
	}
	var last error
	for _, cand := range cands {
		v, err := m.parse(c, cand.value)
		if err != nil {
			last = &TokenError{Source: cand.source, Err: err, where: cand.where}
			continue
		}
		exp, ok := expiry(v)
		if !ok {
			return v, time.Time{}, cand.source, nil
		}
		exp = exp.Add(m.cfg.Leeway)
		if !exp.After(m.now()) { // only a ParseTokenFunc can get here
			last = &TokenError{Source: cand.source, Err: jwt.ErrTokenExpired, where: cand.where}
			continue
		}
		return v, exp, cand.source, nil
	}
	return nil, time.Time{}, "", last
}

// answerSubprotocol makes sure a browser that sent its token as a
// subprotocol entry gets a subprotocol back, which it requires: the hub's
// Config.Subprotocols choice when it has one, else the first entry the
// client offered that is not a token (the app's own protocol, selected for
// it). A client that offered nothing but token entries is refused with 400
// and a message that says what to offer: answering with a token entry
// would echo the credential, and answering with none fails the browser
// with a bare 1006.
func (m *jwtMiddleware) answerSubprotocol(c *core.Conn) error {
	for _, p := range c.OfferedSubprotocols() {
		if !strings.HasPrefix(p, m.cfg.SubprotocolPrefix) {
			return c.SetSubprotocol(p) // used only when Config.Subprotocols selects none
		}
	}
	return &core.HTTPError{Status: http.StatusBadRequest, Reason: core.RejectSubprotocol,
		Message: "the token came as a subprotocol entry but no other subprotocol was offered: offer the app's protocol too, " +
			"as in new WebSocket(url, [\"app.v1\", \"" + m.cfg.SubprotocolPrefix + "\" + token])"}
}

// watchExpiry closes c with 4401 "token expired" once d has passed, with a
// time.AfterFunc timer (no goroutine waits meanwhile), stopped when c
// closes or when the handshake ends without an upgrade. Call it before
// next and defer the function it returns.
func watchExpiry(c *core.Conn, d time.Duration) (deferred func()) {
	timer := time.AfterFunc(d, func() {
		_ = c.Close(core.CloseUnauthorized, "token expired")
	})
	return afterNext(c, func() { timer.Stop() })
}

// expiry returns the "exp" of a parsed token or claims value.
func expiry(v any) (time.Time, bool) {
	var claims jwt.Claims
	switch t := v.(type) {
	case *jwt.Token:
		claims = t.Claims
	case jwt.Claims:
		claims = t
	}
	if claims == nil {
		return time.Time{}, false
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return time.Time{}, false
	}
	return exp.Time, true
}

// refusal returns the error a failed authentication ends with, or nil to
// continue without claims.
func (m *jwtMiddleware) refusal(c *core.Conn, terr error) error {
	def := func() error {
		msg := "invalid token"
		switch {
		case errors.Is(terr, ErrTokenMissing):
			msg = "missing token"
		case errors.Is(terr, jwt.ErrTokenExpired):
			msg = "token expired"
		}
		return &core.HTTPError{Status: http.StatusUnauthorized, Message: msg, Reason: core.RejectUnauthorized,
			Header: http.Header{"Www-Authenticate": {"Bearer"}}, Err: terr}
	}
	if m.cfg.ErrorHandler == nil {
		return def()
	}
	if err := m.cfg.ErrorHandler(c, terr); err != nil {
		return err
	}
	if m.cfg.ContinueOnIgnoredError {
		return nil
	}
	return def()
}

func (m *jwtMiddleware) middleware(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if m.cfg.Skipper(c) {
			return next(c)
		}
		v, exp, src, terr := m.authenticate(c)
		if terr != nil {
			err := m.refusal(c, terr)
			if err == nil {
				return next(c)
			}
			if !m.cfg.CloseOnFailure {
				return err
			}
			var he *core.HTTPError
			var ce *core.CloseError
			var cerr error
			switch {
			case errors.As(err, &ce):
				cerr = c.Close(ce.Code, ce.Reason)
			case errors.As(err, &he):
				msg := he.Message
				if msg == "" {
					msg = http.StatusText(he.Status)
				}
				cerr = c.Close(core.CloseCodeForStatus(he.Status), msg)
			default:
				return err
			}
			if cerr != nil { // a code no close frame may carry
				_ = c.Close(core.CloseUnauthorized, "unauthorized")
			}
			// The close frame is queued now and goes out right after the
			// upgrade; the hub does not run the route handler of a
			// connection closed before its upgrade.
			return next(c)
		}
		c.Set(m.cfg.ContextKey, v)
		if src == "subprotocol" {
			if err := m.answerSubprotocol(c); err != nil {
				return err
			}
		}
		if !exp.IsZero() {
			defer watchExpiry(c, exp.Sub(m.now()))()
		}
		return next(c)
	}
}
