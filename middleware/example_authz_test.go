package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/middleware"
	"github.com/rushws/rushws/wstest"
)

// roleToken returns a token for sub with roles and permissions.
func roleToken(sub string, roles, perms []string) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "roles": roles, "permissions": perms, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)
	if err != nil {
		panic(err)
	}
	return s
}

// A rule is handshake middleware (Rule.Handshake) on a route, and event
// middleware (Rule.Event) on one event. The route below admits staff
// (admins and moderators); only those with the "moderate" permission may
// send "delete".
func ExampleRequireRole() {
	auth, err := middleware.JWT(middleware.JWTConfig{SigningKey: secret})
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	staff := middleware.RequireAnyRole("admin", "moderator")
	canModerate := middleware.RequirePermission("moderate")
	e := echo.New()
	echows.WS(e, "/ws", hub, func(c *core.Conn) error {
		return c.On("delete", func(*core.Conn, json.RawMessage) (any, error) { return "deleted", nil }, canModerate.Event)
	}, auth, staff.Handshake)
	srv := httptest.NewServer(e)
	defer srv.Close()

	try := func(name string, roles, perms []string) {
		c, resp, err := wstest.TryDial(context.Background(), srv.URL+"/ws",
			wstest.WithHeader(http.Header{"Authorization": {"Bearer " + roleToken(name, roles, perms)}}))
		if err != nil {
			fmt.Println(name, "refused:", resp.Status)
			return
		}
		defer c.Close()
		if r := c.EmitWithAck("delete", "msg-1"); r.Err != nil {
			fmt.Println(name, "delete:", r.Err.Code, r.Err.Message)
			return
		}
		fmt.Println(name, "delete: ok")
	}
	try("bob", []string{"user"}, nil)
	try("tim", []string{"moderator"}, nil)
	try("mia", []string{"moderator"}, []string{"moderate"})
	st := hub.Stats()
	fmt.Println("handshakes forbidden:", st.Rejected["forbidden"], "events refused:", st.EventsRefused[core.RefusePermission])
	// Output:
	// bob refused: 403 Forbidden
	// tim delete: forbidden permission "moderate" required
	// mia delete: ok
	// handshakes forbidden: 1 events refused: 1
}

// CloseOnExpiry watches the token a framework's own middleware verified:
// here echo-jwt in an Echo group. When the token expires, the connection
// is closed with 4401 "token expired", as the JWT middleware does for its
// own tokens.
func ExampleCloseOnExpiry() {
	expiry, err := middleware.CloseOnExpiry(middleware.ExpiryConfig{}) // reads "user", where echo-jwt puts the token
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Close()
	e := echo.New()
	api := e.Group("/api", echojwt.WithConfig(echojwt.Config{SigningKey: secret}))
	echows.WS(api, "/ws", hub, chat, expiry)
	srv := httptest.NewServer(e)
	defer srv.Close()

	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "exp": time.Now().Add(2 * time.Second).Unix(), // one to two seconds left
	}).SignedString(secret)
	c, _, err := wstest.TryDial(context.Background(), srv.URL+"/api/ws", wstest.WithTimeout(5*time.Second),
		wstest.WithHeader(http.Header{"Authorization": {"Bearer " + tok}}))
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	var name string
	c.ExpectInto("welcome", &name)
	fmt.Println("welcome", name)
	fmt.Println("closed:", c.ExpectClose(core.CloseUnauthorized))
	// Output:
	// welcome alice
	// closed: token expired
}
