package core

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
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

	closes   [numCloseClasses]atomic.Uint64
	rttHist  histogram // ping round trips, nanoseconds
	queueHst histogram // bytes queued when a writer woke up

	noSubprotocol atomic.Uint64 // upgrades that selected none of the client's subprotocols

	mu       sync.Mutex
	rejected map[string]uint64
	refused  map[string]uint64 // events refused by event middleware, by reason
}

// recordClose counts a finished connection by the class of its close code.
func (s *counters) recordClose(code int) { s.closes[closeClassOf(code)].Add(1) }

// observeQueue records the bytes a connection's writer found queued when it
// woke up.
func (s *counters) observeQueue(bytes int) { s.queueHst.observe(&queueBounds, int64(bytes)) }

func (s *counters) reject(reason string) {
	s.mu.Lock()
	s.rejected[reason]++
	s.mu.Unlock()
}

// refuseEvent counts an event refused by event middleware.
func (s *counters) refuseEvent(reason string) {
	s.mu.Lock()
	if s.refused == nil {
		s.refused = make(map[string]uint64)
	}
	s.refused[reason]++
	s.mu.Unlock()
}

// recordRTT counts one round trip in the histogram and folds it into an
// exponential moving average (weight 1/8), so the average follows current
// conditions.
func (s *counters) recordRTT(d time.Duration) {
	s.rttHist.observe(&rttBounds, int64(d))
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

// Close classes: what Stats.Closes counts connections by. The set is fixed,
// so a metrics system can label by it.
const (
	// CloseClassNormal is 1000, and 1005 (a close frame without a code).
	CloseClassNormal = "normal"
	// CloseClassGoingAway is 1001: a browser leaving the page, or the hub
	// shutting down.
	CloseClassGoingAway = "going_away"
	// CloseClassProtocol is 1002, 1003, 1007 and 1010: a peer that broke
	// the protocol or sent what cannot be accepted (invalid UTF-8, say).
	CloseClassProtocol = "protocol"
	// CloseClassPolicy is 1008: slow consumers, rate limits, policy.
	CloseClassPolicy = "policy"
	// CloseClassTooBig is 1009: a message over the read limit.
	CloseClassTooBig = "too_big"
	// CloseClassInternal is 1011: a handler panicked or failed.
	CloseClassInternal = "internal"
	// CloseClassAbnormal is 1006: the connection was lost without a close
	// handshake (network failure, pong timeout, a dropped connection).
	CloseClassAbnormal = "abnormal"
	// CloseClassApp is 3000-4999: codes chosen by applications, libraries
	// and middleware (4401, 4403, 4429 among them).
	CloseClassApp = "app"
	// CloseClassOther is every other code (1012-1015, for example).
	CloseClassOther = "other"
)

const numCloseClasses = 9

// Rejection reasons: what Stats.Rejected counts refused handshakes by. The
// hub and package middleware refuse only under these; an HTTPError with a
// Reason of the application's own adds to them, and one without a Reason
// is counted under the reason its Status maps to (RejectReasonFor).
const (
	// RejectBadHandshake is a request that is not a valid WebSocket
	// handshake (400): no Upgrade, a wrong version or key.
	RejectBadHandshake = "bad_handshake"
	// RejectMethod is a handshake that does not use GET (405).
	RejectMethod = "method"
	// RejectOrigin is a browser's Origin that the hub's same-origin rule
	// or the Origin middleware refused (403).
	RejectOrigin = "origin"
	// RejectFull is a hub at Config.MaxConnections (503).
	RejectFull = "full"
	// RejectShutdown is a handshake after Shutdown or Close began (503).
	RejectShutdown = "shutdown"
	// RejectHijack is a route where a middleware hides http.Hijacker, so
	// no upgrade is possible (500).
	RejectHijack = "hijack"
	// RejectMiddleware is connection middleware that returned nil without
	// calling next (403).
	RejectMiddleware = "middleware"
	// RejectInternal is middleware that failed with an error that is not
	// an *HTTPError, or panicked (500).
	RejectInternal = "internal"
	// RejectUnauthorized is a 401: the JWT middleware's refusals.
	RejectUnauthorized = "unauthorized"
	// RejectForbidden is a 403 without a Reason of its own.
	RejectForbidden = "forbidden"
	// RejectRateLimited is a 429: the RateLimit middleware's handshake
	// limit.
	RejectRateLimited = "rate_limited"
	// RejectTooManyConnections is the RateLimit middleware's limit of
	// concurrent connections per key.
	RejectTooManyConnections = "too_many_connections"
	// RejectUnavailable is a 503 without a Reason of its own.
	RejectUnavailable = "unavailable"
	// RejectSubprotocol is a browser that offered its token as its only
	// subprotocol, so the 101 could select none and the browser would fail
	// the connection (400, from the JWT middleware).
	RejectSubprotocol = "subprotocol"
)

// rejectReasons lists the rejection reasons, sorted.
var rejectReasons = [...]string{
	RejectBadHandshake, RejectForbidden, RejectFull, RejectHijack, RejectInternal, RejectMethod,
	RejectMiddleware, RejectOrigin, RejectRateLimited, RejectShutdown, RejectSubprotocol,
	RejectTooManyConnections, RejectUnauthorized, RejectUnavailable,
}

// RejectReasons returns every reason the hub and package middleware count
// refusals under in Stats.Rejected, sorted: a fixed set that a metrics
// system can label by. Package metrics takes its labels from it.
func RejectReasons() []string { return slices.Clone(rejectReasons[:]) }

// RejectReasonFor returns the reason a refusal with the given HTTP status
// and no Reason of its own is counted under: one of RejectReasons for
// 400, 401, 403, 405, 429 and 503, else "status_" and the number.
func RejectReasonFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return RejectBadHandshake
	case http.StatusUnauthorized:
		return RejectUnauthorized
	case http.StatusForbidden:
		return RejectForbidden
	case http.StatusMethodNotAllowed:
		return RejectMethod
	case http.StatusTooManyRequests:
		return RejectRateLimited
	case http.StatusServiceUnavailable:
		return RejectUnavailable
	}
	return "status_" + strconv.Itoa(status)
}

