package main

import (
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// maxNameRunes is the longest user name, in runes.
const maxNameRunes = 24

// tokenRequest is the body of POST /api/token.
type tokenRequest struct {
	Name string `json:"name"`
}

// tokenResponse is its answer.
type tokenResponse struct {
	Token     string    `json:"token"`
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// validName trims name and reports whether it is 1 to maxNameRunes
// printable runes.
func validName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n == 0 || n > maxNameRunes {
		return "", false
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return name, true
}

// tokenHandler signs in anyone under the name they ask for: this is a
// demo, so the "password" is knowing the endpoint. A real app checks
// credentials here. The token is short-lived and names the user in "sub".
//
// The endpoint takes JSON only, so a form on another site cannot post to
// it without a CORS preflight, which this app does not answer.
func tokenHandler(cfg Config) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ct := c.Request().Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send {\"name\":...} as application/json")
		}
		var req tokenRequest
		if err := c.Bind(&req); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "body must be {\"name\":\"...\"}")
		}
		name, ok := validName(req.Name)
		if !ok {
			return echo.NewHTTPError(http.StatusBadRequest, "name must be 1 to 24 printable characters")
		}
		now := cfg.now()
		exp := now.Add(cfg.TokenTTL)
		claims := jwt.RegisteredClaims{
			Subject:   name,
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(cfg.Key)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusOK, tokenResponse{Token: tok, Name: name, ExpiresAt: exp.UTC().Truncate(time.Second)})
	}
}
