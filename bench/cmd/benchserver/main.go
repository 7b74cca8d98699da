// Command benchserver serves one WebSocket implementation for the
// side-by-side benchmarks: the leanest gorilla/websocket server (raw-lean), a
// raw gorilla/websocket hub with rooms (raw), melody, gws, or rushws mounted
// on net/http, Echo or Gin. The implementations with rooms behave the same
// way:
//
//	GET /sub/{room}  upgrade and join room
//	GET /ws/{room}   the same (the path the npm ws idle clients use)
//	GET /pub/{room}  upgrade without joining
//
// A binary message whose first byte is 'P' is broadcast unchanged to every
// member of the sender's {room}; one whose first byte is 'E' is sent back to
// the sender. Everything else is ignored. raw-lean and gws have no rooms:
// they upgrade on any path and only echo 'E' messages.
//
// A second port serves GET /stats: RSS as read and, with ?free=1, after
// runtime.GC and debug.FreeOSMemory, heap, stacks, goroutines, live
// connections, drops, slow closes and the process's CPU time, as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rushws/rushws/core"
)

// server is one implementation under test.
type server interface {
	// handler serves /sub/{room}, /ws/{room} and /pub/{room} (raw-lean and
	// gws: any path).
	handler() http.Handler
	// conns returns the live WebSocket connections.
	conns() int
	// drops returns messages dropped for a full queue.
	drops() uint64
	// slowCloses returns connections closed as slow consumers.
	slowCloses() uint64
}

// options are what every implementation is built from.
type options struct {
	ping     time.Duration // 0: heartbeats off
	readMode core.ReadMode // rushws only
}

const (
	opPublish = 'P'
	opEcho    = 'E'
	// writeWait bounds each write, as core's default WriteTimeout does.
	writeWait = 10 * time.Second
)

func main() {
	impl := flag.String("impl", "rushws", "raw-lean, raw, melody, gws, rushws, rushws-echo or rushws-gin")
	addr := flag.String("addr", "127.0.0.1:18080", "WebSocket listen address")
	statsAddr := flag.String("stats", "127.0.0.1:18081", "stats listen address")
	ping := flag.Duration("ping", 0, "heartbeat interval; 0 turns heartbeats off (melody cannot turn them off: it keeps its default 54s)")
	read := flag.String("read", "auto", "rushws's core.Config.ReadMode: auto (core.ReadAuto) or goroutine (core.ReadGoroutine)")
	flag.Parse()

	opts := options{ping: *ping}
	var s server
	var err error
	switch *read {
	case "auto":
		opts.readMode = core.ReadAuto
	case "goroutine":
		opts.readMode = core.ReadGoroutine
	default:
		log.Fatalf("unknown -read %q: use auto or goroutine", *read)
	}
	switch *impl {
	case "raw-lean":
		s = newRawLean(opts)
	case "raw":
		s = newRaw(opts)
	case "melody":
		s = newMelody(opts)
	case "gws":
		s = newGws(opts)
	case "rushws", "rushws-echo", "rushws-gin":
		s, err = newRushws(opts, *impl)
	default:
		err = fmt.Errorf("unknown -impl %q", *impl)
	}
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	sln, err := net.Listen("tcp", *statsAddr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 10 * time.Second}
	readMode := "" // for the record: rushws only
	if _, ok := s.(*rushwsServer); ok {
		readMode = *read
	}
	stats := &http.Server{Handler: statsHandler(*impl, readMode, opts.ping, s), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = stats.Serve(sln) }()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = stats.Shutdown(ctx)
	_ = srv.Shutdown(ctx)
}

// stats is the JSON served on the stats port.
type stats struct {
	Impl       string `json:"impl"`
	RSS        uint64 `json:"rss"`                 // bytes, as read, before anything below runs
	RSSFreed   uint64 `json:"rss_freed"`           // bytes, after GC and debug.FreeOSMemory (free=1 only)
	HeapRead   uint64 `json:"heap_inuse_as_read"`  // bytes in in-use heap spans before the GC (free=1 only)
	HeapInuse  uint64 `json:"heap_inuse"`          // bytes in in-use heap spans, after GC when free=1
	HeapAlloc  uint64 `json:"heap_alloc"`          // bytes of live objects, after GC when free=1
	StackInuse uint64 `json:"stack_inuse"`         // bytes of goroutine stacks
	Sys        uint64 `json:"sys"`                 // bytes obtained from the OS
	Goroutines int    `json:"goroutines"`          // runtime.NumGoroutine
	Conns      int    `json:"conns"`               // live WebSocket connections
	Drops      uint64 `json:"drops"`               // messages dropped for a full queue
	SlowCloses uint64 `json:"slow_closes"`         // connections closed as slow consumers
	CPUUser    int64  `json:"cpu_user_us"`         // getrusage(RUSAGE_SELF) user time
	CPUSys     int64  `json:"cpu_sys_us"`          // and system time
	NumGC      uint32 `json:"num_gc"`              // completed GC cycles
	GOMAXPROCS int    `json:"gomaxprocs"`          // for the record
	Unix       int64  `json:"unix_ns"`             // when read
	PingNanos  int64  `json:"ping_interval"`       // heartbeat interval, 0 off
	ReadMode   string `json:"read_mode,omitempty"` // rushws's read mode (-read), for the record
	GoVersion  string `json:"go_version"`          // runtime.Version
	PID        int    `json:"pid"`                 // the server's process id
	Note       string `json:"note,omitempty"`      // anything the reader should know
}

// statsHandler serves GET /stats. RSS is read first, as a user's server
// would see it. With ?free=1 it then reads the heap, runs the GC and returns
// memory to the OS, and reports RSS and the heap again after that.
func statsHandler(impl, readMode string, ping time.Duration, s server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		st := stats{Impl: impl, ReadMode: readMode, PingNanos: int64(ping), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), PID: os.Getpid()}
		st.RSS = rss() // before anything else: the figure no forced GC touched
		var ms runtime.MemStats
		if r.URL.Query().Get("free") == "1" {
			runtime.ReadMemStats(&ms)
			st.HeapRead = ms.HeapInuse
			runtime.GC()
			debug.FreeOSMemory()
			st.RSSFreed = rss()
		}
		runtime.ReadMemStats(&ms)
		st.HeapInuse, st.HeapAlloc, st.StackInuse, st.Sys, st.NumGC = ms.HeapInuse, ms.HeapAlloc, ms.StackInuse, ms.Sys, ms.NumGC
		st.Goroutines = runtime.NumGoroutine()
		st.Conns, st.Drops, st.SlowCloses = s.conns(), s.drops(), s.slowCloses()
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		st.CPUUser = ru.Utime.Sec*1e6 + ru.Utime.Usec
		st.CPUSys = ru.Stime.Sec*1e6 + ru.Stime.Usec
		st.Unix = time.Now().UnixNano()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	// Profiles, for finding where an implementation spends its time:
	// go tool pprof http://127.0.0.1:18081/debug/pprof/profile?seconds=5
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	return mux
}

// rss returns the resident set size from /proc/self/statm.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res uint64
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		return 0
	}
	return res * uint64(os.Getpagesize())
}