// closeClassNames lists the close classes in index order.
var closeClassNames = [numCloseClasses]string{
	CloseClassNormal, CloseClassGoingAway, CloseClassProtocol, CloseClassPolicy, CloseClassTooBig,
	CloseClassInternal, CloseClassAbnormal, CloseClassApp, CloseClassOther,
}

// CloseClasses returns the close classes that Stats.Closes always holds, in
// a fixed order.
func CloseClasses() []string { return closeClassNames[:] }

// CloseClass returns the class a close code is counted under in
// Stats.Closes (one of CloseClasses).
func CloseClass(code int) string { return closeClassNames[closeClassOf(code)] }

func closeClassOf(code int) int {
	switch {
	case code == 1000, code == 1005:
		return 0
	case code == 1001:
		return 1
	case code == 1002, code == 1003, code == 1007, code == 1010:
		return 2
	case code == 1008:
		return 3
	case code == 1009:
		return 4
	case code == 1011:
		return 5
	case code == 1006:
		return 6
	case code >= 3000 && code <= 4999:
		return 7
	}
	return 8
}

// histogram is a fixed-bucket histogram of atomic counters: observing is a
// short scan of the bounds and two atomic adds, without a lock.
type histogram struct {
	counts [maxBuckets + 1]atomic.Uint64 // the last one counts values above every bound
	sum    atomic.Int64
}

// maxBuckets is the most bounds a histogram has.
const maxBuckets = 16

// histBounds are a histogram's upper bounds in its raw unit (nanoseconds,
// bytes), ascending, and the factor that turns the raw unit into the
// reported one (seconds, bytes).
type histBounds struct {
	raw   []int64
	scale float64
}

// rttBounds are the ping round-trip buckets: 0.5 ms to 5 s.
var rttBounds = histBounds{
	raw: []int64{
		int64(500 * time.Microsecond), int64(time.Millisecond), int64(2500 * time.Microsecond),
		int64(5 * time.Millisecond), int64(10 * time.Millisecond), int64(25 * time.Millisecond),
		int64(50 * time.Millisecond), int64(100 * time.Millisecond), int64(250 * time.Millisecond),
		int64(500 * time.Millisecond), int64(time.Second), int64(2500 * time.Millisecond),
		int64(5 * time.Second),
	},
	scale: 1 / float64(time.Second),
}

// queueBounds are the send-queue buckets: 64 bytes to 4 MiB, by fours (the
// default queue bound, 1 MiB, is one of them).
var queueBounds = histBounds{
	raw:   []int64{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20},
	scale: 1,
}

func (h *histogram) observe(b *histBounds, v int64) {
	i := 0
	for i < len(b.raw) && v > b.raw[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
}

func (h *histogram) snapshot(b *histBounds) Histogram {
	out := Histogram{
		Bounds: make([]float64, len(b.raw)),
		Counts: make([]uint64, len(b.raw)+1),
	}
	for i, r := range b.raw {
		out.Bounds[i] = float64(r) * b.scale
	}
	for i := range out.Counts {
		out.Counts[i] = h.counts[i].Load()
		out.Count += out.Counts[i]
	}
	out.Sum = float64(h.sum.Load()) * b.scale
	return out
}

// Histogram is a snapshot of one of the hub's fixed-bucket histograms, in
// a form both JSON and Prometheus can take.
type Histogram struct {
	// Bounds are the buckets' upper bounds (inclusive), ascending, in the
	// histogram's unit (seconds, bytes).
	Bounds []float64 `json:"bounds"`
	// Counts holds one count per bucket, not cumulative: Counts[i] counts
	// values above Bounds[i-1] and at most Bounds[i], and the last entry,
	// Counts[len(Bounds)], those above every bound.
	Counts []uint64 `json:"counts"`
	// Count is the number of observations (the sum of Counts).
	Count uint64 `json:"count"`
	// Sum is the sum of the observed values, in the histogram's unit.
	Sum float64 `json:"sum"`
}

// Cumulative returns the count of observations at most each bound, as
// Prometheus buckets are kept.
func (h Histogram) Cumulative() map[float64]uint64 {
	out := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		out[b] = n
	}
	return out
}

