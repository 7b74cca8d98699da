package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// A message is op (1 byte), the intended send time (8 bytes, unix ns), the
// step (4) and a sequence number (4), padded to -size.
const (
	msgHeader = 17
	warmStep  = math.MaxUint32
	maxSteps  = 64
)

func putMsg(b []byte, op byte, ts int64, step, seq uint32) {
	b[0] = op
	binary.LittleEndian.PutUint64(b[1:], uint64(ts))
	binary.LittleEndian.PutUint32(b[9:], step)
	binary.LittleEndian.PutUint32(b[13:], seq)
}

// dialMany opens n connections, conc at a time, and returns them in order
// with the time it took and each dial's latency.
func dialMany(ctx context.Context, d *dialer, n, conc int, path string, rcvbuf func(i int) int) ([]*wsConn, time.Duration, *hist, error) {
	conns := make([]*wsConn, n)
	lat := &hist{}
	var next atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() > 0 {
					return
				}
				rb := 0
				if rcvbuf != nil {
					rb = rcvbuf(i)
				}
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t := time.Now()
				c, err := d.dial(dctx, path, rb)
				cancel()
				if err != nil {
					failed.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("dial %d of %d: %w", i+1, n, err)
					}
					errMu.Unlock()
					return
				}
				lat.record(time.Since(t).Nanoseconds())
				conns[i] = c
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		closeAll(conns)
		return nil, elapsed, lat, firstErr
	}
	return conns, elapsed, lat, nil
}

func closeAll(conns []*wsConn) {
	for _, c := range conns {
		if c != nil {
			c.close()
		}
	}
}

func us(ns int64) float64 { return round(float64(ns)/1e3, 1) }

func perConn(after, before uint64, n int) float64 {
	return round((float64(after)-float64(before))/float64(n), 1)
}

// runIdle holds cfg.conns connections that only answer pings, and reports
// the server's memory and goroutines per connection. RSS "as read" is the
// figure a user's server shows: the server reads it before it runs the GC
// that the freed figures need. Both are differences from the figures just
// before the first dial: the baseline is freed first (the same clean start
// for every implementation), and the as-read baseline is read after that
// GC, so the GC's own bookkeeping is not counted against the connections.
func runIdle(ctx context.Context, d *dialer) error {
	base, err := fetchStats(true)
	if err != nil {
		return err
	}
	baseRead, err := fetchStats(false)
	if err != nil {
		return err
	}
	m := startCPU()
	conns, elapsed, _, err := dialMany(ctx, d, cfg.conns, cfg.concurrency, "/sub/idle", nil)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	var dead atomic.Int64
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.readFrame(); err != nil {
					dead.Add(1)
					return
				}
			}
		}()
	}
	time.Sleep(cfg.hold)
	st, err := fetchStats(true)
	if err != nil {
		return err
	}
	n := cfg.conns
	r := record{
		"conns":                       n,
		"heartbeat":                   cfg.heartbeat,
		"hold_s":                      cfg.hold.Seconds(),
		"dial_per_s":                  round(float64(n)/elapsed.Seconds(), 0),
		"server_conns":                st.Conns,
		"client_dead":                 dead.Load(),
		"rss_per_conn":                perConn(st.RSSFreed, base.RSSFreed, n),
		"rss_before_free_per_conn":    perConn(st.RSS, baseRead.RSS, n),
		"heap_inuse_per_conn":         perConn(st.HeapInuse, base.HeapInuse, n),
		"heap_inuse_as_read_per_conn": perConn(st.HeapRead, base.HeapInuse, n),
		"heap_alloc_per_conn":         perConn(st.HeapAlloc, base.HeapAlloc, n),
		"stack_per_conn":              perConn(st.StackInuse, base.StackInuse, n),
		"goroutines_per_conn":         round(float64(st.Goroutines-base.Goroutines)/float64(n), 3),
		"base_rss":                    base.RSSFreed,
		"base_rss_as_read":            baseRead.RSS,
		"rss_as_read":                 st.RSS,
		"server_gc_cycles":            int64(st.NumGC) - int64(baseRead.NumGC) - 1, // natural cycles: the forced one is not counted
		"base_goroutines":             base.Goroutines,
		"rss_freed":                   st.RSSFreed,
		"goroutines":                  st.Goroutines,
		"server_ping_interval_s":      float64(st.PingNanos) / 1e9,
		"server_go":                   st.GoVersion,
	}
	validity(r, m.share())
	if st.Conns != n || dead.Load() != 0 {
		r["valid"] = false
		r["note"] = "connections lost during the hold"
	}
	emit(r)
	return nil
}

