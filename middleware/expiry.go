package middleware

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rushws/rushws/core"
)

// ExpiryConfig configures [CloseOnExpiry].
type ExpiryConfig struct {
	// Skipper lets a handshake through without watching its token.
	// Optional. Default DefaultSkipper (never skip).
	Skipper Skipper
	// ContextKey is the Conn metadata key the framework's authentication
	// middleware stored the verified token or claims under: echo-jwt's
	// *jwt.Token under "user" (copied by echows and echo5ws), or a Gin
	// key holding jwt.MapClaims, jwt.RegisteredClaims (or a struct
	// embedding it), map[string]any, or a struct that encodes to the
	// claims' JSON (copied by ginws). Optional. Default "user".
	ContextKey string
	// ExpiryFunc replaces the lookup under ContextKey: it returns when the
	// connection's credential expires, and false when it does not.
	// Optional.
	ExpiryFunc func(c *core.Conn) (time.Time, bool, error)
	// Leeway is added to the expiry, for clock skew between the token's
	// issuer and this server. Optional. Default 0.
	Leeway time.Duration
	// CloseOnFailure accepts a handshake whose token has already expired
	// (or has an "exp" that is not a number) and closes it at once with
	// 4401, so a browser can read why. Optional. Default false: 401 before
	// the upgrade.
	CloseOnFailure bool

	now func() time.Time // the clock, replaced by tests
}

// CloseOnExpiry returns middleware that closes a connection with 4401
// "token expired" when the token that authenticated its handshake expires,
// whoever verified it: echo-jwt in an Echo group, a Gin auth middleware, or
// any middleware that leaves the token or its claims under ContextKey. It
// is what the JWT middleware does for its own tokens, for routes
// authenticated by the framework.
//
// It reads "exp" before the upgrade: a token without "exp" (or no value
// under ContextKey) is let through unwatched; one already expired, or with
// an "exp" that is not a NumericDate, is refused with 401 (Stats().Rejected
// ["unauthorized"]), or closed with 4401 under CloseOnFailure. The expiry
// is a time.AfterFunc timer, stopped when the connection closes: no
// goroutine waits for it.
func CloseOnExpiry(cfg ExpiryConfig) (core.MiddlewareFunc, error) {
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultSkipper
	}
	if cfg.ContextKey == "" {
		cfg.ContextKey = defaultContextKey
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("rushws: ExpiryConfig.Leeway must not be negative")
	}
	return func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if cfg.Skipper(c) {
				return next(c)
			}
			exp, ok, err := cfg.expiry(c)
			if err == nil && ok && !exp.Add(cfg.Leeway).After(cfg.now()) {
				err = jwt.ErrTokenExpired
			}
			if err != nil {
				msg := "invalid token"
				if errors.Is(err, jwt.ErrTokenExpired) {
					msg = "token expired"
				}
				if cfg.CloseOnFailure {
					_ = c.Close(core.CloseUnauthorized, msg)
					return next(c) // the hub runs no route handler for it
				}
				return &core.HTTPError{Status: http.StatusUnauthorized, Message: msg, Reason: core.RejectUnauthorized,
					Header: http.Header{"Www-Authenticate": {"Bearer"}}, Err: err}
			}
			if ok {
				defer watchExpiry(c, exp.Add(cfg.Leeway).Sub(cfg.now()))()
			}
			return next(c)
		}
	}, nil
}

// expiry returns the expiry of the connection's credential.
func (cfg *ExpiryConfig) expiry(c *core.Conn) (time.Time, bool, error) {
	if cfg.ExpiryFunc != nil {
		return cfg.ExpiryFunc(c)
	}
	return expiryOf(c.Get(cfg.ContextKey), cfg.ContextKey)
}

// expiryOf reads "exp" from a token or claims value, in any of the forms
// authentication middleware store.
func expiryOf(v any, key string) (time.Time, bool, error) {
	var claims jwt.Claims
	switch t := v.(type) {
	case nil:
		return time.Time{}, false, nil
	case *jwt.Token:
		if t == nil || t.Claims == nil {
			return time.Time{}, false, nil
		}
		claims = t.Claims
	case jwt.Claims: // MapClaims, RegisteredClaims and structs embedding it
		claims = t
	default:
		cl, err := claimsOf(v, key) // map[string]any, an application's struct
		if err != nil || cl == nil {
			return time.Time{}, false, nil // not claims: nothing to watch
		}
		claims = jwt.MapClaims(cl)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%q: claim \"exp\": %w", key, err)
	}
	if exp == nil {
		return time.Time{}, false, nil
	}
	return exp.Time, true, nil
}
