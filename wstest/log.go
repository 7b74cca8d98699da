package wstest

import (
	"bytes"
	"sync"
)

// LogBuffer collects what a logger writes, for a test to read: pass it to
// slog.NewTextHandler for a hub's Config.Logger, to log.New for an
// http.Server's ErrorLog, or to a framework's logger, then assert on
// String. A hub logs from many goroutines at once, which a bytes.Buffer
// does not survive; a LogBuffer does.
//
// The zero LogBuffer is empty and ready to use. It is safe for concurrent
// use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
