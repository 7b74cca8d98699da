//go:build !linux

package core

// canReadNow says sockets are read with blocking reads here: each
// connection keeps its read goroutine, blocked in Read.
const canReadNow = false

// nowRead is unused where canReadNow is false.
type nowRead struct{}

func (r *nowRead) init() {}

// readNow is never called where canReadNow is false.
func (s *sock) readNow(*nowRead, []byte) (int, error) { return 0, nil }

// waitReadable returns at once: the read itself waits.
func (s *sock) waitReadable() error { return nil }
