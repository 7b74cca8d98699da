package middleware

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rushws/rushws/core"
	"golang.org/x/time/rate"
)

// Defaults of RateLimitConfig.
const (
	DefaultHandshakeRate  rate.Limit = 2
	DefaultHandshakeBurst            = 10
	DefaultMessageRate    rate.Limit = 50
	DefaultMessageBurst              = 100
	DefaultStrikes                   = 10
	DefaultExpiresIn                 = 3 * time.Minute
)

// RateLimitConfig configures a [RateLimiter]. The zero value is valid:
// handshakes limited per client IP, messages limited per connection, no
// cap on concurrent connections.
type RateLimitConfig struct {
	// Skipper lets a handshake through without any limit, and without
	// limiting its messages. Optional. Default DefaultSkipper (never skip).
	Skipper Skipper

	// KeyFunc returns the key handshakes and connections are counted
	// under: a user id read from c.Get("user") when the JWT middleware ran
	// first, an API key, a tenant. An empty key is a key like any other,
	// shared by every handshake that gets it. Optional. Default ClientIPKey,
	// the client IP as the framework's trusted-proxy configuration
	// determined it.
	KeyFunc func(c *core.Conn) string

	// HandshakeRate is how many handshakes per second one key may make, on
	// average; more get 429 with Retry-After before the upgrade, counted as
	// Stats().Rejected["rate_limited"]. rate.Inf turns the limit off.
	// Optional. Default 2 per second.
	HandshakeRate rate.Limit
	// HandshakeBurst is how many handshakes one key may make at once.
	// Optional. Default 10.
	HandshakeBurst int
	// MaxPerKey caps the concurrent connections of one key; more get 429
	// before the upgrade, counted as Stats().Rejected["too_many_connections"].
	// The count drops when a connection closes, whatever the reason.
	// Optional. Default 0, no cap.
	MaxPerKey int

	// MessageRate is how many messages per second one connection may send,
	// on average (a token bucket per connection). A message over the limit
	// is dropped and answered with a "rate_limited" error event. rate.Inf
	// turns the limit off. Optional. Default 50 per second.
	MessageRate rate.Limit
	// MessageBurst is how many messages one connection may send at once.
	// Optional. Default 100.
	MessageBurst int
	// Strikes is how many messages in a row may be dropped before the
	// connection is closed with StrikeCloseCode; a message that passes
	// resets the count. A negative value never closes. Optional. Default
	// 10.
	Strikes int
	// StrikeCloseCode closes a connection that used up its strikes: 1008
	// (policy violation) or 4429 (rate limited), with the reason "message
	// rate exceeded". Optional. Default 1008.
	StrikeCloseCode int

	// ExpiresIn is how long the state of a key (its handshake bucket) is
	// kept after its last handshake and its last connection closed. State
	// is swept as handshakes arrive, with no goroutine, so memory follows
	// the number of keys seen within ExpiresIn, not ever. It must be at
	// least the time an empty bucket takes to refill (HandshakeBurst /
	// HandshakeRate), or forgetting a key would reset its limit. Optional.
	// Default 3 minutes, or that refill time when longer.
	ExpiresIn time.Duration

	// ErrorHandler is called when a handshake is refused, with the
	// *core.HTTPError (429) about to be returned; what it returns is used
	// instead. Returning nil still refuses, with the default error.
	// Optional. Default none.
	ErrorHandler func(c *core.Conn, err error) error

	now func() time.Time // the clock, replaced by tests
}

// RateLimiter limits handshakes and concurrent connections per key and
// messages per connection, with golang.org/x/time/rate token buckets. Use
// its Middleware hub-wide or on routes; one RateLimiter may serve several
// routes, which then share its per-key state.
//
// All methods are safe for concurrent use. It starts no goroutine and
// needs no Close: expired keys are swept as handshakes arrive.
type RateLimiter struct {
	cfg RateLimitConfig
	now func() time.Time

	mu         sync.Mutex
	keys       map[string]*keyState
	head, tail *keyState // least to most recently used

	handshakesLimited atomic.Uint64
	connectionsCapped atomic.Uint64
	messagesDropped   atomic.Uint64
	strikeCloses      atomic.Uint64
}

// keyState is what a RateLimiter remembers about one key, on a list
// ordered by last use so sweeping stops at the first fresh entry.
type keyState struct {
	key        string
	handshakes *rate.Limiter // nil when handshakes are not limited
	conns      int
	last       time.Time
	prev, next *keyState
}