// Stats is a snapshot of a hub's counters, like sql.DBStats. Totals count
// from NewHub.
type Stats struct {
	// Connections is the number of live connections.
	Connections int `json:"connections"`
	// Accepted counts upgraded connections.
	Accepted uint64 `json:"accepted"`
	// Rejected counts refused handshakes by reason: one of RejectReasons
	// (the hub's and package middleware's), an HTTPError's own Reason, or
	// one derived from its status ("status_418", see RejectReasonFor).
	// Refusals by the framework's own middleware in front of the route
	// (an echo-jwt group's 401, a Gin middleware's abort) are not here:
	// the hub never sees those requests.
	Rejected map[string]uint64 `json:"rejected"`
	// EventsRefused counts events refused by event middleware (or a
	// handler) by reason: RefuseForbidden for ErrForbidden, the reasons of
	// package middleware's authorization helpers (see EventRefuseReasons),
	// or a RefusedError's own Reason. Every reason of EventRefuseReasons is
	// present, zero or not.
	EventsRefused map[string]uint64 `json:"eventsRefused"`
	// UnnegotiatedSubprotocols counts upgrades of clients that offered
	// subprotocols of which neither Config.Subprotocols nor middleware
	// (Conn.SetSubprotocol) selected one: browsers fail such connections at
	// once (1006), so a non-zero count usually means a protocol missing
	// from Config.Subprotocols.
	UnnegotiatedSubprotocols uint64 `json:"unnegotiatedSubprotocols"`
	// Closes counts finished connections by the class of their close code
	// (see CloseClass): every class is present, zero or not.
	Closes map[string]uint64 `json:"closes"`
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
	// PingRTTHistogram counts every ping round trip, in seconds, so
	// percentiles can be read from it.
	PingRTTHistogram Histogram `json:"pingRttHistogram"`
	// SendQueueHistogram counts the bytes a connection's writer found
	// queued each time it woke up: mostly small when clients keep up, near
	// the send-queue bound when some do not.
	SendQueueHistogram Histogram `json:"sendQueueHistogram"`
	// Broker holds the broker's counters; nil when the hub has no broker.
	Broker *BrokerStats `json:"broker,omitempty"`
	// Recovery holds the recovery counters; nil when recovery is off.
	Recovery *RecoveryStats `json:"recovery,omitempty"`
}

// MarshalJSON adds uptimeSeconds (to the millisecond) and pingRttMillis (to
// the microsecond), the readable forms of the two durations.
func (s Stats) MarshalJSON() ([]byte, error) {
	type plain Stats
	return json.Marshal(struct {
		plain
		UptimeSeconds float64 `json:"uptimeSeconds"`
		PingRTTMillis float64 `json:"pingRttMillis"`
	}{plain(s), roundTo(s.Uptime, time.Second, 1000), roundTo(s.PingRTT, time.Millisecond, 1000)})
}

// roundTo returns d in units of unit, rounded to 1/per of a unit.
func roundTo(d, unit time.Duration, per float64) float64 {
	return math.Round(float64(d)/float64(unit)*per) / per
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	s := &h.stats
	s.mu.Lock()
	rejected := maps.Clone(s.rejected)
	refused := make(map[string]uint64, len(s.refused)+6)
	for _, r := range EventRefuseReasons() {
		refused[r] = 0
	}
	maps.Copy(refused, s.refused)
	s.mu.Unlock()
	h.roomsMu.RLock()
	rooms := len(h.rooms)
	h.roomsMu.RUnlock()
	closes := make(map[string]uint64, numCloseClasses)
	for i, name := range closeClassNames {
		closes[name] = s.closes[i].Load()
	}
	st := Stats{
		Connections:              h.Len(),
		Accepted:                 s.accepted.Load(),
		Rejected:                 rejected,
		EventsRefused:            refused,
		UnnegotiatedSubprotocols: s.noSubprotocol.Load(),
		Closes:                   closes,
		MessagesIn:               s.messagesIn.Load(),
		BytesIn:                  s.bytesIn.Load(),
		MessagesOut:              s.messagesOut.Load(),
		BytesOut:                 s.bytesOut.Load(),
		Rooms:                    rooms,
		Uptime:                   time.Since(h.started),
		Errors:                   s.errors.Load(),
		SlowCloses:               s.slowCloses.Load(),
		Drops:                    s.drops.Load(),
		Timeouts:                 s.timeouts.Load(),
		Pauses:                   s.pauses.Load(),
		PingRTT:                  time.Duration(s.rtt.Load()),
		PingRTTHistogram:         s.rttHist.snapshot(&rttBounds),
		SendQueueHistogram:       s.queueHst.snapshot(&queueBounds),
	}
	if b := h.cfg.Broker; b != nil {
		bs := b.Stats()
		st.Broker = &bs
	}
	st.Recovery = h.recoveryStats()
	return st
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