// runAccept times cfg.conns dials, cfg.concurrency at a time.
func runAccept(ctx context.Context, d *dialer) error {
	st0, err := fetchStats(false)
	if err != nil {
		return err
	}
	m := startCPU()
	conns, elapsed, lat, err := dialMany(ctx, d, cfg.conns, cfg.concurrency, "/pub/accept", nil)
	share := m.share()
	if err != nil {
		return err
	}
	st1, err := fetchStats(false)
	closeAll(conns)
	if err != nil {
		return err
	}
	n := cfg.conns
	r := record{
		"conns":                    n,
		"concurrency":              cfg.concurrency,
		"accept_per_s":             round(float64(n)/elapsed.Seconds(), 0),
		"elapsed_s":                round(elapsed.Seconds(), 3),
		"dial_p50_us":              us(lat.quantile(0.5)),
		"dial_p99_us":              us(lat.quantile(0.99)),
		"server_cpu_us_per_accept": round(float64(st1.cpu()-st0.cpu())/float64(n), 2),
		"server_conns":             st1.Conns,
	}
	validity(r, share)
	emit(r)
	return nil
}

// fanState collects deliveries per step.
type fanState struct {
	recv      [maxSteps]atomic.Uint64
	inWindow  [maxSteps]atomic.Uint64
	windowEnd [maxSteps]atomic.Int64
	hists     [maxSteps]*hist
}

// onFrame records one delivery; it runs on the epoll loop.
func (f *fanState) onFrame(s *esub, op int, p []byte) {
	if op != opBinary || len(p) < msgHeader || p[0] != 'P' {
		return
	}
	step := binary.LittleEndian.Uint32(p[9:])
	if step == warmStep {
		s.warm.Store(true)
		return
	}
	if s.slow || step >= maxSteps {
		return // slow subscribers are not counted in either phase
	}
	now := time.Now().UnixNano()
	f.hists[step].record(now - int64(binary.LittleEndian.Uint64(p[1:])))
	f.recv[step].Add(1)
	if now <= f.windowEnd[step].Load() {
		f.inWindow[step].Add(1)
	}
}

