package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

const firehose = "firehose"

type config struct {
	readMode     core.ReadMode
	duration     time.Duration
	conns        int
	rooms        int
	minLife      time.Duration
	maxLife      time.Duration
	bcastRate    int // room broadcasts per second, from the driver
	directRate   int // direct sends per second
	floodRate    int // pubs per second per flooder
	flooders     int
	padBytes     int
	useRedis     bool
	redisPort    int
	redisRestart bool
	out          string
	seed         uint64
}

// soakRun is one run: its servers, its clients and its tallies.
type soakRun struct {
	cfg     config
	servers []*soakServer
	dialer  dialer
	pad     string

	connected, dialErrors, dialRetries, finished, failedClients atomic.Uint64
	slowClosed, slowNotClosed, slowDropped, resets              atomic.Uint64
	healthyChecked                                              atomic.Uint64
	sent, received                                              atomic.Uint64

	notesMu sync.Mutex
	notes   []string
	fails   []string

	latency hist
	remote  remoteTally

	outageFrom, outageTo atomic.Int64 // unix nanoseconds of the Redis outage
	gapTimes             struct {
		sync.Mutex
		t []int64
	}
}

// remoteGap records when a message that followed a cross-hub gap was sent.
func (r *soakRun) remoteGap(sent int64) {
	r.gapTimes.Lock()
	r.gapTimes.t = append(r.gapTimes.t, sent)
	r.gapTimes.Unlock()
}

// gapsOutsideOutage counts cross-hub gaps whose next message was sent
// outside the Redis outage (stretched by the reconnect backoff).
func (r *soakRun) gapsOutsideOutage() (in, out int) {
	from, to := r.outageFrom.Load(), r.outageTo.Load()
	r.gapTimes.Lock()
	defer r.gapTimes.Unlock()
	for _, t := range r.gapTimes.t {
		if from > 0 && t >= from && t <= to+int64(10*time.Second) {
			in++
		} else {
			out++
		}
	}
	return in, out
}

func (r *soakRun) count(n *atomic.Uint64) { n.Add(1) }

func (r *soakRun) note(format string, args ...any) {
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	if len(r.notes) < 20 {
		r.notes = append(r.notes, fmt.Sprintf(format, args...))
	}
}

// finish records a client that said goodbye: its own checks.
func (r *soakRun) finish(c *client) {
	r.finished.Add(1)
	c.mu.Lock()
	errs := c.errs
	c.mu.Unlock()
	if len(errs) == 0 {
		r.healthyChecked.Add(1)
		return
	}
	r.failedClients.Add(1)
	r.notesMu.Lock()
	if len(r.fails) < 20 {
		r.fails = append(r.fails, fmt.Sprintf("%s client on hub %d: %s", c.kind, c.hub, strings.Join(errs, "; ")))
	}
	r.notesMu.Unlock()
}

func (r *soakRun) randomRoom(rng *rand.Rand) string {
	return "room-" + strconv.Itoa(rng.IntN(r.cfg.rooms))
}

// remoteTally sums what arrived from the other hub through Redis: ordered
// or not, and the gaps (messages missing inside a membership).
type remoteTally struct {
	mu                       sync.Mutex
	received, gaps, disorder uint64
}

func (t *remoteTally) add(tr *track) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.received += tr.count
	t.gaps += tr.gaps
	if !tr.ordered {
		t.disorder++
	}
}

// hist is a latency histogram in 1/8-octave buckets from 1 µs.
type hist struct {
	mu     sync.Mutex
	counts [256]uint64
	n      uint64
}

func (h *hist) observe(d time.Duration) {
	us := float64(d) / 1e3
	b := 0
	for v := us; v >= 1 && b < 255; v /= 1.0905 { // 2^(1/8)
		b++
	}
	h.mu.Lock()
	h.counts[b]++
	h.n++
	h.mu.Unlock()
}

func (h *hist) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return 0
	}
	target := uint64(q * float64(h.n))
	var acc uint64
	for b, c := range h.counts {
		acc += c
		if acc > target {
			us := 1.0
			for range b {
				us *= 1.0905
			}
			return time.Duration(us * 1e3)
		}
	}
	return 0
}

