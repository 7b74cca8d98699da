package core

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Hub owns every live connection of one process: the registry, the rooms,
// the counters, the heartbeat and shutdown. Create one with NewHub and mount
// it on routes with Handler or an adapter (echows, ginws).
//
// All methods of Hub are safe for concurrent use.
type Hub struct {
	id       string // names the hub among those sharing a broker; prefixes connection IDs
	cfg      Config
	log      *slog.Logger
	upgrader websocket.Upgrader
	started  time.Time

	mwMu sync.RWMutex
	mw   []MiddlewareFunc
	evmw atomic.Pointer[eventChain] // hub-wide event middleware (eventmw.go); written under mwMu

	mu       sync.RWMutex
	conns    map[string]*Conn
	closing  bool          // Shutdown or Close has begun; guarded by mu
	live     int           // handshakes in progress and live connections, counted against MaxConnections; guarded by mu
	inServe  int           // of those, the ones still in Serve (user middleware and route handlers); guarded by mu
	liveWake chan struct{} // closed when live or inServe changes, for waitLive; guarded by mu

	roomsMu sync.RWMutex
	rooms   map[string]*room

	hb         heartbeat
	pingShards int    // heartbeat shards, fixed at construction
	nextShard  uint32 // round-robin shard for the next connection; guarded by mu

	stats counters

	broker *hubBroker // the link to Config.Broker, nil without one

	rec *recovery // connection state recovery, nil when off (recovery.go)

	pollMu  sync.Mutex
	poll    *poller // parks idle connections; started with the first one, nil until then
	pollErr error   // why there is no poller: connections then read with goroutines

	missingParams paramWarnings // Conn.Param names a route lacked, each logged once (param.go)
}

// poller returns the hub's poller, starting it on first use, or nil when
// the platform has none or it could not start (logged once).
func (h *Hub) poller() *poller {
	if !pollerSupported {
		return nil
	}
	h.pollMu.Lock()
	defer h.pollMu.Unlock()
	if h.poll == nil && h.pollErr == nil {
		h.poll, h.pollErr = newPoller(h)
		if h.pollErr != nil {
			h.log.Warn("rushws: poller unavailable, idle connections keep a read goroutine", "err", h.pollErr)
		}
	}
	return h.poll
}

// stopPoller stops the poller once every connection has finished.
func (h *Hub) stopPoller() {
	h.pollMu.Lock()
	p := h.poll
	h.poll, h.pollErr = nil, errHubStopped
	h.pollMu.Unlock()
	if p != nil {
		p.stop()
	}
}

// NewHub returns a hub configured by cfg. It returns an error when a field
// is out of range; the zero Config is valid. The hub starts no goroutine
// until its first connection.
func NewHub(cfg Config) (*Hub, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h := &Hub{
		id:      newHubID(),
		cfg:     cfg,
		log:     cfg.Logger,
		started: time.Now(),
		conns:   make(map[string]*Conn),
		rooms:   make(map[string]*room),
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		// gorilla writes the 101 and nothing else: with no buffer sizes it
		// reuses the server's buffers and allocates none of its own.
		WriteBufferPool:   &sync.Pool{},
		Subprotocols:      cfg.Subprotocols,
		EnableCompression: cfg.EnableCompression,
		// The origin was decided before the upgrade, in one place: see
		// originAllowed and package internal/origincheck.
		CheckOrigin: func(*http.Request) bool { return true },
		// Errors are answered by the hub itself, as JSON.
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			if hw, ok := w.(*hijackWriter); ok {
				hw.status = status
			}
		},
	}
	if cfg.PingInterval > 0 {
		h.pingShards = shardCount(cfg.PingInterval)
	}
	h.stats.rejected = make(map[string]uint64)
	if err := h.startBroker(); err != nil {
		return nil, err
	}
	if err := h.startRecovery(); err != nil {
		_ = h.closeBroker()
		return nil, err
	}
	return h, nil
}

