package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/wstest"
	"golang.org/x/time/rate"
)

func mustLimiter(t *testing.T, cfg RateLimitConfig) *RateLimiter {
	t.Helper()
	l, err := NewRateLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// dialResult is the outcome of one handshake made off the test goroutine.
type dialResult struct {
	client     *wstest.Client
	status     int
	retryAfter string
	message    string
	err        error
}

// dialMany makes n handshakes, at most par at a time, and returns their
// outcomes. Accepted clients are closed at once unless keep is set.
func dialMany(t *testing.T, url string, n, par int, keep bool, opts ...wstest.Option) []dialResult {
	t.Helper()
	out := make([]dialResult, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, resp, err := wstest.TryDial(ctx, url, opts...)
			r := dialResult{err: err}
			if resp != nil {
				r.status = resp.StatusCode
				r.retryAfter = resp.Header.Get("Retry-After")
			}
			if err == nil {
				if keep {
					r.client = c
				} else {
					c.Close()
				}
			} else if resp != nil {
				var body [512]byte
				k, _ := resp.Body.Read(body[:])
				r.message = bodyMessage(body[:k])
			}
			out[i] = r
		}()
	}
	wg.Wait()
	for _, r := range out {
		if r.client != nil {
			t.Cleanup(r.client.Close)
		}
	}
	return out
}

// tally counts outcomes by status.
func tally(rs []dialResult) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

func TestRateLimitHandshakeBurst(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		rl := mustLimiter(t, RateLimitConfig{HandshakeRate: rate.Every(time.Hour), HandshakeBurst: 20})
		s := newServer(t, a, core.Config{}, app, rl.Middleware())
		good := wstest.Dial(t, s.url, fromIP("203.0.113.9"))
		good.Expect("welcome")

		rs := dialMany(t, s.url, 1000, 50, false, fromIP("198.51.100.7"))
		got := tally(rs)
		if got[http.StatusSwitchingProtocols] != 20 || got[http.StatusTooManyRequests] != 980 {
			t.Fatalf("outcomes %v, want 20 upgrades and 980 refusals", got)
		}
		for _, r := range rs {
			if r.status != http.StatusTooManyRequests {
				continue
			}
			if n, err := strconv.Atoi(r.retryAfter); err != nil || n < 1 || n > 3600 {
				t.Fatalf("Retry-After %q, want seconds until the next token", r.retryAfter)
			}
			if r.message != "too many handshakes" {
				t.Fatalf("message %q", r.message)
			}
		}
		if n := rejected(s, "rate_limited"); n != 980 {
			t.Fatalf("Rejected[rate_limited] = %d, want 980", n)
		}
		if st := rl.Stats(); st.HandshakesLimited != 980 || st.ConnectionsCapped != 0 {
			t.Fatalf("limiter stats %+v", st)
		}
		eventually(t, "the accepted clients to leave", func() bool { return s.hub.Stats().Connections == 1 })
		undisturbed(t, s, good, 1)
		other := wstest.Dial(t, s.url, fromIP("203.0.113.10"))
		other.Expect("welcome")
	})
}

