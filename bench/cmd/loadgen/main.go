// Command loadgen drives one benchserver with one scenario and prints one
// JSON line per measurement on stdout:
//
//	idle    hold -conns connections and read the server's memory and goroutines
//	accept  dial -conns connections, -concurrency at a time, and time it
//	fanout  1 publisher to -subs subscribers on an open-loop ladder of -rates
//	echo    round trips with each of -clients closed-loop clients
//	slow    fanout at -rates[0], first with every subscriber reading, then
//	        with -slow-frac of them stalled
//
// It dials from rotating source addresses 127.0.0.2 to 127.0.0.254, stops
// when -timeout passes, and records its own CPU time: a measurement during
// which it used more than -max-cpu of one core is marked "valid": false,
// because it may have measured the load generator rather than the server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	scenario    string
	impl        string
	heartbeat   string
	mode        string
	rep         int
	addr        string
	stats       string
	conns       int
	concurrency int
	hold        time.Duration
	subs        int
	rates       []float64
	step        time.Duration
	clients     []int
	size        int
	slowFrac    float64
	maxCPU      float64
}

var (
	cfg   config
	outMu sync.Mutex
	enc   = json.NewEncoder(os.Stdout)
)

func main() {
	var rates, clients string
	flag.StringVar(&cfg.scenario, "scenario", "idle", "idle, accept, fanout, echo or slow")
	flag.StringVar(&cfg.impl, "impl", "", "implementation label for the output")
	flag.StringVar(&cfg.heartbeat, "heartbeat", "off", "heartbeat label for the output (the server decides)")
	flag.StringVar(&cfg.mode, "mode", "", "run mode label for the output (smoke or full)")
	flag.IntVar(&cfg.rep, "rep", 1, "repetition number for the output")
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:18080", "server WebSocket address")
	flag.StringVar(&cfg.stats, "stats", "127.0.0.1:18081", "server stats address")
	flag.IntVar(&cfg.conns, "conns", 10000, "connections for idle and accept")
	flag.IntVar(&cfg.concurrency, "concurrency", 32, "dials in flight at once")
	flag.DurationVar(&cfg.hold, "hold", 2*time.Second, "idle: how long to hold the connections before measuring")
	flag.IntVar(&cfg.subs, "subs", 1000, "fanout and slow: subscribers")
	flag.StringVar(&rates, "rates", "25000,50000,100000", "fanout and slow: offered deliveries per second, comma separated")
	flag.DurationVar(&cfg.step, "step", 3*time.Second, "fanout, slow and echo: length of one measurement")
	flag.StringVar(&clients, "clients", "1,100,1000", "echo: client counts, comma separated")
	flag.IntVar(&cfg.size, "size", 64, "message size in bytes (at least 17)")
	flag.Float64Var(&cfg.slowFrac, "slow-frac", 0.01, "slow: share of subscribers that stop reading")
	flag.Float64Var(&cfg.maxCPU, "max-cpu", 0.9, "mark a measurement invalid when the load generator used more than this share of one core")
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	flag.Parse()

	var err error
	if cfg.rates, err = parseList(rates, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }); err != nil {
		fatal(err)
	}
	if cfg.clients, err = parseList(clients, strconv.Atoi); err != nil {
		fatal(err)
	}
	if cfg.size < msgHeader {
		cfg.size = msgHeader
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	go func() {
		<-ctx.Done()
		if ctx.Err() == context.DeadlineExceeded {
			fmt.Fprintf(os.Stderr, "loadgen: %s: timeout after %s\n", cfg.scenario, *timeout)
			os.Exit(3)
		}
	}()
	d := &dialer{addr: cfg.addr}
	switch cfg.scenario {
	case "idle":
		err = runIdle(ctx, d)
	case "accept":
		err = runAccept(ctx, d)
	case "fanout":
		err = runFanout(ctx, d, false)
	case "slow":
		err = runFanout(ctx, d, true)
	case "echo":
		err = runEcho(ctx, d)
	default:
		err = fmt.Errorf("unknown -scenario %q", cfg.scenario)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "loadgen: %s %s: %v\n", cfg.impl, cfg.scenario, err)
	os.Exit(1)
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// record is one output line: the common fields, then the scenario's.
type record map[string]any

func emit(r record) {
	r["impl"] = cfg.impl
	r["scenario"] = cfg.scenario
	r["rep"] = cfg.rep
	r["mode"] = cfg.mode
	r["time"] = time.Now().UTC().Format(time.RFC3339)
	outMu.Lock()
	_ = enc.Encode(r)
	outMu.Unlock()
}

// serverStats is what benchserver's /stats returns.
type serverStats struct {
	Impl       string `json:"impl"`
	RSS        uint64 `json:"rss"`
	RSSFreed   uint64 `json:"rss_freed"`
	HeapRead   uint64 `json:"heap_inuse_as_read"`
	HeapInuse  uint64 `json:"heap_inuse"`
	HeapAlloc  uint64 `json:"heap_alloc"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	Conns      int    `json:"conns"`
	Drops      uint64 `json:"drops"`
	SlowCloses uint64 `json:"slow_closes"`
	CPUUser    int64  `json:"cpu_user_us"`
	CPUSys     int64  `json:"cpu_sys_us"`
	NumGC      uint32 `json:"num_gc"`
	PingNanos  int64  `json:"ping_interval"`
	GoVersion  string `json:"go_version"`
}

func (s serverStats) cpu() int64 { return s.CPUUser + s.CPUSys }

var statsClient = &http.Client{Timeout: 30 * time.Second}

// fetchStats reads the server's stats; free asks it to collect garbage and
// return memory to the OS first.
func fetchStats(free bool) (serverStats, error) {
	u := "http://" + cfg.stats + "/stats"
	if free {
		u += "?free=1"
	}
	var st serverStats
	resp, err := statsClient.Get(u)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// cpuMeter measures the load generator's own CPU use over an interval.
type cpuMeter struct {
	wall time.Time
	cpu  int64
}

func ownCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
}

func startCPU() cpuMeter { return cpuMeter{wall: time.Now(), cpu: ownCPU()} }

// share returns the CPU used since m, as a share of one core.
func (m cpuMeter) share() float64 {
	wall := time.Since(m.wall).Microseconds()
	if wall <= 0 {
		return 0
	}
	return float64(ownCPU()-m.cpu) / float64(wall)
}

// validity adds the load generator's CPU share and the verdict to r.
func validity(r record, share float64) {
	r["client_cpu"] = round(share, 3)
	r["valid"] = share <= cfg.maxCPU
	r["client_gomaxprocs"] = runtime.GOMAXPROCS(0)
}

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}
