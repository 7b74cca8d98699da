package middleware

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

var secret = []byte("test-secret-0123456789abcdef0123")

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// sign returns a token for claims, signed with method and key, with extra
// header fields.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns the claims of a valid token for alice, changed by kv
// pairs (a nil value deletes the claim).
func claims(kv ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func hs256(t *testing.T, kv ...any) string {
	t.Helper()
	return sign(t, jwt.SigningMethodHS256, secret, claims(kv...), nil)
}

func bearer(tok string) wstest.Option { return withHeaders("Authorization", "Bearer "+tok) }

// stdBase64 re-encodes each segment of a JWT in standard, padded base64.
func stdBase64(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = base64.StdEncoding.EncodeToString(b)
	}
	return strings.Join(parts, ".")
}

func mustJWT(t *testing.T, cfg JWTConfig) core.MiddlewareFunc {
	t.Helper()
	mw, err := JWT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func TestJWTAccepts(t *testing.T) {
	t.Parallel()
	rsaTok := sign(t, jwt.SigningMethodRS256, rsaKey(), claims(), nil)
	cases := []struct {
		name  string
		cfg   JWTConfig
		proto []string // subprotocols offered
		opt   func(tok string) wstest.Option
		tok   string
	}{
		{name: "header", cfg: JWTConfig{SigningKey: secret}, opt: bearer},
		{name: "header prefix any case", cfg: JWTConfig{SigningKey: secret},
			opt: func(tok string) wstest.Option { return withHeaders("Authorization", "bearer "+tok) }},
		{name: "query", cfg: JWTConfig{SigningKey: secret, TokenLookup: "query:token"},
			opt: func(tok string) wstest.Option { return nil }},
		{name: "cookie", cfg: JWTConfig{SigningKey: secret, TokenLookup: "header:X-Token,cookie:token"},
			opt: func(tok string) wstest.Option { return withHeaders("Cookie", "other=1; token="+tok) }},
		{name: "subprotocol", cfg: JWTConfig{SigningKey: secret}, proto: []string{"chat.v1"},
			opt: func(tok string) wstest.Option { return wstest.WithSubprotocols("chat.v1", "bearer."+tok) }},
		{name: "subprotocol custom prefix", cfg: JWTConfig{SigningKey: secret, SubprotocolPrefix: "access_token.", TokenLookup: "subprotocol"},
			proto: []string{"chat.v1"},
			opt:   func(tok string) wstest.Option { return wstest.WithSubprotocols("access_token."+tok, "chat.v1") }},
		{name: "kid", cfg: JWTConfig{SigningKeys: map[string]any{"old": []byte("old-secret-0123456789abcdef01234"), "new": secret}},
			tok: sign(t, jwt.SigningMethodHS256, secret, claims(), map[string]any{"kid": "new"}), opt: bearer},
		{name: "RS256", cfg: JWTConfig{SigningMethod: "RS256", SigningKey: &rsaKey().PublicKey}, tok: rsaTok, opt: bearer},
		{name: "issuer and audience", cfg: JWTConfig{SigningKey: secret, Issuer: "https://auth.example.com", Audience: []string{"chat", "admin"}},
			tok: hs256(t, "iss", "https://auth.example.com", "aud", []string{"chat"}), opt: bearer},
		{name: "no exp allowed", cfg: JWTConfig{SigningKey: secret, AllowMissingExp: true}, tok: hs256(t, "exp", nil), opt: bearer},
		{name: "typed claims", cfg: JWTConfig{SigningKey: secret, NewClaimsFunc: func(*core.Conn) jwt.Claims { return &jwt.RegisteredClaims{} }}, opt: bearer},
		{name: "ParseTokenFunc", cfg: JWTConfig{ParseTokenFunc: func(c *core.Conn, auth string) (any, error) {
			if auth != "opaque-session-id" {
				return nil, errors.New("unknown session")
			}
			return &jwt.RegisteredClaims{Subject: "alice"}, nil
		}}, tok: "opaque-session-id", opt: bearer},
	}
	forEachAdapter(t, func(t *testing.T, a adapter) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				tok := tc.tok
				if tok == "" {
					tok = hs256(t)
				}
				s := newServer(t, a, core.Config{Subprotocols: tc.proto}, app, mustJWT(t, tc.cfg))
				u := s.url
				if tc.name == "query" {
					u += "?token=" + url.QueryEscape(tok)
				}
				var opts []wstest.Option
				if o := tc.opt(tok); o != nil {
					opts = append(opts, o)
				}
				ctx := t.Context()
				c, resp, err := wstest.TryDial(ctx, u, opts...)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Bind(t)
				var sub string
				c.ExpectInto("welcome", &sub)
				if sub != "alice" {
					t.Fatalf("handler saw subject %q, want alice", sub)
				}
				if tc.proto != nil {
					if got := c.Conn().Subprotocol(); got != "chat.v1" {
						t.Fatalf("selected subprotocol %q, want chat.v1", got)
					}
					if h := resp.Header.Values("Sec-Websocket-Protocol"); len(h) != 1 || h[0] != "chat.v1" {
						t.Fatalf("response Sec-WebSocket-Protocol %q, want only chat.v1 (never the token)", h)
					}
				}
				if st := s.hub.Stats(); st.Accepted != 1 || len(st.Rejected) != 0 {
					t.Fatalf("stats: accepted %d, rejected %v; want 1 and none", st.Accepted, st.Rejected)
				}
			})
		}
	})
}

