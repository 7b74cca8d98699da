package core

import (
	"sync"
	"time"
)

// heartbeat is the hub's single pinger: one ticker for all connections, not
// one per connection. It starts with the first connection and stops when
// the hub shuts down.
type heartbeat struct {
	mu      sync.Mutex
	running bool
	halted  bool
	stop    chan struct{}
	done    chan struct{}
}

func (hb *heartbeat) start(h *Hub) {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.running || hb.halted {
		return
	}
	hb.running = true
	hb.stop = make(chan struct{})
	hb.done = make(chan struct{})
	go hb.run(h, hb.stop, hb.done)
}

func (hb *heartbeat) run(h *Hub, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.sweep(now)
		}
	}
}

// halt stops the heartbeat for good and waits for it to exit.
func (hb *heartbeat) halt() {
	hb.mu.Lock()
	hb.halted = true
	running := hb.running
	hb.running = false
	stop, done := hb.stop, hb.done
	hb.mu.Unlock()
	if running {
		close(stop)
		<-done
	}
}

// sweep closes connections whose peer has been silent longer than
// PongTimeout and queues a ping for the others.
func (h *Hub) sweep(now time.Time) {
	deadline := now.Add(-h.cfg.PongTimeout).UnixNano()
	for _, c := range h.Connections() {
		if c.lastSeen.Load() < deadline {
			h.stats.timeouts.Add(1)
			h.log.Debug("rushws: peer silent past the pong timeout, closing", "conn", c.id)
			c.kill(CloseAbnormal, "pong timeout")
			continue
		}
		c.pingSent.Store(now.UnixNano())
		_ = c.enqueue(outbound{kind: kindPing}, false)
	}
}