// Use adds hub-wide middleware, run before every route's own middleware.
// Call it before the hub serves its first request.
func (h *Hub) Use(mw ...MiddlewareFunc) {
	h.mwMu.Lock()
	h.mw = append(h.mw, mw...)
	h.mwMu.Unlock()
}

// Conn returns the live connection with the given ID, or nil.
func (h *Hub) Conn(id string) *Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

// Connections returns a snapshot of the live connections, in no particular
// order.
func (h *Hub) Connections() []*Conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*Conn, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c)
	}
	return out
}

// Len returns the number of live connections.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// admit counts a handshake in progress, against MaxConnections and in the
// set of goroutines Shutdown waits for. Each admit is paired with release.
func (h *Hub) admit() *HTTPError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return &HTTPError{Status: http.StatusServiceUnavailable, Message: "server is shutting down", Reason: RejectShutdown}
	}
	if h.cfg.MaxConnections > 0 && h.live >= h.cfg.MaxConnections {
		return &HTTPError{Status: http.StatusServiceUnavailable, Message: "too many connections", Reason: RejectFull}
	}
	h.live++
	h.inServe++
	return nil
}

// leaveServe marks the end of a handshake's time in Serve, where user code
// (middleware, the route handler) runs on the server's goroutine.
func (h *Hub) leaveServe() {
	h.mu.Lock()
	h.inServe--
	h.wakeLocked()
	h.mu.Unlock()
}

// wakeLocked wakes waitLive. h.mu is held.
func (h *Hub) wakeLocked() {
	if h.liveWake != nil {
		close(h.liveWake)
		h.liveWake = nil
	}
}

// waitLive waits until no connection is left, or, with userCode, until the
// only ones left are in user code that the hub cannot interrupt (a route
// handler that does not return): those were closed and end when it returns.
// It reports false when ctx ended first.
func (h *Hub) waitLive(ctx context.Context, userCode bool) bool {
	for {
		h.mu.Lock()
		if h.live == 0 || userCode && h.live == h.inServe {
			h.mu.Unlock()
			return true
		}
		if h.liveWake == nil {
			h.liveWake = make(chan struct{})
		}
		wake := h.liveWake
		h.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

// release ends what admit began, forgetting c if it was registered. c is
// nil for a refused handshake.
func (h *Hub) release(c *Conn) {
	if c != nil && c.registered && h.rec != nil && c.sess != nil {
		h.rec.released(c) // recovery: save the session for its window
	}
	h.mu.Lock()
	if c != nil && c.registered && h.conns[c.id] == c { // a recovery may have taken its ID over
		delete(h.conns, c.id)
	}
	h.live--
	h.wakeLocked()
	h.mu.Unlock()
}

// register lists an upgraded connection. It fails once shutdown has begun.
func (h *Hub) register(c *Conn) bool {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return false
	}
	h.conns[c.id] = c
	if h.pingShards > 0 {
		c.shard = uint8(h.nextShard % uint32(h.pingShards))
		h.nextShard++
	}
	h.mu.Unlock()
	h.stats.accepted.Add(1)
	if h.cfg.PingInterval > 0 {
		h.hb.start(h)
	}
	return true
}

// ID returns the hub's identifier: random, unique among the hubs sharing a
// broker, and the prefix (before the first '.') of its connections' IDs.
func (h *Hub) ID() string { return h.id }

// newHubID returns a hub ID: 64 random bits, base64url.
func newHubID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newID returns an unguessable connection ID: the hub's ID, a dot, and 128
// random bits in base64url, so a connection ID names the hub that holds it.
func (h *Hub) newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return h.id + "." + base64.RawURLEncoding.EncodeToString(b[:])
}

// HubOf returns the ID of the hub that holds the connection with the given
// ID, or "" when id is not a connection ID.
func HubOf(connID string) string {
	for i := 0; i < len(connID); i++ {
		if connID[i] == '.' {
			return connID[:i]
		}
	}
	return ""
}