// TestJWTStoresTokenWithoutCredential checks what handlers get under
// ContextKey: the verified token, without the raw string.
func TestJWTStoresTokenWithoutCredential(t *testing.T) {
	t.Parallel()
	tok := hs256(t)
	got := make(chan any, 1)
	s := newServer(t, adapters[0], core.Config{}, func(c *core.Conn) error {
		got <- c.Get("claims")
		return nil
	}, mustJWT(t, JWTConfig{SigningKey: secret, ContextKey: "claims"}))
	wstest.Dial(t, s.url, bearer(tok))
	v := <-got
	jt, ok := v.(*jwt.Token)
	if !ok {
		t.Fatalf("stored %T, want *jwt.Token", v)
	}
	if !jt.Valid || jt.Raw != "" || jt.Signature != nil {
		t.Fatalf("stored token: valid %v, raw %q, signature %x; want valid without credential", jt.Valid, jt.Raw, jt.Signature)
	}
	if sub, _ := jt.Claims.GetSubject(); sub != "alice" {
		t.Fatalf("subject %q", sub)
	}
}

func TestJWTRefusesBadTokens(t *testing.T) {
	t.Parallel()
	pemPub, err := x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pemPub})
	rsaCfg := JWTConfig{SigningMethod: "RS256", SigningKey: &rsaKey().PublicKey}
	rsaGood := sign(t, jwt.SigningMethodRS256, rsaKey(), claims(), nil)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(), nil)
	base := JWTConfig{SigningKey: secret}

	cases := []struct {
		name    string
		cfg     JWTConfig
		good    string // a valid token for cfg; default hs256
		tok     string // the bad token, "" for none
		send    func(u string, tok string) (string, []wstest.Option)
		msg     string
		cause   error
		source  string
		proto   []string
		timeout bool
	}{
		{name: "missing", cfg: base, msg: "missing token", cause: ErrTokenMissing},
		{name: "expired", cfg: base, tok: hs256(t, "exp", time.Now().Add(-time.Minute).Unix()), msg: "token expired", cause: jwt.ErrTokenExpired, source: "header"},
		{name: "alg none", cfg: base, tok: none, msg: "invalid token", cause: jwt.ErrTokenSignatureInvalid, source: "header"},
		{name: "HS256 when RS256 pinned", cfg: rsaCfg, good: rsaGood,
			tok: sign(t, jwt.SigningMethodHS256, pubPEM, claims(), nil), msg: "invalid token", cause: jwt.ErrTokenSignatureInvalid, source: "header"},
		{name: "wrong signature", cfg: base, tok: sign(t, jwt.SigningMethodHS256, []byte("another secret, not ours......."), claims(), nil),
			msg: "invalid token", cause: jwt.ErrTokenSignatureInvalid, source: "header"},
		{name: "wrong issuer", cfg: JWTConfig{SigningKey: secret, Issuer: "https://auth.example.com"},
			good: hs256(t, "iss", "https://auth.example.com"), tok: hs256(t, "iss", "https://auth.example.com.evil.com"),
			msg: "invalid token", cause: jwt.ErrTokenInvalidIssuer, source: "header"},
		{name: "wrong audience", cfg: JWTConfig{SigningKey: secret, Audience: []string{"chat"}},
			good: hs256(t, "aud", "chat"), tok: hs256(t, "aud", "billing"), msg: "invalid token", cause: jwt.ErrTokenInvalidAudience, source: "header"},
		{name: "no exp", cfg: base, tok: hs256(t, "exp", nil), msg: "invalid token", cause: jwt.ErrTokenRequiredClaimMissing, source: "header"},
		{name: "not yet valid", cfg: base, tok: hs256(t, "nbf", time.Now().Add(time.Hour).Unix()), msg: "invalid token", cause: jwt.ErrTokenNotValidYet, source: "header"},
		{name: "unknown kid", cfg: JWTConfig{SigningKeys: map[string]any{"k1": secret}},
			good: sign(t, jwt.SigningMethodHS256, secret, claims(), map[string]any{"kid": "k1"}),
			tok:  sign(t, jwt.SigningMethodHS256, secret, claims(), map[string]any{"kid": "k2"}), msg: "invalid token", cause: ErrUnknownKeyID, source: "header"},
		{name: "100000 dots", cfg: base, tok: strings.Repeat(".", 100_000), msg: "invalid token", cause: jwt.ErrTokenMalformed, source: "header"},
		{name: "10000 dots", cfg: base, tok: strings.Repeat(".", 10_000), msg: "invalid token", cause: jwt.ErrTokenMalformed, source: "header"},
		{name: "garbage", cfg: base, tok: "not-a-token", msg: "invalid token", cause: jwt.ErrTokenMalformed, source: "header"},
		{name: "wrong source", cfg: JWTConfig{SigningKey: secret, TokenLookup: "header:Authorization:Bearer "}, tok: hs256(t),
			send: func(u, tok string) (string, []wstest.Option) { return u + "?token=" + tok, nil },
			msg:  "missing token", cause: ErrTokenMissing},
		{name: "subprotocol in standard base64", cfg: base, proto: []string{"chat.v1"}, tok: stdBase64(t, hs256(t)),
			send: func(u, tok string) (string, []wstest.Option) {
				return u, []wstest.Option{wstest.WithSubprotocols("chat.v1", "bearer."+tok)}
			},
			msg: "invalid token", cause: jwt.ErrTokenMalformed, source: "subprotocol"},
	}
	forEachAdapter(t, func(t *testing.T, a adapter) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var mu sync.Mutex
				var seen []error
				cfg := tc.cfg
				cfg.ErrorHandler = func(c *core.Conn, err error) error {
					mu.Lock()
					seen = append(seen, err)
					mu.Unlock()
					return nil // the default refusal
				}
				s := newServer(t, a, core.Config{Subprotocols: tc.proto}, app, mustJWT(t, cfg))
				good := tc.good
				if good == "" {
					good = hs256(t)
				}
				gc := wstest.Dial(t, s.url, bearer(good))
				gc.Expect("welcome")

				u, opts := s.url, []wstest.Option(nil)
				switch {
				case tc.send != nil:
					u, opts = tc.send(s.url, tc.tok)
				case tc.tok != "":
					opts = []wstest.Option{bearer(tc.tok)}
				}
				status, msg, h := refused(t, u, opts...)
				if status != http.StatusUnauthorized || msg != tc.msg {
					t.Fatalf("refused with %d %q, want 401 %q", status, msg, tc.msg)
				}
				if h.Get("Www-Authenticate") != "Bearer" {
					t.Fatalf("WWW-Authenticate %q, want Bearer", h.Get("Www-Authenticate"))
				}
				if n := rejected(s, "unauthorized"); n != 1 {
					t.Fatalf("Rejected[unauthorized] = %d, want 1", n)
				}
				undisturbed(t, s, gc, 1)

				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 1 {
					t.Fatalf("ErrorHandler called %d times, want 1", len(seen))
				}
				err := seen[0]
				var te *TokenError
				if !errors.As(err, &te) || !errors.Is(err, tc.cause) || te.Source != tc.source {
					t.Fatalf("error %v (%T), want a TokenError from %q wrapping %v", err, err, tc.source, tc.cause)
				}
				if tc.tok != "" && len(tc.tok) > 8 {
					for _, where := range []string{err.Error(), s.logs.String()} {
						if strings.Contains(where, tc.tok) || strings.Contains(where, good) {
							t.Fatalf("token leaked into an error or log: %q", where)
						}
					}
				}
			})
		}
	})
}

