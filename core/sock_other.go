//go:build !linux

package core

// canReadNow says sockets are read with blocking reads here: each
// connection keeps its read goroutine, blocked in Read.
const canReadNow = false

// readNow is never called where canReadNow is false.
func (s *sock) readNow([]byte) (int, error) { return 0, nil }

// waitReadable returns at once: the read itself waits.
func (s *sock) waitReadable() error { return nil }
