package middleware

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/wstest"
)

// expiringSoon returns claims for alice that expire within two seconds
// (exp is in whole seconds: between one and two from now).
func expiringSoon() jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(2 * time.Second).Unix()}
}

// closeWait bounds the wait for the expiry close: a ceiling, not the
// expected time.
var closeWait = wstest.WithTimeout(10 * time.Second)

func newExpiryHub(t *testing.T) (*core.Hub, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	return hub, logs
}

func mustExpiry(t *testing.T, cfg ExpiryConfig) core.MiddlewareFunc {
	t.Helper()
	mw, err := CloseOnExpiry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// TestCloseOnExpiryEchoJWT: a connection inside an echo-jwt group is
// closed with 4401 when the token echo-jwt verified expires.
func TestCloseOnExpiryEchoJWT(t *testing.T) {
	t.Parallel()
	hub, _ := newExpiryHub(t)
	e := echo.New()
	api := e.Group("/api", echojwt.WithConfig(echojwt.Config{SigningKey: secret}))
	echows.WS(api, "/ws", hub, app, mustExpiry(t, ExpiryConfig{}))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	tok := sign(t, jwt.SigningMethodHS256, secret, expiringSoon(), nil)
	c := wstest.Dial(t, srv.URL+"/api/ws", bearer(tok), closeWait)
	var sub string
	c.ExpectInto("welcome", &sub)
	if sub != "alice" {
		t.Fatalf("welcome %q, want alice", sub)
	}
	if reason := c.ExpectClose(core.CloseUnauthorized); reason != "token expired" {
		t.Errorf("close reason %q, want token expired", reason)
	}
	eventually(t, "the hub to count the 4401 close", func() bool { return hub.Stats().Closes[core.CloseClassApp] == 1 })
}

// ginAuth is a Gin group's own authentication: it verifies the bearer
// token with golang-jwt (exp not checked when lax, so a test can hand the
// WebSocket route an expired or odd one) and stores the claims under
// "claims" in the form store makes of them.
func ginAuth(lax bool, store func(jwt.MapClaims) any) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw := strings.TrimPrefix(c.GetHeader("Authorization"), "Bearer ")
		opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})}
		if lax {
			opts = append(opts, jwt.WithoutClaimsValidation())
		}
		tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return secret, nil }, opts...)
		if err != nil {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"message": "invalid token"})
			return
		}
		c.Set("claims", store(tok.Claims.(jwt.MapClaims)))
		c.Next()
	}
}

// appClaims is an application's own claims struct, as a Gin middleware
// might store it.
type appClaims struct {
	Sub   string   `json:"sub"`
	Roles []string `json:"roles"`
	Exp   int64    `json:"exp"`
}

func numericExp(m jwt.MapClaims) int64 {
	f, _ := m["exp"].(float64)
	return int64(f)
}

var ginClaimForms = []struct {
	name  string
	store func(jwt.MapClaims) any
}{
	{"jwt.MapClaims", func(m jwt.MapClaims) any { return m }},
	{"map[string]any", func(m jwt.MapClaims) any { return map[string]any(m) }},
	{"*jwt.RegisteredClaims", func(m jwt.MapClaims) any {
		return &jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Unix(numericExp(m), 0))}
	}},
	{"jwt.RegisteredClaims", func(m jwt.MapClaims) any {
		return jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Unix(numericExp(m), 0))}
	}},
	{"application struct", func(m jwt.MapClaims) any { return appClaims{Sub: "alice", Exp: numericExp(m)} }},
}

// TestCloseOnExpiryGin: a connection inside a Gin auth group is closed
// with 4401 when its token expires, whatever form the group stored the
// claims in.
func TestCloseOnExpiryGin(t *testing.T) {
	t.Parallel()
	for _, form := range ginClaimForms {
		t.Run(form.name, func(t *testing.T) {
			t.Parallel()
			hub, _ := newExpiryHub(t)
			r := gin.New()
			api := r.Group("/api", ginAuth(false, form.store))
			ginws.WS(api, "/ws", hub, app, mustExpiry(t, ExpiryConfig{ContextKey: "claims"}))
			srv := httptest.NewServer(r)
			t.Cleanup(srv.Close)

			tok := sign(t, jwt.SigningMethodHS256, secret, expiringSoon(), nil)
			c := wstest.Dial(t, srv.URL+"/api/ws", bearer(tok), closeWait)
			c.Expect("welcome")
			if reason := c.ExpectClose(core.CloseUnauthorized); reason != "token expired" {
				t.Errorf("close reason %q, want token expired", reason)
			}
		})
	}
}