func (h *hist) reset() {
	h.mu.Lock()
	h.counts = [256]uint64{}
	h.n = 0
	h.mu.Unlock()
}

func main() {
	var cfg config
	short := flag.Bool("short", false, "the CI version: about 60 s, 400 connections")
	ladder := flag.Bool("ladder", false, "run the scale ladder (idle connections, fan-out rates) instead of the soak")
	serve := flag.String("serve", "", "internal: serve a hub for the ladder on this address")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long clients churn")
	flag.IntVar(&cfg.conns, "conns", 3000, "concurrent client connections")
	flag.IntVar(&cfg.rooms, "rooms", 100, "rooms clients join and leave")
	flag.DurationVar(&cfg.minLife, "minlife", 5*time.Second, "shortest client life")
	flag.DurationVar(&cfg.maxLife, "maxlife", 60*time.Second, "longest client life")
	flag.IntVar(&cfg.bcastRate, "bcast", 200, "room broadcasts per second (driver)")
	flag.IntVar(&cfg.directRate, "direct", 500, "direct sends per second (driver)")
	flag.IntVar(&cfg.floodRate, "flood", 200, "firehose publishes per second per flooder")
	flag.IntVar(&cfg.flooders, "flooders", 3, "clients that flood the firehose")
	flag.IntVar(&cfg.padBytes, "pad", 2048, "padding of firehose messages, bytes")
	flag.BoolVar(&cfg.useRedis, "redis", false, "two hubs sharing a private redis-server, restarted halfway")
	flag.IntVar(&cfg.redisPort, "redis-port", 0, "port of the private redis-server (default: a free one)")
	flag.StringVar(&cfg.out, "out", "", "write the figures as JSON to this file")
	flag.Uint64Var(&cfg.seed, "seed", 1, "random seed")
	ladderMax := flag.Int("ladder-max", 0, "ladder: most idle connections (default: what the descriptor limit allows)")
	readMode := flag.String("read", "auto", "the hubs' read mode: auto (the poller, on Linux) or goroutine")
	flag.Parse()
	switch *readMode {
	case "auto":
	case "goroutine":
		cfg.readMode = core.ReadGoroutine
	default:
		fmt.Fprintln(os.Stderr, "soak: -read must be auto or goroutine")
		os.Exit(2)
	}
	if *serve != "" {
		serveLadder(*serve)
		return
	}
	if *ladder {
		os.Exit(runLadder(*ladderMax))
	}
	if *short {
		cfg.duration, cfg.conns, cfg.minLife, cfg.maxLife = 45*time.Second, 400, 3*time.Second, 15*time.Second
		cfg.bcastRate, cfg.directRate, cfg.floodRate, cfg.rooms = 100, 200, 100, 40
	}
	cfg.redisRestart = cfg.useRedis
	os.Exit(runSoak(cfg))
}

