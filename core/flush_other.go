//go:build !(darwin || linux || openbsd)

package core

import "sync"

// canWritev says the flusher cannot write without blocking here: every
// connection's writer is a goroutine of its own.
const canWritev = false

// flusherPool holds flushers between broadcasts.
var flusherPool = sync.Pool{New: func() any { return &flusher{} }}

// tryWritev is never called where canWritev is false.
func (w *wireConn) tryWritev(*flusher) (int, error) { return 0, errWouldBlock }