// TestCloseOnExpiryHandshake covers what is decided before the upgrade:
// an expired or malformed "exp" (401, or 4401 with CloseOnFailure), a
// token without "exp" and a route without a token (let through).
func TestCloseOnExpiryHandshake(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name   string
		claims jwt.MapClaims
		close  bool
		status int    // 0: accepted
		msg    string // refusal message or close reason
	}{
		{"expired", jwt.MapClaims{"sub": "alice", "exp": past}, false, http.StatusUnauthorized, "token expired"},
		{"expired, close on failure", jwt.MapClaims{"sub": "alice", "exp": past}, true, 0, "token expired"},
		{"exp not a number", jwt.MapClaims{"sub": "alice", "exp": "tomorrow"}, false, http.StatusUnauthorized, "invalid token"},
		{"exp not a number, close on failure", jwt.MapClaims{"sub": "alice", "exp": "tomorrow"}, true, 0, "invalid token"},
		{"no exp", jwt.MapClaims{"sub": "alice"}, false, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hub, _ := newExpiryHub(t)
			r := gin.New()
			api := r.Group("/api", ginAuth(true, func(m jwt.MapClaims) any { return m }))
			ginws.WS(api, "/ws", hub, app, mustExpiry(t, ExpiryConfig{ContextKey: "claims", CloseOnFailure: tt.close}))
			srv := httptest.NewServer(r)
			t.Cleanup(srv.Close)
			tok := sign(t, jwt.SigningMethodHS256, secret, tt.claims, nil)
			switch {
			case tt.status != 0:
				status, msg, _ := refused(t, srv.URL+"/api/ws", bearer(tok))
				if status != tt.status || msg != tt.msg {
					t.Errorf("refused with %d %q, want %d %q", status, msg, tt.status, tt.msg)
				}
				if n := hub.Stats().Rejected["unauthorized"]; n != 1 {
					t.Errorf(`Stats.Rejected["unauthorized"] = %d, want 1`, n)
				}
			case tt.close:
				c := wstest.Dial(t, srv.URL+"/api/ws", bearer(tok))
				if reason := c.ExpectClose(core.CloseUnauthorized); reason != tt.msg {
					t.Errorf("close reason %q, want %q", reason, tt.msg)
				}
			default:
				c := wstest.Dial(t, srv.URL+"/api/ws", bearer(tok))
				c.Expect("welcome")
				if r := c.EmitWithAck("echo", "hi"); r.Err != nil {
					t.Fatalf("echo: %+v", r.Err)
				}
			}
		})
	}

	t.Run("no token on the route", func(t *testing.T) {
		t.Parallel()
		hub, _ := newExpiryHub(t)
		srv := httptest.NewServer(hub.Handler(app, mustExpiry(t, ExpiryConfig{})))
		t.Cleanup(srv.Close)
		wstest.Dial(t, srv.URL).Expect("welcome")
	})
}

// TestCloseOnExpiryClock checks the timer against the middleware's clock:
// a token with an hour left, on a clock 50 ms before its expiry, closes
// the connection then, and the Leeway is added.
func TestCloseOnExpiryClock(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, tt := range []struct {
		name   string
		leeway time.Duration
	}{{"no leeway", 0}, {"leeway", 30 * time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := func() time.Time { return exp.Add(-50 * time.Millisecond) }
			hub, _ := newExpiryHub(t)
			mw := mustExpiry(t, ExpiryConfig{Leeway: tt.leeway, now: clock})
			srv := httptest.NewServer(hub.Handler(app, func(next core.HandlerFunc) core.HandlerFunc {
				return func(c *core.Conn) error {
					c.Set("user", jwt.MapClaims{"sub": "alice", "exp": float64(exp.Unix())})
					return next(c)
				}
			}, mw))
			t.Cleanup(srv.Close)
			c := wstest.Dial(t, srv.URL)
			c.Expect("welcome")
			c.ExpectClose(core.CloseUnauthorized)
		})
	}
}

func TestCloseOnExpiryConfig(t *testing.T) {
	t.Parallel()
	if _, err := CloseOnExpiry(ExpiryConfig{Leeway: -time.Second}); err == nil || !strings.Contains(err.Error(), "Leeway") {
		t.Errorf("negative Leeway: %v, want an error naming Leeway", err)
	}
}
