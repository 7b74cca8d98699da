package core

import (
	"sync"
	"time"
)

// pingShards is how many slices of the connections the heartbeat pings in
// turn, one slice every PingInterval/pingShards. Pinging everyone at once
// would start a writer goroutine on every connection at the same moment, and
// the runtime keeps goroutine structures for good (and, measured, the stacks
// of the latest burst of writers after a GC): about 1 KiB a connection at
// 10k connections. Spread out, at most about n/pingShards writers run for
// pings at once; 64 slices keep that burst's stacks near 64 bytes a
// connection (16 slices: 256).
const pingShards = 64

// minPingTick keeps very short ping intervals (tests) from ticking in
// sub-millisecond steps: they use fewer shards instead.
const minPingTick = 10 * time.Millisecond

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

// shardCount returns how many shards the heartbeat sweeps in turn for a
// ping interval: pingShards, fewer when the interval is very short.
func shardCount(interval time.Duration) int {
	n := int(interval / minPingTick)
	return max(1, min(n, pingShards))
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

// run ticks every PingInterval/shards and sweeps one shard a tick, so each
// connection is pinged, and its pong timeout checked, once per PingInterval.
func (hb *heartbeat) run(h *Hub, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	shards := h.pingShards
	t := time.NewTicker(h.cfg.PingInterval / time.Duration(shards))
	defer t.Stop()
	var buf []*Conn
	shard := 0
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			buf = h.shardConns(buf[:0], uint8(shard))
			h.sweep(now, buf)
			clear(buf)
			shard = (shard + 1) % shards
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

// shardConns appends the live connections of one heartbeat shard to buf.
func (h *Hub) shardConns(buf []*Conn, shard uint8) []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.conns {
		if c.shard == shard {
			buf = append(buf, c)
		}
	}
	return buf
}

// sweep closes connections whose peer has been silent longer than
// PongTimeout and queues a ping for the others.
func (h *Hub) sweep(now time.Time, conns []*Conn) {
	deadline := now.Add(-h.cfg.PongTimeout).UnixNano()
	for _, c := range conns {
		if c.lastSeen.Load() < deadline {
			h.stats.timeouts.Add(1)
			h.log.Debug("rushws: peer silent past the pong timeout, closing", "conn", c.id)
			c.kill(CloseAbnormal, "pong timeout")
			continue
		}
		c.pingSent.Store(now.UnixNano())
		_ = c.enqueue(pingOut, false)
	}
}
