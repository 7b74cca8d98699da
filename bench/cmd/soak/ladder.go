package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/rawws"
)

// The scale ladder runs the hub in a child process (so its memory and
// descriptors are its own) and drives it from this one: first idle
// connections in steps up to the descriptor limit, then one room's fan-out
// at rising rates until the p99 delivery latency passes 100 ms.

// serveLadder is the child: a hub on addr whose route joins the room
// "fan" when the URL asks, plus /mem and /publish endpoints.
func serveLadder(addr string) {
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", hub.Handler(func(c *core.Conn) error {
		if c.Request().URL.Query().Get("fan") != "" {
			return c.Join("fan")
		}
		return nil
	}))
	mux.HandleFunc("/mem", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(procMem(os.Getpid(), hub.Len()))
	})
	mux.HandleFunc("/publish", func(w http.ResponseWriter, r *http.Request) {
		rate, _ := strconv.Atoi(r.URL.Query().Get("rate"))
		dur, _ := time.ParseDuration(r.URL.Query().Get("for"))
		pad := strings.Repeat("x", 64)
		tick := time.NewTicker(time.Second / time.Duration(max(1, rate)))
		defer tick.Stop()
		end := time.Now().Add(dur)
		sent := 0
		for time.Now().Before(end) {
			<-tick.C
			if _, err := hub.To("fan").Emit("f", map[string]any{"t": time.Now().UnixNano(), "p": pad}); err == nil {
				sent++
			}
		}
		fmt.Fprint(w, sent)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	// The parent closes our stdin when it is done.
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = hub.Close()
	_ = srv.Close()
}

// memInfo is what the child reports about itself.
type memInfo struct {
	Conns      int     `json:"conns"`
	RSS        uint64  `json:"rss"`
	CPUSeconds float64 `json:"cpu"`
}

func procMem(pid, conns int) memInfo {
	m := memInfo{Conns: conns}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseUint(strings.Fields(line)[1], 10, 64)
				m.RSS = kb << 10
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		m.CPUSeconds = (ut + st) / 100
	}
	return m
}

func getJSON(url string, v any) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}

// runLadder drives the child through the idle and fan-out steps.
func runLadder(maxConns int) int {
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if maxConns == 0 {
		maxConns = int(lim.Cur) - 500
	}
	self, _ := os.Executable()
	cmd := exec.Command(self, "-serve", "127.0.0.1:0")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		fmt.Println("FAIL: child:", err)
		return 1
	}
	addr := strings.TrimSpace(line)
	base := "http://" + addr
	var m0 memInfo
	_ = getJSON(base+"/mem", &m0)
	fmt.Printf("ladder: server pid %d on %s, descriptor limit %d, baseline RSS %.1f MiB\n", cmd.Process.Pid, addr, lim.Cur, float64(m0.RSS)/(1<<20))

	// Idle connections.
	var d dialer
	var conns []*rawws.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	dialOne := func(path string) (*rawws.Conn, error) {
		i := d.next.Add(1)
		nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%253))}, Timeout: 10 * time.Second}
		nc, err := nd.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		c := rawws.NewConn(nc)
		if err := c.Handshake(addr, path, nil, nil, 10*time.Second); err != nil {
			nc.Close()
			return nil, err
		}
		return c, nil
	}
	fmt.Println("| idle connections | server RSS | RSS per connection | dial time |")
	fmt.Println("|---|---|---|---|")
	held := 0
	for _, step := range []int{1000, 2000, 5000, 10000, 15000, 20000} {
		target := min(step, maxConns)
		if target <= held {
			break
		}
		t0 := time.Now()
		var mu sync.Mutex
		var wg sync.WaitGroup
		var failed atomic.Int64
		sem := make(chan struct{}, 32)
		for range target - held {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				c, err := dialOne("/ws")
				if err != nil {
					failed.Add(1)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
		wg.Wait()
		took := time.Since(t0)
		held = len(conns)
		time.Sleep(2 * time.Second)
		var m memInfo
		_ = getJSON(base+"/mem", &m)
		fmt.Printf("| %d | %.1f MiB | %.1f KiB | %v (%d failed) |\n", m.Conns, float64(m.RSS)/(1<<20), float64(m.RSS-m0.RSS)/float64(max(1, m.Conns))/1024, took.Round(time.Millisecond), failed.Load())
		if failed.Load() > 0 {
			break
		}
	}
	heldIdle := held
	for _, c := range conns {
		_ = c.Close()
	}
	conns = nil
	time.Sleep(2 * time.Second)

	// Fan-out: subscribers in room "fan", read by this process.
	fmt.Println()
	fmt.Println("| subscribers | offered msgs/s | deliveries/s | p50 | p99 | server CPU µs/delivery | server RSS |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, subs := range []int{1000, 5000} {
		var lat hist
		var got atomic.Uint64
		var subConns []*rawws.Conn
		var rwg sync.WaitGroup
		for range subs {
			c, err := dialOne("/ws?fan=1")
			if err != nil {
				fmt.Println("dial:", err)
				break
			}
			subConns = append(subConns, c)
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for {
					f, err := c.ReadFrame()
					if err != nil {
						return
					}
					if f.Op == rawws.OpPing {
						_ = c.WriteFrames(rawws.Pong(f.Payload))
						continue
					}
					if t := sentAt(f.Payload); t > 0 {
						lat.observe(time.Duration(time.Now().UnixNano() - t))
						got.Add(1)
					}
				}
			}()
		}
		time.Sleep(time.Second)
		for _, rate := range []int{10, 20, 50, 100, 200, 500, 1000, 2000} {
			lat.reset()
			got.Store(0)
			var m1, m2 memInfo
			_ = getJSON(base+"/mem", &m1)
			const dur = 5 * time.Second
			res, err := http.Get(fmt.Sprintf("%s/publish?rate=%d&for=%s", base, rate, dur))
			if err != nil {
				fmt.Println("publish:", err)
				break
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			sent, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			time.Sleep(500 * time.Millisecond) // let the tail arrive
			_ = getJSON(base+"/mem", &m2)
			deliveries := got.Load()
			cpu := (m2.CPUSeconds - m1.CPUSeconds) * 1e6 / float64(max(1, deliveries))
			p99 := lat.quantile(0.99)
			fmt.Printf("| %d | %d (%d sent) | %.0f | %v | %v | %.2f | %.1f MiB |\n", len(subConns), rate, sent,
				float64(deliveries)/dur.Seconds(), lat.quantile(0.5).Round(10*time.Microsecond), p99.Round(10*time.Microsecond), cpu, float64(m2.RSS)/(1<<20))
			if p99 > 100*time.Millisecond || float64(deliveries) < 0.9*float64(sent*len(subConns)) {
				break
			}
		}
		for _, c := range subConns {
			_ = c.Close()
		}
		rwg.Wait()
		time.Sleep(time.Second)
	}
	fmt.Printf("\nidle connections held: %d\n", heldIdle)
	return 0
}

// sentAt finds the send time in a fan-out message without decoding all of
// it, so the reading side stays cheap.
func sentAt(b []byte) int64 {
	i := bytes.Index(b, []byte(`"t":`))
	if i < 0 {
		return 0
	}
	var t int64
	for _, c := range b[i+4:] {
		if c < '0' || c > '9' {
			break
		}
		t = t*10 + int64(c-'0')
	}
	return t
}
