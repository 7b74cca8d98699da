package main

import (
	"sync"
	"time"
)

// heartbeat is the lean way for a server without a hub to ping its
// connections (raw-lean, gws): one ticker goroutine for all of them,
// started with the first connection, walking the set of live connections
// each interval. Its methods may be called from any goroutine.
type heartbeat[C comparable] struct {
	every time.Duration
	ping  func(C) // must be safe beside the connection's other writes

	// mu protects all.
	mu    sync.Mutex
	all   map[C]struct{}
	start sync.Once
}

func newHeartbeat[C comparable](every time.Duration, ping func(C)) *heartbeat[C] {
	return &heartbeat[C]{every: every, ping: ping, all: make(map[C]struct{})}
}

// add registers c and starts the ticker goroutine on the first call.
func (h *heartbeat[C]) add(c C) {
	h.mu.Lock()
	h.all[c] = struct{}{}
	h.mu.Unlock()
	h.start.Do(func() { go h.loop() })
}

// remove forgets c.
func (h *heartbeat[C]) remove(c C) {
	h.mu.Lock()
	delete(h.all, c)
	h.mu.Unlock()
}

// loop pings every connection each interval, for the life of the process
// (a benchserver serves one measurement and exits).
func (h *heartbeat[C]) loop() {
	t := time.NewTicker(h.every)
	defer t.Stop()
	var batch []C
	for range t.C {
		h.mu.Lock()
		batch = batch[:0]
		for c := range h.all {
			batch = append(batch, c)
		}
		h.mu.Unlock()
		for _, c := range batch {
			h.ping(c)
		}
		clear(batch)
	}
}
