package middleware

import (
	"net/http"
	"sync"

	"github.com/rushws/rushws/core"
)

// Skipper decides, per handshake, that a middleware should let the request
// through untouched, as Echo's middleware.Skipper does. It runs before the
// upgrade and must not keep c.
type Skipper func(c *core.Conn) bool

// DefaultSkipper skips nothing.
func DefaultSkipper(*core.Conn) bool { return false }

// afterNext arranges for release to run exactly once: when c closes if the
// chain upgraded it, or at once when next returns without an upgrade
// (refused further down, failed, or panicked). Call it before next, and
// defer the function it returns.
func afterNext(c *core.Conn, release func()) (deferred func()) {
	var once sync.Once
	run := func() { once.Do(release) }
	c.OnClose(func(*core.Conn, int, string) { run() })
	return func() {
		if !c.Upgraded() {
			run()
		}
	}
}

// closeCodeFor is the close code that stands for a refusal after the
// upgrade, so a browser can read the reason: 4401, 4403 and 4429 for 401,
// 403 and 429, else 1008.
func closeCodeFor(status int) int {
	switch status {
	case http.StatusUnauthorized:
		return core.CloseUnauthorized
	case http.StatusForbidden:
		return core.CloseForbidden
	case http.StatusTooManyRequests:
		return core.CloseRateLimited
	}
	return core.ClosePolicyViolation
}
