package middleware

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzTokenLookup feeds arbitrary TokenLookup strings to the parser that
// compiles them: it never panics, what it accepts names only known sources
// with a non-empty name (a prefix only for headers), and the compiled form
// written back out compiles to the same lookups.
func FuzzTokenLookup(f *testing.F) {
	for _, s := range []string{
		"header:Authorization:Bearer ,query:token,cookie:token",
		"header:Authorization:Bearer ,subprotocol",
		"query:token", "cookie:jwt", "param:token", "subprotocol", " subprotocol ",
		"header:X-Token", "header:", ":", "", ",", "header::Bearer ", "query:a:b", "subprotocol:x",
		"form:token", "header:Authorization:Bearer :extra", "header:\x00:y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lookups, err := parseTokenLookup(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rushws: JWTConfig.TokenLookup") {
				t.Fatalf("error %q does not name the setting", err)
			}
			return
		}
		var parts []string
		for _, l := range lookups {
			switch l.source {
			case "subprotocol":
				if l.name != "" || l.prefix != "" {
					t.Fatalf("subprotocol lookup with name %q prefix %q", l.name, l.prefix)
				}
				parts = append(parts, "subprotocol")
				continue
			case "header":
				if l.name != http.CanonicalHeaderKey(l.name) {
					t.Fatalf("header name %q is not canonical", l.name)
				}
			case "query", "cookie", "param":
				if l.prefix != "" {
					t.Fatalf("%s lookup with prefix %q", l.source, l.prefix)
				}
			default:
				t.Fatalf("unknown source %q accepted from %q", l.source, s)
			}
			if strings.TrimSpace(l.name) == "" || strings.Contains(l.name, ":") || strings.Contains(l.name, ",") {
				t.Fatalf("lookup name %q accepted from %q", l.name, s)
			}
			p := l.source + ":" + l.name
			if l.prefix != "" {
				p += ":" + l.prefix
			}
			parts = append(parts, p)
		}
		again, err := parseTokenLookup(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("written back as %q, the lookups do not compile: %v", strings.Join(parts, ","), err)
		}
		if len(again) != len(lookups) {
			t.Fatalf("%q compiled to %d lookups, written back to %d", s, len(lookups), len(again))
		}
		for i := range again {
			if again[i] != lookups[i] {
				t.Fatalf("lookup %d: %+v, written back %+v", i, lookups[i], again[i])
			}
		}
	})
}

// FuzzTokenShape checks the one-pass shape check that runs before any
// decoding against a plain reference: three dot-separated base64url
// segments, the first non-empty, at most MaxTokenLength bytes.
func FuzzTokenShape(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "a.b.c", "a..", ".b.c", "a.b", "a.b.c.d", "",
		"a=.b.c", "a+b.c.d", "a.b.c/", strings.Repeat(".", 100), "eyJ\x00.a.b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		segs := strings.Split(tok, ".")
		want := len(tok) <= MaxTokenLength && len(segs) == 3 && segs[0] != ""
		for _, s := range segs {
			if strings.TrimLeft(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				want = false
			}
		}
		err := checkShape(tok)
		if (err == nil) != want {
			t.Fatalf("checkShape(%q) = %v, want ok=%v", tok, err, want)
		}
		if err != nil && !errors.Is(err, jwt.ErrTokenMalformed) {
			t.Fatalf("checkShape error %v is not ErrTokenMalformed", err)
		}
	})
}

// FuzzParseToken hands arbitrary strings to the JWT middleware's token
// parser (HS256, exp required): only a token signed with the key and not
// expired is accepted, nothing panics, and no error message repeats the
// token (errors end up in logs).
func FuzzParseToken(f *testing.F) {
	key := []byte("fuzz-secret-of-thirty-two-bytes!") // HS256 needs 32 bytes
	now := time.Unix(1_800_000_000, 0)
	sign := func(method jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(k)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	valid := sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"sub": "u1", "exp": now.Add(time.Hour).Unix()})
	f.Add(valid)
	f.Add(sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"sub": "u1", "exp": now.Add(-time.Hour).Unix()}))
	f.Add(sign(jwt.SigningMethodHS256, key, jwt.MapClaims{"sub": "u1"}))
	f.Add(sign(jwt.SigningMethodHS512, key, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}))
	f.Add(sign(jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}))
	f.Add(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}))
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1900000000}`)) + "."
	f.Add(none)
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Add("a.b.c")
	m, err := newJWT(JWTConfig{SigningKey: key, now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		v, err := m.parse(nil, tok)
		if err != nil {
			if len(tok) >= 16 && strings.Contains(err.Error(), tok) {
				t.Fatalf("error %q repeats the token", err)
			}
			return
		}
		ref, rerr := jwt.Parse(tok, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
		if rerr != nil || !ref.Valid {
			t.Fatalf("parse accepted %q, which the reference refuses: %v", tok, rerr)
		}
		if pt, ok := v.(*jwt.Token); !ok || pt.Raw != "" {
			t.Fatalf("accepted token keeps its raw form: %T", v)
		}
	})
}