// TestJWTManyDotsBounded checks that hostile tokens are refused in one scan,
// without allocating, before the JWT library sees them.
//
// Not parallel: testing.AllocsPerRun counts the allocations of the whole process.
func TestJWTManyDotsBounded(t *testing.T) {
	for _, tok := range []string{strings.Repeat(".", 100_000), strings.Repeat(".", MaxTokenLength), strings.Repeat("a.", MaxTokenLength/2)} {
		var err error
		allocs := testing.AllocsPerRun(10, func() { err = checkShape(tok) })
		if err == nil {
			t.Fatalf("token of %d bytes accepted", len(tok))
		}
		if allocs > 0 {
			t.Fatalf("checking a token of %d bytes allocated %v times", len(tok), allocs)
		}
	}
}

func TestJWTCloseOnFailure(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		handlerRuns := make(chan bool, 4)
		s := newServer(t, a, core.Config{}, func(c *core.Conn) error {
			handlerRuns <- c.Get("user") != nil
			return app(c)
		}, mustJWT(t, JWTConfig{SigningKey: secret, CloseOnFailure: true}))
		gc := wstest.Dial(t, s.url, bearer(hs256(t)))
		gc.Expect("welcome")
		<-handlerRuns

		for _, tc := range []struct {
			name, reason string
			opts         []wstest.Option
		}{
			{"missing", "missing token", nil},
			{"expired", "token expired", []wstest.Option{bearer(hs256(t, "exp", time.Now().Add(-time.Minute).Unix()))}},
			{"alg none", "invalid token", []wstest.Option{bearer(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(), nil))}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := wstest.Dial(t, s.url, tc.opts...)
				if got := c.ExpectClose(core.CloseUnauthorized); got != tc.reason {
					t.Fatalf("close reason %q, want %q", got, tc.reason)
				}
				select {
				case <-handlerRuns:
					t.Fatal("the route handler ran for a refused token")
				default:
				}
			})
		}
		if n := rejected(s, "unauthorized"); n != 0 {
			t.Fatalf("Rejected[unauthorized] = %d, want 0 (accepted, then closed)", n)
		}
		eventually(t, "closed connections to leave", func() bool { return s.hub.Stats().Connections == 1 })
		undisturbed(t, s, gc, 1)
	})
}

