package main

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rushws/rushws/core"
)

// maxCounted bounds the clients whose handshake attempts are counted, so a
// caller cannot grow the map without end.
const maxCounted = 10_000

// users is what the routes for the JS client's authentication tests keep:
// the subjects removed (their tokens still verify, but the routes refuse
// them, as an app whose user was deleted would), and the handshake
// attempts per client (the "client" query parameter), so a test can count
// on the server side how often a page tried.
//
// users is safe for use by several goroutines at once.
type users struct {
	hub *core.Hub

	// mu protects the following.
	mu       sync.Mutex
	removed  map[string]bool
	attempts map[string]int
}

func newUsers(hub *core.Hub) *users {
	return &users{hub: hub, removed: map[string]bool{}, attempts: map[string]int{}}
}

// count is middleware, first in its route's chain, that counts every
// handshake attempt of the client named by the query parameter "client",
// whatever happens to it later.
func (u *users) count(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		id := c.Request().URL.Query().Get("client")
		if id != "" && len(id) <= 64 {
			u.mu.Lock()
			if _, ok := u.attempts[id]; ok || len(u.attempts) < maxCounted {
				u.attempts[id]++
			}
			u.mu.Unlock()
		}
		return next(c)
	}
}

// known is middleware after middleware.JWT that refuses a removed user the
// way JWTConfig.CloseOnFailure refuses a bad token: the handshake is
// accepted and the connection closed with 4401 "user removed", which a
// browser can read (a refused handshake is only 1006 to it).
func (u *users) known(next core.HandlerFunc) core.HandlerFunc {
	return func(c *core.Conn) error {
		if sub := subject(c); sub != "" && u.isRemoved(sub) {
			_ = c.Close(core.CloseUnauthorized, "user removed")
		}
		// A connection closed before its upgrade never reaches the route
		// handler: the hub sends the close frame right after the upgrade.
		return next(c)
	}
}

func (u *users) isRemoved(sub string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.removed[sub]
}

// remove handles POST /users/remove?sub=name: later handshakes of that
// user are closed with 4401 "user removed", and so are its connections now
// open. GET /token still issues its tokens (the token issuer does not know).
func (u *users) remove(w http.ResponseWriter, r *http.Request) {
	sub := r.URL.Query().Get("sub")
	if sub == "" || len(sub) > 64 {
		http.Error(w, "want ?sub= with 1 to 64 bytes", http.StatusBadRequest)
		return
	}
	u.mu.Lock()
	u.removed[sub] = true
	u.mu.Unlock()
	for _, c := range u.hub.Connections() {
		if subject(c) == sub {
			_ = c.Close(core.CloseUnauthorized, "user removed")
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// attemptsOf handles GET /api/attempts?client=name: {"attempts":n}, the
// handshakes that client attempted on the counting routes.
func (u *users) attemptsOf(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	n := u.attempts[r.URL.Query().Get("client")]
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"attempts": n})
}

// subject is the "sub" of the connection's verified token, or "".
func subject(c *core.Conn) string {
	tok, ok := c.Get("user").(*jwt.Token)
	if !ok {
		return ""
	}
	sub, _ := tok.Claims.GetSubject()
	return sub
}

// page is GET /auth.html: an empty same-origin page that the Chromium
// tests load and drive (they import /rushws.js into it).
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rushws auth e2e</title></head>
<body><p id="status">loading</p><ul id="log"></ul></body></html>
`

func servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(page))
}
