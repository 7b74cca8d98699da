package core

import (
	"testing"
	"time"
)

func TestShardCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		interval time.Duration
		want     int
	}{
		{25 * time.Second, pingShards},
		{time.Second, pingShards},
		{160 * time.Millisecond, 16},
		{50 * time.Millisecond, 5},
		{20 * time.Millisecond, 2},
		{time.Millisecond, 1},
	} {
		if got := shardCount(tc.interval); got != tc.want {
			t.Errorf("shardCount(%v) = %d, want %d", tc.interval, got, tc.want)
		}
	}
}

// TestShardsPartitionConnections checks that registration spreads
// connections evenly over the heartbeat's shards and that the shards
// together name every connection exactly once.
func TestShardsPartitionConnections(t *testing.T) {
	t.Parallel()
	h, err := NewHub(Config{PingInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer h.hb.halt()
	const n = 100
	for range n {
		c := &Conn{hub: h, id: h.newID()}
		if !h.register(c) {
			t.Fatal("register refused")
		}
	}
	seen := map[*Conn]int{}
	for s := range h.pingShards {
		conns := h.shardConns(nil, uint8(s))
		if len(conns) < n/h.pingShards || len(conns) > n/h.pingShards+1 {
			t.Errorf("shard %d has %d connections, want about %d", s, len(conns), n/h.pingShards)
		}
		for _, c := range conns {
			seen[c]++
		}
	}
	if len(seen) != n {
		t.Fatalf("shards name %d connections, want %d", len(seen), n)
	}
	for _, k := range seen {
		if k != 1 {
			t.Fatalf("a connection is in %d shards", k)
		}
	}
}