func TestRateLimitMaxPerKey(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		rl := mustLimiter(t, RateLimitConfig{HandshakeRate: rate.Inf, MaxPerKey: 10})
		refuseMarked := func(next core.HandlerFunc) core.HandlerFunc {
			return func(c *core.Conn) error {
				if c.Request().Header.Get("X-Refuse") != "" {
					return &core.HTTPError{Status: http.StatusForbidden, Reason: "test"}
				}
				return next(c)
			}
		}
		panicky := func(c *core.Conn) error {
			if c.Request().Header.Get("X-Panic") != "" {
				panic("handler bug")
			}
			return app(c)
		}
		s := newServer(t, a, core.Config{}, panicky, rl.Middleware(), refuseMarked)
		good := wstest.Dial(t, s.url, fromIP("203.0.113.9"))
		good.Expect("welcome")
		key := fromIP("198.51.100.8")

		// Refused further down the chain, or failing in the handler: the
		// count must drop every time.
		for _, r := range dialMany(t, s.url, 30, 10, false, key, withHeaders("X-Refuse", "1")) {
			if r.status != http.StatusForbidden {
				t.Fatalf("refused handshake: status %d", r.status)
			}
		}
		for range 12 {
			c := wstest.Dial(t, s.url, key, withHeaders("X-Panic", "1"))
			c.ExpectClose(core.CloseInternal)
			// The client has read the close frame; the server uncounts the
			// connection once it has finished it, a moment later.
			eventually(t, "the panicked connection to leave", func() bool { return s.hub.Stats().Connections == 1 })
		}
		eventually(t, "panicked connections to leave", func() bool { return s.hub.Stats().Connections == 1 })

		rs := dialMany(t, s.url, 50, 50, true, key)
		if got := tally(rs); got[http.StatusSwitchingProtocols] != 10 || got[http.StatusTooManyRequests] != 40 {
			t.Fatalf("outcomes %v, want 10 upgrades and 40 refusals", got)
		}
		if n := rejected(s, "too_many_connections"); n != 40 {
			t.Fatalf("Rejected[too_many_connections] = %d, want 40", n)
		}
		if st := rl.Stats(); st.ConnectionsCapped != 40 {
			t.Fatalf("limiter stats %+v", st)
		}
		undisturbed(t, s, good, 11)

		// Close three, each a different way: client goodbye, TCP reset,
		// server close.
		var open []*wstest.Client
		for _, r := range rs {
			if r.client != nil {
				open = append(open, r.client.Bind(t))
			}
		}
		open[0].Close()
		open[1].Abort()
		open[2].Emit("quit", nil) // the server closes it
		open[2].ExpectClose(core.CloseNormal)
		eventually(t, "three connections to leave", func() bool { return s.hub.Stats().Connections == 8 })
		again := dialMany(t, s.url, 4, 1, true, key)
		if got := tally(again); got[http.StatusSwitchingProtocols] != 3 || got[http.StatusTooManyRequests] != 1 {
			t.Fatalf("after three closes: outcomes %v, want 3 upgrades and 1 refusal", got)
		}
		undisturbed(t, s, good, 11)
	})
}

// flood is a hand-driven client that counts the rate_limited events it
// receives.
type flood struct {
	ws      *websocket.Conn
	limited atomic.Int64
	done    chan struct{}
	closeCh chan int
}

func startFlood(t *testing.T, url, ip string) *flood {
	t.Helper()
	f := &flood{ws: rawDial(t, url, http.Header{"X-Forwarded-For": {ip}}), done: make(chan struct{}), closeCh: make(chan int, 1)}
	go func() {
		defer close(f.done)
		for {
			_, data, err := f.ws.ReadMessage()
			if err != nil {
				code := core.CloseAbnormal
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				f.closeCh <- code
				return
			}
			var env struct {
				Event string `json:"event"`
				Data  struct {
					Code string `json:"code"`
				} `json:"data"`
			}
			if json.Unmarshal(data, &env) == nil && env.Event == "error" && env.Data.Code == core.CodeRateLimited {
				f.limited.Add(1)
			}
		}
	}()
	t.Cleanup(func() { _ = f.ws.Close(); <-f.done })
	return f
}

// send writes n "n" events as fast as it can, stopping at the first
// error (the server closed the connection).
func (f *flood) send(n int) int {
	msg := []byte(`{"event":"n","data":1}`)
	for i := range n {
		if err := f.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			return i
		}
	}
	return n
}

// counting is a route handler that counts "n" events per client IP.
type counting struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *counting) handler(c *core.Conn) error {
	if err := c.On("n", func(c *core.Conn, _ json.RawMessage) (any, error) {
		h.mu.Lock()
		h.n[c.IP()]++
		h.mu.Unlock()
		return nil, nil
	}); err != nil {
		return err
	}
	return app(c)
}

func (h *counting) get(ip string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[ip]
}