func TestJWTExpiresWhileConnected(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		exp := time.Now().Add(time.Hour).Truncate(time.Second)
		clock := newFakeClock(exp.Add(-300 * time.Millisecond)) // 300ms of real time left
		closed := make(chan int, 2)
		s := newServer(t, a, core.Config{}, func(c *core.Conn) error {
			c.OnClose(func(_ *core.Conn, code int, _ string) { closed <- code })
			return app(c)
		}, mustJWT(t, JWTConfig{SigningKey: secret, now: clock.Now}))

		long := wstest.Dial(t, s.url, bearer(hs256(t, "exp", exp.Add(time.Hour).Unix())))
		long.Expect("welcome")
		short := wstest.Dial(t, s.url, bearer(hs256(t, "exp", exp.Unix())))
		short.Expect("welcome")
		if got := short.ExpectClose(core.CloseUnauthorized); got != "token expired" {
			t.Fatalf("close reason %q, want token expired", got)
		}
		if code := <-closed; code != core.CloseUnauthorized {
			t.Fatalf("OnClose saw %d", code)
		}
		eventually(t, "the expired connection to leave", func() bool { return s.hub.Stats().Connections == 1 })
		undisturbed(t, s, long, 1)
	})
}

func TestJWTConfigErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]JWTConfig{
		"no key":                 {},
		"none":                   {SigningMethod: "none", SigningKey: secret},
		"unknown method":         {SigningMethod: "HS999", SigningKey: secret},
		"string secret":          {SigningKey: string(secret)},
		"empty secret":           {SigningKey: []byte{}},
		"RSA private key":        {SigningMethod: "RS256", SigningKey: rsaKey()},
		"mixed kid map":          {SigningKeys: map[string]any{"a": secret, "b": "oops"}},
		"bad lookup":             {SigningKey: secret, TokenLookup: "header"},
		"unknown source":         {SigningKey: secret, TokenLookup: "form:token"},
		"prefix on query":        {SigningKey: secret, TokenLookup: "query:token:Bearer "},
		"subprotocol with name":  {SigningKey: secret, TokenLookup: "subprotocol:bearer."},
		"bad subprotocol prefix": {SigningKey: secret, SubprotocolPrefix: "bearer/"},
		"negative leeway":        {SigningKey: secret, Leeway: -time.Second},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := JWT(cfg); err == nil {
				t.Fatal("JWT accepted the config")
			}
		})
	}
	if _, err := JWT(JWTConfig{SigningKey: secret, TokenLookup: "header:Authorization:Bearer , query:token,cookie:token,param:tok,subprotocol"}); err != nil {
		t.Fatalf("full lookup refused: %v", err)
	}
}