func runSoak(cfg config) int {
	r := &soakRun{cfg: cfg, pad: strings.Repeat("p", cfg.padBytes)}
	var redisProc *redisServer
	var rdb *redis.Client
	nHubs := 1
	if cfg.useRedis {
		nHubs = 2
		var err error
		redisProc, err = startRedis(cfg.redisPort)
		if err != nil {
			fmt.Println("FAIL: redis:", err)
			return 1
		}
		defer redisProc.stop()
		redis.SetLogger(redisLog{})
		rdb = redis.NewClient(&redis.Options{Addr: redisProc.addr, MaxRetries: -1})
		defer rdb.Close()
	}
	for i := range nHubs {
		hc := core.Config{PingInterval: 5 * time.Second, PongTimeout: 15 * time.Second, ReadMode: cfg.readMode}
		if rdb != nil {
			b, err := redisbroker.New(rdb, redisbroker.Config{Prefix: "soak"})
			if err != nil {
				fmt.Println("FAIL: broker:", err)
				return 1
			}
			hc.Broker = b
		}
		s, err := newSoakServer(i, hc)
		if err != nil {
			fmt.Println("FAIL:", err)
			return 1
		}
		r.servers = append(r.servers, s)
	}
	settle()
	baseG, baseHeap := runtime.NumGoroutine(), heapInuse()
	fmt.Printf("soak: %d connections, %d hub(s), %v, rooms %d, lives %v-%v, driver %d bcast/s %d direct/s, %d flooders at %d/s with %d-byte messages\n",
		cfg.conns, nHubs, cfg.duration, cfg.rooms, cfg.minLife, cfg.maxLife, cfg.bcastRate, cfg.directRate, cfg.flooders, cfg.floodRate, cfg.padBytes)
	fmt.Printf("baseline: %d goroutines, heap %.1f MiB\n", baseG, float64(baseHeap)/(1<<20))

	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	// Population: each slot runs one client after another until the end.
	var kinds [4]atomic.Uint64
	for slot := range cfg.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(slot)))
			sleep(ctx, time.Duration(rng.Int64N(int64(min(cfg.minLife, 5*time.Second))))) // ramp up
			for ctx.Err() == nil {
				kind := healthy
				switch p := rng.IntN(100); {
				case slot < cfg.flooders:
					kind = flooder
				case p == 0:
					kind = slow
				case p == 1:
					kind = resetter
				}
				kinds[kind].Add(1)
				c := &client{run: r, kind: kind, hub: slot % nHubs}
				life := cfg.minLife + time.Duration(rng.Int64N(int64(cfg.maxLife-cfg.minLife)+1))
				c.live(ctx, life, rng)
			}
		}()
	}
	// Driver: room broadcasts and direct sends.
	var dwg sync.WaitGroup
	dwg.Add(2)
	go func() {
		defer dwg.Done()
		rng := rand.New(rand.NewPCG(cfg.seed, 1<<40))
		tick := time.NewTicker(time.Second / time.Duration(max(1, cfg.bcastRate)))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				r.servers[rng.IntN(nHubs)].broadcast(r.randomRoom(rng), "")
			}
		}
	}()
	go func() {
		defer dwg.Done()
		rng := rand.New(rand.NewPCG(cfg.seed, 1<<41))
		tick := time.NewTicker(time.Second / time.Duration(max(1, cfg.directRate)))
		defer tick.Stop()
		var ids []string
		refresh := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s := r.servers[rng.IntN(nHubs)]
				if time.Since(refresh) > 100*time.Millisecond || len(ids) == 0 {
					ids = ids[:0]
					for _, c := range s.hub.Connections() {
						ids = append(ids, c.ID())
					}
					refresh = time.Now()
				}
				if len(ids) > 0 {
					s.sendDirect(ids[rng.IntN(len(ids))])
				}
			}
		}
	}()
	// Redis restart halfway.
	var restartNote string
	if cfg.redisRestart {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			sleep(ctx, cfg.duration/2)
			if ctx.Err() != nil {
				return
			}
			t0 := time.Now()
			r.outageFrom.Store(t0.UnixNano())
			redisProc.stop()
			time.Sleep(2 * time.Second)
			if err := redisProc.start(); err != nil {
				r.note("redis restart: %v", err)
			}
			r.outageTo.Store(time.Now().UnixNano())
			restartNote = fmt.Sprintf("redis stopped at %v for %v", t0.Sub(start).Round(time.Second), time.Since(t0).Round(100*time.Millisecond))
		}()
	}
	// Progress.
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				st := r.servers[0].hub.Stats()
				fmt.Printf("  t=%-4v live=%d accepted=%d in=%d out=%d slowCloses=%d p99=%v goroutines=%d\n",
					time.Since(start).Round(time.Second), st.Connections, st.Accepted, st.MessagesIn, st.MessagesOut, st.SlowCloses,
					r.latency.quantile(0.99).Round(time.Microsecond), runtime.NumGoroutine())
			}
		}
	}()
	<-ctx.Done()
	dwg.Wait()
	endWait := time.Now()
	wg.Wait()
	fmt.Printf("churn ended after %v; last clients left in %v\n", time.Since(start).Round(time.Second), time.Since(endWait).Round(10*time.Millisecond))

	// Everyone has left: the hubs must be empty and back to baseline.
	ok := true
	check := func(cond bool, format string, args ...any) {
		status := "ok  "
		if !cond {
			status = "FAIL"
			ok = false
		}
		fmt.Printf("%s %s\n", status, fmt.Sprintf(format, args...))
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		empty := true
		for _, s := range r.servers {
			if st := s.hub.Stats(); st.Connections != 0 || st.Rooms != 0 {
				empty = false
			}
		}
		if empty {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var accepted, closed, slowCloses, timeouts, msgsIn, msgsOut, drops, errs, rejected, broadcasts, directs uint64
	var bstats []string
	for _, s := range r.servers {
		st := s.hub.Stats()
		cc := s.closeCounts()
		var closedHere uint64
		for _, n := range cc {
			closedHere += n
		}
		check(st.Connections == 0 && st.Rooms == 0, "hub %d empty: %d connections, %d rooms", s.index, st.Connections, st.Rooms)
		check(st.Accepted == closedHere+uint64(st.Connections), "hub %d accepted %d = closed %d + live %d (close codes %v)", s.index, st.Accepted, closedHere, st.Connections, cc)
		check(st.SlowCloses == cc[1008], "hub %d slow closes %d = connections closed with 1008 %d", s.index, st.SlowCloses, cc[1008])
		byClass := map[string]uint64{}
		for code, n := range cc {
			byClass[core.CloseClass(code)] += n
		}
		var statCloses uint64
		same := true
		for _, class := range core.CloseClasses() {
			statCloses += st.Closes[class]
			same = same && st.Closes[class] == byClass[class]
		}
		check(same && statCloses == closedHere, "hub %d Stats.Closes %v = close codes OnClose saw, by class %v", s.index, nonZero(st.Closes), nonZero(byClass))
		accepted += st.Accepted
		closed += closedHere
		slowCloses += st.SlowCloses
		timeouts += st.Timeouts
		msgsIn += st.MessagesIn
		msgsOut += st.MessagesOut
		drops += st.Drops
		errs += st.Errors
		for _, n := range st.Rejected {
			rejected += n
		}
		broadcasts += s.broadcasts.Load()
		directs += s.directs.Load()
		if st.Broker != nil {
			b := st.Broker
			bstats = append(bstats, fmt.Sprintf("hub %d broker: published %d received %d publishErrors %d drops %d resubscribes %d",
				s.index, b.Published, b.Received, b.PublishErrors, b.Drops, b.Resubscribes))
		}
	}
	check(accepted == r.connected.Load(), "accepted %d = clients connected %d", accepted, r.connected.Load())
	check(rejected == 0 && r.dialErrors.Load() == 0, "no refused handshakes (%d) or failed dials (%d, after %d retried)", rejected, r.dialErrors.Load(), r.dialRetries.Load())
	check(msgsIn <= r.sent.Load(), "messages in %d <= messages clients wrote %d", msgsIn, r.sent.Load())
	check(r.received.Load() <= msgsOut, "messages clients read %d <= messages out %d", r.received.Load(), msgsOut)
	check(r.failedClients.Load() == 0, "every healthy client got every message sent to it, in order, once: %d checked, %d failed",
		r.healthyChecked.Load(), r.failedClients.Load())
	check(slowCloses <= r.slowClosed.Load()+r.slowDropped.Load()+r.slowNotClosed.Load(),
		"slow closes %d all hit slow consumers (seen closed with 1008: %d, cut: %d, not yet closed: %d)", slowCloses, r.slowClosed.Load(), r.slowDropped.Load(), r.slowNotClosed.Load())
	check(hubErrors.Load() == 0, "no error logged by the hubs (%d)", hubErrors.Load())
	for _, s := range r.servers {
		s.close()
	}
	if rdb != nil {
		_ = rdb.Close()
	}
	// Goroutines and heap back to baseline.
	settle()
	g := runtime.NumGoroutine()
	for i := 0; i < 100 && g > baseG; i++ {
		time.Sleep(100 * time.Millisecond)
		g = runtime.NumGoroutine()
	}
	heap := heapInuse()
	check(g <= baseG, "goroutines back to baseline: %d (baseline %d)", g, baseG)
	check(heap <= baseHeap+8<<20, "heap back to baseline: %.1f MiB (baseline %.1f MiB)", float64(heap)/(1<<20), float64(baseHeap)/(1<<20))

	elapsed := cfg.duration.Seconds()
	fmt.Printf("figures: %d connections made (%d healthy/flooder checked, %d slow, %d reset), %d room broadcasts, %d direct sends, messages in %d, out %d (%.0f/s), drops %d, errors %d\n",
		r.connected.Load(), r.healthyChecked.Load(), kinds[slow].Load(), r.resets.Load(), broadcasts, directs, msgsIn, msgsOut, float64(msgsOut)/elapsed, drops, errs)
	fmt.Printf("slow consumers: %d slow closes by policy, %d peers closed for missing the pong timeout; slow clients seen closed with 1008 %d, cut without a close frame (policy after a stuck write, or pong timeout) %d, not yet closed at their end %d\n",
		slowCloses, timeouts, r.slowClosed.Load(), r.slowDropped.Load(), r.slowNotClosed.Load())
	fmt.Printf("delivery latency of room messages: p50 %v p99 %v p99.9 %v (%d observed)\n",
		r.latency.quantile(0.5).Round(time.Microsecond), r.latency.quantile(0.99).Round(time.Microsecond), r.latency.quantile(0.999).Round(time.Microsecond), r.latency.n)
	if cfg.useRedis {
		in, out := r.gapsOutsideOutage()
		fmt.Printf("cross-hub: %d messages received through Redis, %d missing inside memberships (%d gaps during the outage, %d outside it), %d memberships out of order; %s\n",
			r.remote.received, r.remote.gaps, in, out, r.remote.disorder, restartNote)
		for _, b := range bstats {
			fmt.Println(b)
		}
		fmt.Printf("go-redis logged %d lines (connection errors while Redis was down)\n", redisLogLines.Load())
		check(r.remote.disorder == 0, "cross-hub messages in order (%d memberships out of order)", r.remote.disorder)
	}
	for _, n := range r.notes {
		fmt.Println("note:", n)
	}
	for _, f := range r.fails {
		fmt.Println("client failure:", f)
	}
	if cfg.out != "" {
		fig := map[string]any{"duration_s": elapsed, "conns": cfg.conns, "connected": r.connected.Load(), "checked": r.healthyChecked.Load(),
			"failed": r.failedClients.Load(), "slow": kinds[slow].Load(), "slow_closes": slowCloses, "timeouts": timeouts, "resets": r.resets.Load(),
			"broadcasts": broadcasts, "directs": directs, "messages_in": msgsIn, "messages_out": msgsOut,
			"p50_us": r.latency.quantile(0.5).Microseconds(), "p99_us": r.latency.quantile(0.99).Microseconds(),
			"goroutines_base": baseG, "goroutines_end": g, "heap_base": baseHeap, "heap_end": heap, "ok": ok,
			"remote_received": r.remote.received, "remote_gaps": r.remote.gaps, "redis": restartNote}
		b, _ := json.MarshalIndent(fig, "", "  ")
		_ = os.WriteFile(cfg.out, b, 0o644)
	}
	if !ok {
		fmt.Println("soak FAILED")
		return 1
	}
	fmt.Println("soak passed")
	return 0
}

func nonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// settle collects garbage and returns freed memory, so baselines compare.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// redisLog counts go-redis's own log lines (dial failures while Redis is
// down, expected during the restart) instead of printing each.
type redisLog struct{}

var redisLogLines atomic.Uint64

func (redisLog) Printf(context.Context, string, ...any) { redisLogLines.Add(1) }

// redisServer is a private redis-server on its own port, for the restart.
type redisServer struct {
	port int
	addr string
	cmd  *exec.Cmd
}

func startRedis(port int) (*redisServer, error) {
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	r := &redisServer{port: port, addr: "127.0.0.1:" + strconv.Itoa(port)}
	return r, r.start()
}

func (r *redisServer) start() error {
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		return err
	}
	for range 100 {
		if out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "ping").Output(); err == nil && strings.TrimSpace(string(out)) == "PONG" {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("redis-server on port %d did not answer", r.port)
}

func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "shutdown", "nosave").Run()
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}