func TestRateLimitMessageFlood(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		rl := mustLimiter(t, RateLimitConfig{MessageRate: 100, MessageBurst: 50, Strikes: -1})
		h := &counting{n: map[string]int{}}
		// A queue large enough for an error event per dropped message, so
		// the slow-consumer policy stays out of this test.
		s := newServer(t, a, core.Config{SendQueueMessages: 16 << 10, SendQueueBytes: 8 << 20}, h.handler, rl.Middleware())
		b := wstest.Dial(t, s.url, fromIP("198.51.100.2"))
		b.Expect("welcome")
		f := startFlood(t, s.url, "198.51.100.1")

		sent := make(chan int, 1)
		go func() { sent <- f.send(10_000) }()
		for i := range 20 {
			want := fmt.Sprintf(`"b-%d"`, i)
			if r := b.EmitWithAck("echo", fmt.Sprintf("b-%d", i)); r.Err != nil || string(r.Data) != want {
				t.Fatalf("B's message %d during the flood: %s %+v", i, r.Data, r.Err)
			}
		}
		if n := <-sent; n != 10_000 {
			t.Fatalf("flood stopped after %d messages", n)
		}
		eventually(t, "every flood message to be handled or dropped", func() bool {
			return h.get("198.51.100.1")+int(rl.Stats().MessagesDropped) == 10_000
		})
		handled, dropped := h.get("198.51.100.1"), int(rl.Stats().MessagesDropped)
		if handled < 50 || dropped < 5_000 {
			t.Fatalf("handled %d, dropped %d: want the burst through and most of the flood dropped", handled, dropped)
		}
		eventually(t, "a rate_limited event per dropped message", func() bool { return int(f.limited.Load()) == dropped })
		if st := s.hub.Stats(); st.Connections != 2 || st.SlowCloses != 0 {
			t.Fatalf("hub stats: %d connections, %d slow closes; want 2 and 0", st.Connections, st.SlowCloses)
		}
		undisturbed(t, s, b, 2)
	})
}

func TestRateLimitStrikes(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, core.CloseRateLimited} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			forEachAdapter(t, func(t *testing.T, a adapter) {
				want := code
				if want == 0 {
					want = core.ClosePolicyViolation
				}
				rl := mustLimiter(t, RateLimitConfig{MessageRate: 10, MessageBurst: 5, Strikes: 5, StrikeCloseCode: code})
				h := &counting{n: map[string]int{}}
				s := newServer(t, a, core.Config{}, h.handler, rl.Middleware())
				b := wstest.Dial(t, s.url, fromIP("198.51.100.2"))
				b.Expect("welcome")
				f := startFlood(t, s.url, "198.51.100.1")
				f.send(10_000)
				<-f.done
				if got := <-f.closeCh; got != want {
					t.Fatalf("flooder closed with %d, want %d", got, want)
				}
				if st := rl.Stats(); st.StrikeCloses != 1 || st.MessagesDropped < 5 {
					t.Fatalf("limiter stats %+v", st)
				}
				eventually(t, "the flooder to leave", func() bool { return s.hub.Stats().Connections == 1 })
				undisturbed(t, s, b, 1)
			})
		})
	}
}

// TestRateLimitKeysExpire floods the limiter with 100,000 distinct client
// IPs and shows its state shrinking back once they are idle, keeping the
// keys that still have connections.
func TestRateLimitKeysExpire(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l := mustLimiter(t, RateLimitConfig{MaxPerKey: 5, now: clock.Now})
	live, he := l.admit("192.0.2.1") // a key with a live connection
	if he != nil || live == nil {
		t.Fatalf("admit: %v", he)
	}
	for i := range 100_000 {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		if i%1000 == 0 {
			clock.Advance(time.Second) // the flood spreads over 100s
		}
		st, he := l.admit(ip)
		if he != nil {
			t.Fatalf("admit %s: %v", ip, he)
		}
		l.release(st) // a handshake that came and went
	}
	if n := l.Len(); n != 100_001 {
		t.Fatalf("Len = %d after the flood, want 100001", n)
	}
	clock.Advance(time.Minute) // the first keys are 160s old: not yet expired
	st, _ := l.admit("192.0.2.2")
	l.release(st)
	if n := l.Len(); n != 100_002 {
		t.Fatalf("Len = %d before ExpiresIn, want 100002", n)
	}
	clock.Advance(DefaultExpiresIn)
	st, _ = l.admit("192.0.2.2")
	l.release(st)
	if n := l.Len(); n != 2 {
		t.Fatalf("Len = %d after ExpiresIn, want 2 (the live key and the last one)", n)
	}
	l.release(live)
	clock.Advance(DefaultExpiresIn)
	l.admit("192.0.2.3")
	if n := l.Len(); n != 1 {
		t.Fatalf("Len = %d after the live key closed and expired, want 1", n)
	}
}

