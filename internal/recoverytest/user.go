package recoverytest

import (
	"net/http"

	"github.com/rushws/rushws/core"
)

// Subject is JWT-like claims with a subject, as the JWT middleware stores
// them under "user": the identity a session belongs to.
type Subject string

// GetSubject returns the subject, as jwt.Claims does.
func (s Subject) GetSubject() (string, error) { return string(s), nil }

// AsUser is middleware that authenticates the X-User header, as a JWT
// middleware would, refusing a handshake without one.
func AsUser(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		u := c.Request().Header.Get("X-User")
		if u == "" {
			return core.NewHTTPError(http.StatusUnauthorized, "who are you?")
		}
		c.Set("user", Subject(u))
		return next(c)
	}
}