// runFanout runs the open-loop ladder (slow false) or the slow-consumer
// comparison (slow true: rates[0] with everyone reading, then with
// cfg.slowFrac of the subscribers stalled).
func runFanout(ctx context.Context, d *dialer, slow bool) error {
	n := cfg.subs
	every := 0
	if slow && cfg.slowFrac > 0 {
		every = int(math.Round(1 / cfg.slowFrac))
	}
	isSlow := func(i int) bool { return every > 0 && i%every == every-1 }
	rcvbuf := func(i int) int {
		if isSlow(i) {
			return 4096 // so the stalled peer's window closes soon
		}
		return 0
	}
	conns, elapsed, _, err := dialMany(ctx, d, n, cfg.concurrency, "/sub/fan", rcvbuf)
	if err != nil {
		return err
	}
	f := &fanState{}
	for i := range f.hists {
		f.hists[i] = &hist{}
	}
	ep, err := newEpoller(f.onFrame)
	if err != nil {
		closeAll(conns)
		return err
	}
	defer ep.close()
	subs := make([]*esub, n)
	counted := 0
	for i, c := range conns {
		if subs[i], err = ep.adopt(c, isSlow(i)); err != nil {
			return err
		}
		if err := ep.watch(subs[i]); err != nil {
			return err
		}
		if !subs[i].slow {
			counted++
		}
	}
	go ep.run()
	pubs, _, _, err := dialMany(ctx, d, 1, 1, "/pub/fan", nil)
	if err != nil {
		return err
	}
	pub := pubs[0]
	defer pub.close()
	go func() { // drain whatever the server sends the publisher (pings)
		for {
			if _, _, err := pub.readFrame(); err != nil {
				return
			}
		}
	}()

	// Warm up until every subscriber has received a message: the server
	// may join a room after its 101 has gone out.
	msg := make([]byte, cfg.size)
	warmDeadline := time.Now().Add(15 * time.Second)
	for {
		putMsg(msg, 'P', time.Now().UnixNano(), warmStep, 0)
		if err := pub.write(opBinary, msg); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
		warm := 0
		for _, s := range subs {
			if s.warm.Load() {
				warm++
			}
		}
		if warm == n {
			break
		}
		if time.Now().After(warmDeadline) {
			return fmt.Errorf("warm-up: only %d of %d subscribers received a message", warm, n)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the warm-up messages drain

	type phase struct {
		rate  float64
		stall bool
	}
	var phases []phase
	if slow {
		phases = []phase{{cfg.rates[0], false}, {cfg.rates[0], true}}
	} else {
		for _, r := range cfg.rates {
			phases = append(phases, phase{r, false})
		}
	}
	for step, ph := range phases {
		if step >= maxSteps {
			break
		}
		if ph.stall {
			for _, sub := range subs {
				if sub.slow {
					ep.pause(sub)
				}
			}
		}
		sustained, err := fanStep(f, ep, pub, msg, uint32(step), ph.rate, n, counted, elapsed, ph.stall)
		if err != nil {
			return err
		}
		if !slow && !sustained {
			break // saturated: higher rates only pile up queues
		}
		if ep.dead.Load() > 0 && !slow {
			break
		}
	}
	return nil
}

// fanStep publishes at rate deliveries per second (rate/n messages per
// second) for cfg.step, waits for the deliveries to drain and reports.
func fanStep(f *fanState, ep *epoller, pub *wsConn, msg []byte, step uint32, rate float64, n, counted int, dialTime time.Duration, stalled bool) (bool, error) {
	perSec := rate / float64(n)
	total := int(math.Round(perSec * cfg.step.Seconds()))
	if total < 1 {
		total = 1
	}
	interval := time.Duration(float64(cfg.step) / float64(total))
	st0, err := fetchStats(false)
	if err != nil {
		return false, err
	}
	deadBefore := ep.dead.Load()
	m := startCPU()
	t0 := time.Now().Add(10 * time.Millisecond)
	f.windowEnd[step].Store(t0.Add(cfg.step).UnixNano())
	for k := range total {
		at := t0.Add(time.Duration(k) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		putMsg(msg, 'P', at.UnixNano(), step, uint32(k))
		if err := pub.write(opBinary, msg); err != nil {
			return false, fmt.Errorf("publish: %w", err)
		}
	}
	sendEnd := time.Now()
	expected := uint64(total) * uint64(counted)
	last, lastChange := uint64(0), time.Now()
	drained := false
	for {
		got := f.recv[step].Load()
		if got >= expected {
			drained = true
			break
		}
		if got != last {
			last, lastChange = got, time.Now()
		}
		if time.Since(lastChange) > time.Second || time.Since(sendEnd) > 10*time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	share := m.share()
	st1, err := fetchStats(false)
	if err != nil {
		return false, err
	}
	got := f.recv[step].Load()
	window := cfg.step.Seconds()
	deliveredPerSec := float64(f.inWindow[step].Load()) / window
	expectedPerSec := perSec * float64(counted)
	ratio := deliveredPerSec / expectedPerSec
	lost := int64(expected) - int64(got)
	h := f.hists[step]
	p99 := h.quantile(0.99)
	sustained := drained && lost == 0 && ratio >= 0.95
	r := record{
		"subs":                       n,
		"counted_subs":               counted,
		"step":                       step,
		"size":                       cfg.size,
		"offered_per_s":              round(rate, 0),
		"msgs_per_s":                 round(perSec, 2),
		"published":                  total,
		"expected_per_s":             round(expectedPerSec, 0),
		"delivered_per_s":            round(deliveredPerSec, 0),
		"delivery_ratio":             round(ratio, 4),
		"received":                   got,
		"lost":                       lost,
		"drained":                    drained,
		"sustained":                  sustained,
		"p50_us":                     us(h.quantile(0.5)),
		"p99_us":                     us(p99),
		"p999_us":                    us(h.quantile(0.999)),
		"pub_lag_ms":                 round(float64(sendEnd.Sub(t0.Add(cfg.step)).Microseconds())/1e3, 1),
		"server_cpu_us_per_delivery": 0.0,
		"server_cpu_share":           round(float64(st1.cpu()-st0.cpu())/float64(time.Since(t0).Microseconds()), 3),
		"server_drops":               st1.Drops,
		"server_slow_closes":         st1.SlowCloses,
		"server_conns":               st1.Conns,
		"subs_closed":                ep.dead.Load() - deadBefore,
		"dial_s":                     round(dialTime.Seconds(), 2),
	}
	if got > 0 {
		r["server_cpu_us_per_delivery"] = round(float64(st1.cpu()-st0.cpu())/float64(got), 3)
	}
	if cfg.scenario == "slow" {
		r["phase"] = map[bool]string{false: "all_reading", true: "stalled"}[stalled]
		r["stalled_subs"] = n - counted
	}
	validity(r, share)
	emit(r)
	return sustained, nil
}

// runEcho runs closed-loop round trips with each client count in turn.
func runEcho(ctx context.Context, d *dialer) error {
	for _, n := range cfg.clients {
		if err := echoRound(ctx, d, n); err != nil {
			return err
		}
	}
	return nil
}

func echoRound(ctx context.Context, d *dialer, n int) error {
	conns, _, _, err := dialMany(ctx, d, n, cfg.concurrency, "/pub/echo", nil)
	if err != nil {
		return err
	}
	var measuring, stop atomic.Bool
	var count uint64 // only the epoll loop touches it until it stops
	h := &hist{}
	msg := make([]byte, min(cfg.size, 512))
	send := func(s *esub) error {
		s.sentT = time.Now().UnixNano()
		putMsg(msg, 'E', s.sentT, 0, 0)
		return writeFrame(s.fd, opBinary, msg)
	}
	var sendErr atomic.Pointer[error]
	ep, err := newEpoller(func(s *esub, op int, p []byte) {
		if op != opBinary || len(p) < msgHeader || p[0] != 'E' {
			return
		}
		if measuring.Load() {
			h.record(time.Now().UnixNano() - s.sentT)
			count++
		}
		if !stop.Load() {
			if err := send(s); err != nil {
				sendErr.CompareAndSwap(nil, &err)
			}
		}
	})
	if err != nil {
		closeAll(conns)
		return err
	}
	subs := make([]*esub, n)
	for i, c := range conns {
		if subs[i], err = ep.adopt(c, false); err != nil {
			ep.close()
			return err
		}
		if err := ep.watch(subs[i]); err != nil {
			ep.close()
			return err
		}
	}
	for _, s := range subs {
		if err := send(s); err != nil {
			ep.close()
			return err
		}
	}
	go ep.run()
	time.Sleep(300 * time.Millisecond) // warm-up
	st0, err := fetchStats(false)
	if err != nil {
		ep.close()
		return err
	}
	m := startCPU()
	measuring.Store(true)
	start := time.Now()
	time.Sleep(cfg.step)
	measuring.Store(false)
	elapsed := time.Since(start)
	share := m.share()
	st1, err := fetchStats(false)
	stop.Store(true)
	ep.close()
	if err != nil {
		return err
	}
	if p := sendErr.Load(); p != nil {
		return *p
	}
	if dead := ep.dead.Load(); dead > 0 {
		return fmt.Errorf("echo: %d connections closed", dead)
	}
	got := count
	r := record{
		"clients":                n,
		"size":                   len(msg),
		"echo_per_s":             round(float64(got)/elapsed.Seconds(), 0),
		"round_trips":            got,
		"p50_us":                 us(h.quantile(0.5)),
		"p99_us":                 us(h.quantile(0.99)),
		"p999_us":                us(h.quantile(0.999)),
		"server_cpu_us_per_echo": 0.0,
		"server_cpu_share":       round(float64(st1.cpu()-st0.cpu())/float64(elapsed.Microseconds()), 3),
	}
	if got > 0 {
		r["server_cpu_us_per_echo"] = round(float64(st1.cpu()-st0.cpu())/float64(got), 3)
	}
	validity(r, share)
	emit(r)
	return nil
}