// TestRateLimitKeysExpireThroughAdapters shows the same through real
// handshakes, keyed by the framework's client IP.
func TestRateLimitKeysExpireThroughAdapters(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		clock := newFakeClock(time.Now())
		rl := mustLimiter(t, RateLimitConfig{now: clock.Now})
		s := newServer(t, a, core.Config{}, app, rl.Middleware())
		for i := range 100 {
			c := wstest.Dial(t, s.url, fromIP(fmt.Sprintf("203.0.113.%d", i)))
			c.Expect("welcome")
			c.Close()
		}
		if n := rl.Len(); n != 100 {
			t.Fatalf("Len = %d, want 100", n)
		}
		eventually(t, "clients to leave", func() bool { return s.hub.Stats().Connections == 0 })
		clock.Advance(DefaultExpiresIn)
		wstest.Dial(t, s.url, fromIP("198.51.100.1")).Expect("welcome")
		if n := rl.Len(); n != 1 {
			t.Fatalf("Len = %d after ExpiresIn, want 1", n)
		}
	})
}

func TestClientIPKeyIPv6(t *testing.T) {
	t.Parallel()
	forEachAdapter(t, func(t *testing.T, a adapter) {
		rl := mustLimiter(t, RateLimitConfig{HandshakeRate: rate.Every(time.Hour), HandshakeBurst: 1})
		s := newServer(t, a, core.Config{}, app, rl.Middleware())
		wstest.Dial(t, s.url, fromIP("2001:db8:1:2::1")).Expect("welcome")
		if status, _, _ := refused(t, s.url, fromIP("2001:db8:1:2:ffff::9")); status != http.StatusTooManyRequests {
			t.Fatalf("same /64: status %d, want 429", status)
		}
		wstest.Dial(t, s.url, fromIP("2001:db8:1:3::1")).Expect("welcome")
		wstest.Dial(t, s.url, fromIP("192.0.2.1")).Expect("welcome")
		if status, _, _ := refused(t, s.url, fromIP("::ffff:192.0.2.1")); status != http.StatusTooManyRequests {
			t.Fatalf("IPv4-mapped: status %d, want 429", status)
		}
	})
}

// TestRateLimitTrustedProxy shows why the key must come from the
// framework's trusted-proxy setting: with it off, X-Forwarded-For is
// ignored, so a client cannot mint fresh keys by forging it.
func TestRateLimitTrustedProxy(t *testing.T) {
	t.Parallel()
	untrusting := []adapter{
		{"echo", func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler {
			e := echo.New()
			e.IPExtractor = echo.ExtractIPDirect()
			e.GET("/ws", echows.Handler(hub, fn, mw...))
			return e
		}},
		{"gin", func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler {
			r := gin.New()
			if err := r.SetTrustedProxies(nil); err != nil {
				panic(err)
			}
			r.GET("/ws", ginws.Handler(hub, fn, mw...))
			return r
		}},
	}
	for _, a := range untrusting {
		t.Run(a.name, func(t *testing.T) {
			rl := mustLimiter(t, RateLimitConfig{HandshakeRate: rate.Every(time.Hour), HandshakeBurst: 3})
			s := newServer(t, a, core.Config{}, app, rl.Middleware())
			rs := make([]dialResult, 0, 10)
			for i := range 10 {
				rs = append(rs, dialMany(t, s.url, 1, 1, false, fromIP(fmt.Sprintf("203.0.113.%d", i)))...)
			}
			if got := tally(rs); got[http.StatusSwitchingProtocols] != 3 || rl.Len() != 1 {
				t.Fatalf("forged X-Forwarded-For: outcomes %v, %d keys; want 3 upgrades and one key", got, rl.Len())
			}
		})
	}
}

func TestRateLimitConfigErrors(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]RateLimitConfig{
		"negative rate":      {HandshakeRate: -1},
		"negative burst":     {HandshakeBurst: -1},
		"negative cap":       {MaxPerKey: -1},
		"negative msg rate":  {MessageRate: -1},
		"negative msg burst": {MessageBurst: -1},
		"close code":         {StrikeCloseCode: 1011},
		"short expiry":       {HandshakeRate: rate.Every(time.Minute), HandshakeBurst: 10, ExpiresIn: time.Minute},
		"negative expiry":    {ExpiresIn: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewRateLimiter(cfg); err == nil {
				t.Fatal("NewRateLimiter accepted the config")
			}
		})
	}
	l := mustLimiter(t, RateLimitConfig{HandshakeRate: rate.Every(time.Minute), HandshakeBurst: 10})
	if l.cfg.ExpiresIn != 10*time.Minute {
		t.Fatalf("default ExpiresIn %v, want the 10m refill time", l.cfg.ExpiresIn)
	}
}