// RateLimitStats is a snapshot of a RateLimiter's counters. Totals count
// from NewRateLimiter.
type RateLimitStats struct {
	// Keys is the number of keys whose state is kept now.
	Keys int `json:"keys"`
	// HandshakesLimited counts handshakes refused for HandshakeRate
	// (the hub's Stats().Rejected["rate_limited"] counts them too).
	HandshakesLimited uint64 `json:"handshakesLimited"`
	// ConnectionsCapped counts handshakes refused for MaxPerKey (the hub's
	// Stats().Rejected["too_many_connections"]).
	ConnectionsCapped uint64 `json:"connectionsCapped"`
	// MessagesDropped counts messages dropped for MessageRate.
	MessagesDropped uint64 `json:"messagesDropped"`
	// StrikeCloses counts connections closed for using up their Strikes.
	StrikeCloses uint64 `json:"strikeCloses"`
}

// NewRateLimiter returns a RateLimiter configured by cfg, or an error for
// a negative rate, burst or cap, an unsupported StrikeCloseCode, or an
// ExpiresIn shorter than a bucket's refill time.
func NewRateLimiter(cfg RateLimitConfig) (*RateLimiter, error) {
	var errs []error
	if cfg.Skipper == nil {
		cfg.Skipper = DefaultSkipper
	}
	if cfg.KeyFunc == nil {
		cfg.KeyFunc = ClientIPKey
	}
	positive := func(name string, v float64) {
		if v < 0 || math.IsNaN(v) {
			errs = append(errs, fmt.Errorf("rushws: RateLimitConfig.%s must not be negative", name))
		}
	}
	positive("HandshakeRate", float64(cfg.HandshakeRate))
	positive("HandshakeBurst", float64(cfg.HandshakeBurst))
	positive("MaxPerKey", float64(cfg.MaxPerKey))
	positive("MessageRate", float64(cfg.MessageRate))
	positive("MessageBurst", float64(cfg.MessageBurst))
	positive("ExpiresIn", float64(cfg.ExpiresIn))
	if cfg.HandshakeRate == 0 {
		cfg.HandshakeRate = DefaultHandshakeRate
	}
	if cfg.HandshakeBurst == 0 {
		cfg.HandshakeBurst = DefaultHandshakeBurst
	}
	if cfg.MessageRate == 0 {
		cfg.MessageRate = DefaultMessageRate
	}
	if cfg.MessageBurst == 0 {
		cfg.MessageBurst = DefaultMessageBurst
	}
	if cfg.Strikes == 0 {
		cfg.Strikes = DefaultStrikes
	}
	switch cfg.StrikeCloseCode {
	case 0:
		cfg.StrikeCloseCode = core.ClosePolicyViolation
	case core.ClosePolicyViolation, core.CloseRateLimited:
	default:
		errs = append(errs, fmt.Errorf("rushws: RateLimitConfig.StrikeCloseCode must be 1008 or 4429, not %d", cfg.StrikeCloseCode))
	}
	var refill time.Duration
	if cfg.HandshakeRate > 0 && cfg.HandshakeRate != rate.Inf {
		refill = time.Duration(float64(cfg.HandshakeBurst) / float64(cfg.HandshakeRate) * float64(time.Second))
	}
	switch {
	case cfg.ExpiresIn == 0:
		cfg.ExpiresIn = max(DefaultExpiresIn, refill)
	case cfg.ExpiresIn < refill:
		errs = append(errs, fmt.Errorf("rushws: RateLimitConfig.ExpiresIn (%v) is shorter than a handshake bucket's refill time (%v)", cfg.ExpiresIn, refill))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	l := &RateLimiter{cfg: cfg, now: cfg.now, keys: make(map[string]*keyState)}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// RateLimit returns the Middleware of a new RateLimiter, for when its
// counters are not needed.
func RateLimit(cfg RateLimitConfig) (core.MiddlewareFunc, error) {
	l, err := NewRateLimiter(cfg)
	if err != nil {
		return nil, err
	}
	return l.Middleware(), nil
}

// ClientIPKey is the default key: the client IP the framework determined
// (c.IP(): Echo's IPExtractor, Gin's trusted proxies), with IPv6 addresses
// grouped by their /64 prefix, the block one subscriber usually holds, so
// rotating through it does not yield fresh buckets.
func ClientIPKey(c *core.Conn) string {
	ip := c.IP()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// Len returns the number of keys whose state is kept now.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// Stats returns a snapshot of the limiter's counters.
func (l *RateLimiter) Stats() RateLimitStats {
	return RateLimitStats{
		Keys:              l.Len(),
		HandshakesLimited: l.handshakesLimited.Load(),
		ConnectionsCapped: l.connectionsCapped.Load(),
		MessagesDropped:   l.messagesDropped.Load(),
		StrikeCloses:      l.strikeCloses.Load(),
	}
}

// Middleware returns the middleware that applies the limits. Place it
// after the JWT middleware when KeyFunc reads the user.
func (l *RateLimiter) Middleware() core.MiddlewareFunc {
	return func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if l.cfg.Skipper(c) {
				return next(c)
			}
			st, he := l.admit(l.cfg.KeyFunc(c))
			if he != nil {
				return l.refuse(c, he)
			}
			if st != nil {
				defer afterNext(c, func() { l.release(st) })()
			}
			if l.cfg.MessageRate != rate.Inf {
				c.Filter(l.messageFilter())
			}
			return next(c)
		}
	}
}

func (l *RateLimiter) refuse(c *core.Conn, he *core.HTTPError) error {
	if l.cfg.ErrorHandler != nil {
		if err := l.cfg.ErrorHandler(c, he); err != nil {
			return err
		}
	}
	return he
}

// admit applies the per-key limits to one handshake. It returns the key's
// state when a connection was counted against MaxPerKey, to be released.
func (l *RateLimiter) admit(key string) (*keyState, *core.HTTPError) {
	limitHandshakes := l.cfg.HandshakeRate != rate.Inf
	if !limitHandshakes && l.cfg.MaxPerKey == 0 {
		return nil, nil
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	st := l.keys[key]
	if st == nil {
		st = &keyState{key: key}
		if limitHandshakes {
			st.handshakes = rate.NewLimiter(l.cfg.HandshakeRate, l.cfg.HandshakeBurst)
		}
		l.keys[key] = st
	} else {
		l.unlinkLocked(st)
	}
	l.pushLocked(st, now)
	if l.cfg.MaxPerKey > 0 && st.conns >= l.cfg.MaxPerKey {
		l.connectionsCapped.Add(1)
		return nil, &core.HTTPError{Status: http.StatusTooManyRequests, Message: "too many connections",
			Reason: core.RejectTooManyConnections}
	}
	if st.handshakes != nil && !st.handshakes.AllowN(now, 1) {
		l.handshakesLimited.Add(1)
		wait := time.Duration((1 - st.handshakes.TokensAt(now)) / float64(l.cfg.HandshakeRate) * float64(time.Second))
		secs := max(1, int64(math.Ceil(wait.Seconds())))
		return nil, &core.HTTPError{Status: http.StatusTooManyRequests, Message: "too many handshakes",
			Reason: core.RejectRateLimited, Header: http.Header{"Retry-After": {strconv.FormatInt(secs, 10)}}}
	}
	if l.cfg.MaxPerKey == 0 {
		return nil, nil
	}
	st.conns++
	return st, nil
}

// release uncounts a connection of st.
func (l *RateLimiter) release(st *keyState) {
	now := l.now()
	l.mu.Lock()
	st.conns--
	l.unlinkLocked(st)
	l.pushLocked(st, now)
	l.mu.Unlock()
}

// sweepLocked forgets keys unused for ExpiresIn, oldest first, stopping at
// the first fresh one; keys with live connections are kept and refreshed.
// Each key is removed once, so the cost is constant per handshake on
// average.
func (l *RateLimiter) sweepLocked(now time.Time) {
	for st := l.head; st != nil && now.Sub(st.last) >= l.cfg.ExpiresIn; st = l.head {
		l.unlinkLocked(st)
		if st.conns > 0 {
			l.pushLocked(st, now)
			continue
		}
		delete(l.keys, st.key)
	}
}

// pushLocked appends st, used at now, to the end of the list.
func (l *RateLimiter) pushLocked(st *keyState, now time.Time) {
	st.last = now
	st.prev, st.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = st
	} else {
		l.head = st
	}
	l.tail = st
}

// unlinkLocked removes st from the list.
func (l *RateLimiter) unlinkLocked(st *keyState) {
	if st.prev != nil {
		st.prev.next = st.next
	} else {
		l.head = st.next
	}
	if st.next != nil {
		st.next.prev = st.prev
	} else {
		l.tail = st.prev
	}
	st.prev, st.next = nil, nil
}

// messageFilter returns the filter of one connection: its token bucket and
// its strikes. Filters of one connection run on its read goroutine, one at
// a time, so the strike count needs no lock.
func (l *RateLimiter) messageFilter() core.FilterFunc {
	lim := rate.NewLimiter(l.cfg.MessageRate, l.cfg.MessageBurst)
	strikes := 0
	return func(c *core.Conn, _ int, _ []byte) error {
		if lim.AllowN(l.now(), 1) {
			strikes = 0
			return nil
		}
		l.messagesDropped.Add(1)
		strikes++
		if l.cfg.Strikes > 0 && strikes >= l.cfg.Strikes {
			l.strikeCloses.Add(1)
			return &core.CloseError{Code: l.cfg.StrikeCloseCode, Reason: "message rate exceeded"}
		}
		return core.NewEventError(core.CodeRateLimited, "too many messages: message dropped")
	}
}