// TestJWTUserKeyedRateLimit shows the middleware composing: JWT first, then
// a RateLimit keyed by the user.
func TestJWTUserKeyedRateLimit(t *testing.T) {
	t.Parallel()
	rl, err := NewRateLimiter(RateLimitConfig{
		MaxPerKey:     1,
		HandshakeRate: 1000,
		KeyFunc: func(c *core.Conn) string {
			sub, _ := c.Get("user").(*jwt.Token).Claims.GetSubject()
			return sub
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	forEachAdapter(t, func(t *testing.T, a adapter) {
		s := newServer(t, a, core.Config{}, app, mustJWT(t, JWTConfig{SigningKey: secret}), rl.Middleware())
		alice := wstest.Dial(t, s.url, bearer(hs256(t, "sub", "alice-"+a.name)), fromIP("203.0.113.1"))
		alice.Expect("welcome")
		if status, msg, _ := refused(t, s.url, bearer(hs256(t, "sub", "alice-"+a.name)), fromIP("203.0.113.2")); status != http.StatusTooManyRequests || msg != "too many connections" {
			t.Fatalf("second connection of alice: %d %q", status, msg)
		}
		bob := wstest.Dial(t, s.url, bearer(hs256(t, "sub", "bob-"+a.name)), fromIP("203.0.113.1"))
		bob.Expect("welcome")
		undisturbed(t, s, alice, 2)
	})
}

func TestJWTErrorHandlerAndSkipper(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		t.Run("custom refusal", func(t *testing.T) {
			s := newServer(t, a, core.Config{}, app, mustJWT(t, JWTConfig{SigningKey: secret,
				ErrorHandler: func(c *core.Conn, err error) error {
					return &core.HTTPError{Status: http.StatusForbidden, Message: "log in first", Reason: "login"}
				}}))
			if status, msg, _ := refused(t, s.url); status != http.StatusForbidden || msg != "log in first" {
				t.Fatalf("refused with %d %q", status, msg)
			}
			if n := rejected(s, "login"); n != 1 {
				t.Fatalf("Rejected[login] = %d", n)
			}
		})
		t.Run("anonymous allowed", func(t *testing.T) {
			s := newServer(t, a, core.Config{}, app, mustJWT(t, JWTConfig{SigningKey: secret, ContinueOnIgnoredError: true,
				ErrorHandler: func(c *core.Conn, err error) error {
					if errors.Is(err, ErrTokenMissing) {
						return nil // anonymous visitors welcome; bad tokens are not
					}
					return err
				}}))
			var sub string
			wstest.Dial(t, s.url).ExpectInto("welcome", &sub)
			if sub != "" {
				t.Fatalf("anonymous connection saw subject %q", sub)
			}
			wstest.Dial(t, s.url, bearer(hs256(t))).ExpectInto("welcome", &sub)
			if sub != "alice" {
				t.Fatalf("subject %q", sub)
			}
			// A plain error from ErrorHandler is a server error, not a pass.
			if status, _, _ := refused(t, s.url, bearer("x.y.z")); status != http.StatusInternalServerError {
				t.Fatalf("bad token: status %d, want 500", status)
			}
		})
		t.Run("skipper", func(t *testing.T) {
			s := newServer(t, a, core.Config{}, app, mustJWT(t, JWTConfig{SigningKey: secret,
				Skipper: func(c *core.Conn) bool { return c.Request().URL.Query().Get("public") == "1" }}))
			wstest.Dial(t, s.url+"?public=1").Expect("welcome")
			if status, _, _ := refused(t, s.url); status != http.StatusUnauthorized {
				t.Fatalf("status %d", status)
			}
		})
	})
}
