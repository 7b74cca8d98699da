//go:build darwin || linux || openbsd

package core

import (
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// canWritev says the flusher can write without blocking here.
const canWritev = true

// flusherPool holds flushers between broadcasts.
var flusherPool = sync.Pool{New: func() any {
	f := &flusher{iovs: make([][]byte, 0, 64)}
	f.fn = func(fd uintptr) bool {
		f.n, f.err = unix.Writev(int(fd), f.iovs)
		return true // never wait: a full socket is the writer goroutine's job
	}
	return f
}}

// tryWritev writes f.iovs with one writev if the socket takes it now, and
// returns how many bytes it took; errWouldBlock when it cannot write at all
// (gorilla holds the socket, the deadline has passed, or the socket is
// full).
func (w *wireConn) tryWritev(f *flusher) (int, error) {
	if !w.mu.TryLock() {
		return 0, errWouldBlock
	}
	defer w.mu.Unlock()
	f.n, f.err = 0, nil
	err := w.raw.Write(f.fn)
	n := max(f.n, 0)
	switch {
	case err != nil: // the deadline passed or the socket closed: the writer decides
		return n, errWouldBlock
	case f.err == syscall.EAGAIN, f.err == syscall.EINTR:
		return n, errWouldBlock
	}
	return n, f.err
}
