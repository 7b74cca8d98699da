package middleware

import (
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
