package core_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
)

// The benchmarks measure the server alone: their clients run in a child
// process (this test binary again, running TestBenchClients), so the
// server's heap, RSS and goroutines are not mixed with the clients'.

const clientsEnv = "RUSHWS_BENCH_CLIENTS" // "url n read"

// TestBenchClients is the client side of the benchmarks; it does nothing
// unless the benchmark started it.
func TestBenchClients(t *testing.T) {
	spec := os.Getenv(clientsEnv)
	if spec == "" {
		t.Skip("client process of the benchmarks")
	}
	var url string
	var n int
	var read bool
	if _, err := fmt.Sscan(spec, &url, &n, &read); err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024}
	conns := make([]*websocket.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		if read {
			go func() {
				for {
					if _, _, err := c.NextReader(); err != nil {
						return
					}
				}
			}()
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent closes stdin to end us
	for _, c := range conns {
		c.Close()
	}
}

// startClients runs n clients against url in a child process and waits
// until they are connected. stop ends them.
func startClients(b *testing.B, url string, n int, read bool) (stop func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %v", clientsEnv, url, n, read))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "ready" {
			break
		}
	}
	return func() {
		stdin.Close()
		_ = cmd.Wait()
	}
}

// serverMem returns the heap in use after a GC, the process RSS and the
// goroutine count.
func serverMem() (heap, rss uint64, goroutines int) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse, rssBytes(), runtime.NumGoroutine()
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func benchHub(b *testing.B, cfg core.Config) (*core.Hub, string) {
	b.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := core.NewHub(cfg)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(func(c *core.Conn) error { return c.Join(c.Param("room")) }))
	srv := httptest.NewServer(mux)
	b.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return hub, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/room"
}

// BenchmarkIdleConnections reports the server's heap (with stacks), RSS and
// goroutines per idle connection at 5,000 connections, heartbeats on.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 5000
	for range b.N {
		b.StopTimer()
		hub, url := benchHub(b, core.Config{})
		heap0, rss0, g0 := serverMem()
		b.StartTimer()
		stop := startClients(b, url, n, false)
		for hub.Stats().Connections < n {
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		time.Sleep(100 * time.Millisecond) // let writers of the welcome-less conns settle
		heap1, rss1, g1 := serverMem()
		if path := os.Getenv("RUSHWS_BENCH_HEAPPROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		b.ReportMetric(float64(heap1-heap0)/n, "heap-B/conn")
		b.ReportMetric(float64(int64(rss1)-int64(rss0))/n, "rss-B/conn")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/conn")
		stop()
		for hub.Stats().Connections > 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// BenchmarkBroadcastRoom measures one 128-byte event to a room of 1,000
// members: encoded once, queued for each, written by each writer. An op ends
// when every member's copy has been written.
func BenchmarkBroadcastRoom(b *testing.B) {
	const n = 1000
	hub, url := benchHub(b, core.Config{PingInterval: -1})
	stop := startClients(b, url, n, true)
	defer stop()
	for hub.Stats().Connections < n {
		time.Sleep(10 * time.Millisecond)
	}
	payload := strings.Repeat("x", 128)
	base := hub.Stats().MessagesOut
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := hub.To("room").Emit("news", payload); err != nil {
			b.Fatal(err)
		}
		// Keep at most a few broadcasts in flight, like a steady publisher.
		for hub.Stats().MessagesOut+4*n < base+uint64(i+1)*n {
			runtime.Gosched()
		}
	}
	for hub.Stats().MessagesOut < base+uint64(b.N)*n {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
}
