// Command recovery measures connection state recovery through Redis, for
// the figures in docs/recovery.md:
//
//	cd bench && go run ./cmd/recovery -redis 127.0.0.1:6379
//
// It measures four things.
//
//   - Latency: -clients clients of instance A (a child process with a hub
//     and a redisbroker.Broker, recovery on) are in one room and have its
//     latest position; A is killed with SIGKILL; instance B (another child
//     process) sends -missed messages to the room; then every client
//     reconnects to B at once, presents its session and reads its session
//     message and the replay. A client's latency runs from its dial to its
//     last replayed message; p50, p99 and the time until all recovered are
//     printed, and every client is checked: recovered, each missed message
//     once, in order.
//   - Redis commands per recovery: the INFO commandstats delta over that
//     burst (Lua's inner calls included), divided by the clients.
//   - Redis memory: MEMORY USAGE (SAMPLES 0) of a room history holding
//     -history messages, for two payload sizes, and of session keys.
//   - Publish throughput through the broker, history on against off: two
//     pairs of in-process hubs (one publishes, a member of the room on the
//     other reads), rounds interleaved, -window messages in flight.
//
// Every key lives under a private prefix (rushws-bench-rec-<pid>), deleted
// at the end. Redis is shared: run it when nothing else uses that Redis, or
// the command counts include others' commands.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

func main() {
	child := flag.Bool("child", false, "run one instance (used by the command itself)")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	prefix := flag.String("prefix", fmt.Sprintf("rushws-bench-rec-%d", os.Getpid()), "Redis key prefix, private to this run")
	clients := flag.Int("clients", 1000, "clients that recover at once")
	missed := flag.Int("missed", 20, "messages each client misses")
	history := flag.Int("history", 1000, "messages in the history whose memory is measured")
	rounds := flag.Int("rounds", 3, "throughput rounds of each kind (history on, off), interleaved")
	msgs := flag.Int("messages", 20000, "messages per throughput round")
	window := flag.Int("window", 500, "messages in flight in the throughput rounds")
	flag.Parse()
	if *child {
		runChild(*redisAddr, *prefix)
		return
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Fatalf("recovery: Redis at %s: %v", *redisAddr, err)
	}
	defer cleanup(rdb, *prefix)
	fmt.Printf("recovery bench: Redis %s (%s), prefix %s, GOMAXPROCS=%d, %d CPUs\n", *redisAddr, redisVersion(rdb), *prefix, runtime.GOMAXPROCS(0), runtime.NumCPU())

	if err := latency(rdb, *redisAddr, *prefix, *clients, *missed, *history); err != nil {
		cleanup(rdb, *prefix)
		log.Fatal(err)
	}
	if err := throughput(*redisAddr, *prefix, *rounds, *msgs, *window); err != nil {
		cleanup(rdb, *prefix)
		log.Fatal(err)
	}
}

// ---- the instances --------------------------------------------------------

// runChild runs one instance until killed: a hub with recovery on and the
// Redis broker as its store. /ws/{room} joins the room unless the
// connection recovered; /publish?room=R&n=N&size=S sends N messages (a
// sequence number and S bytes of padding) to R and answers when the
// broker has handed them all to Redis.
func runChild(redisAddr, prefix string) {
	quiet := slog.New(slog.DiscardHandler)
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr, PoolSize: 64})
	b, err := redisbroker.New(rdb, redisbroker.Config{Prefix: prefix, Logger: quiet, PublishTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{
		Broker:                  b,
		Recovery:                core.RecoveryConfig{Enabled: true},
		Logger:                  quiet,
		InsecureSkipOriginCheck: true,
		PingInterval:            -1,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws/{room}", hub.Handler(func(c *core.Conn) error {
		if !c.Recovered() {
			return c.Join(c.Param("room"))
		}
		return nil
	}))
	mux.HandleFunc("GET /publish", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		size, _ := strconv.Atoi(q.Get("size"))
		pad := strings.Repeat("x", size)
		base := b.Stats().Published
		for i := 1; i <= n; i++ {
			if _, err := hub.To(q.Get("room")).Emit("m", payload{Seq: i, Pad: pad}); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for b.Stats().Published < base+uint64(n) {
			time.Sleep(time.Millisecond)
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(hub.Stats())
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	fmt.Printf("listening on %s\n", srv.Listener.Addr())
	select {} // until killed
}

// payload is a benchmark message.
type payload struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad,omitempty"`
}

// instance is a child process.
type instance struct {
	cmd  *exec.Cmd
	addr string
}

func startInstance(redisAddr, prefix string) (*instance, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-child", "-redis", redisAddr, "-prefix", prefix)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("instance did not start: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return &instance{cmd: cmd, addr: strings.TrimSpace(strings.TrimPrefix(line, "listening on "))}, nil
}

func (in *instance) kill() {
	_ = in.cmd.Process.Kill() // SIGKILL: no close frames, no session saved on the way out
	_ = in.cmd.Wait()
}

func (in *instance) get(path string) error {
	resp, err := http.Get("http://" + in.addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", path, resp.Status, body)
	}
	return nil
}

func (in *instance) stats() (core.Stats, error) {
	var st core.Stats
	resp, err := http.Get("http://" + in.addr + "/stats")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// ---- the clients ----------------------------------------------------------

// envelope is a message as received.
type envelope struct {
	Event string            `json:"event"`
	Data  json.RawMessage   `json:"data"`
	Pos   map[string]string `json:"pos"`
}

// session is the data of a session message.
type session struct {
	ID        string            `json:"id"`
	Token     string            `json:"token"`
	Recovered bool              `json:"recovered"`
	Reason    string            `json:"reason"`
	Missed    int               `json:"missed"`
	Positions map[string]string `json:"positions"`
}

// client keeps its session as the JS client does.
type client struct {
	ws        *websocket.Conn
	token     string
	positions map[string]string
}

var dialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second}

// dial connects; with recover it presents the session first.
func (c *client) dial(url string, recover bool) (session, error) {
	var s session
	if recover {
		url += "?rushws_recover=1"
	}
	ws, _, err := dialer.Dial(url, nil)
	if err != nil {
		return s, err
	}
	c.ws = ws
	if recover {
		msg, _ := json.Marshal(map[string]any{"event": "recover", "data": map[string]any{"token": c.token, "positions": c.positions}})
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			return s, err
		}
	}
	e, err := c.next()
	if err != nil {
		return s, err
	}
	if e.Event != "session" {
		return s, fmt.Errorf("first message %q, want session", e.Event)
	}
	if err := json.Unmarshal(e.Data, &s); err != nil {
		return s, err
	}
	c.token = s.Token
	c.positions = s.Positions
	return s, nil
}

func (c *client) next() (envelope, error) {
	var e envelope
	_ = c.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, err
	}
	for k, v := range e.Pos {
		c.positions[k] = v
	}
	return e, nil
}

// ---- (a), (b), (c) ----------------------------------------------------------

func latency(rdb *redis.Client, redisAddr, prefix string, n, missed, history int) error {
	ctx := context.Background()
	a, err := startInstance(redisAddr, prefix)
	if err != nil {
		return err
	}
	defer a.kill()
	b, err := startInstance(redisAddr, prefix)
	if err != nil {
		return err
	}
	defer b.kill()
	const room = "lobby"

	// n clients on A, in the room.
	clients := make([]*client, n)
	if err := parallel(n, 50, func(i int) error {
		c := &client{}
		clients[i] = c
		_, err := c.dial("ws://"+a.addr+"/ws/"+room, false)
		return err
	}); err != nil {
		return fmt.Errorf("dialing A: %w", err)
	}
	// One message each has read, so every client holds the room's position,
	// and time for A to save the sessions with their room.
	for {
		st, err := a.stats()
		if err != nil {
			return err
		}
		if st.Broker != nil && st.Broker.Subscriptions == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.get("/publish?room=" + room + "&n=1"); err != nil {
		return err
	}
	if err := parallel(n, n, func(i int) error {
		e, err := clients[i].next()
		if err == nil && e.Event != "m" {
			err = fmt.Errorf("got %q, want the warm-up message", e.Event)
		}
		return err
	}); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	time.Sleep(time.Second)

	// A dies; B sends what they miss.
	a.kill()
	for _, c := range clients {
		_ = c.ws.Close()
	}
	if err := b.get(fmt.Sprintf("/publish?room=%s&n=%d", room, missed)); err != nil {
		return err
	}

	// Everyone recovers on B at once.
	before, err := commandStats(ctx, rdb)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, n)
	var bad atomic.Int64
	var firstBad atomic.Value
	start := time.Now()
	_ = parallel(n, n, func(i int) error {
		c := clients[i]
		t0 := time.Now()
		s, err := c.dial("ws://"+b.addr+"/ws/"+room, true)
		if err == nil && (!s.Recovered || s.Missed != missed) {
			err = fmt.Errorf("session %+v, want recovered with %d missed", s, missed)
		}
		for k := 1; err == nil && k <= missed; k++ {
			var e envelope
			if e, err = c.next(); err != nil {
				break
			}
			var p payload
			if err = json.Unmarshal(e.Data, &p); err == nil && (e.Event != "m" || p.Seq != k) {
				err = fmt.Errorf("replayed message %d is %s seq %d", k, e.Event, p.Seq)
			}
		}
		lat[i] = time.Since(t0)
		if err != nil {
			bad.Add(1)
			firstBad.CompareAndSwap(nil, err.Error())
		}
		return nil
	})
	all := time.Since(start)
	time.Sleep(time.Second) // B saves the recovered sessions
	after, err := commandStats(ctx, rdb)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	fmt.Printf("(a) %d clients of A (SIGKILLed) recover on B at once, %d missed messages each: p50 %v, p99 %v, max %v; all recovered after %v; failures %d",
		n, missed, pct(lat, 50), pct(lat, 99), lat[len(lat)-1], all.Round(time.Millisecond), bad.Load())
	if bad.Load() > 0 {
		fmt.Printf(" (first: %v)", firstBad.Load())
	}
	fmt.Println()
	if st, err := b.stats(); err == nil && st.Recovery != nil {
		fmt.Printf("    B's stats: recovered %d, replayed %d, failed %v, takenOver %d\n", st.Recovery.Recovered, st.Recovery.Replayed, nonZero(st.Recovery.Failed), st.Recovery.TakenOver)
	}

	// (b) commands per recovery.
	delta := map[string]int64{}
	var total int64
	for name, calls := range after {
		if d := calls - before[name]; d > 0 && name != "info" {
			delta[name] = d
			total += d
		}
	}
	names := make([]string, 0, len(delta))
	for name := range delta {
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int { return int(delta[y] - delta[x]) })
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", name, float64(delta[name])/float64(n)))
	}
	fmt.Printf("(b) Redis commands per recovery (INFO commandstats delta / %d, Lua inner calls included): %.1f: %s\n", n, float64(total)/float64(n), strings.Join(parts, ", "))

	// (c) memory: a room history of `history` messages, two payload sizes,
	// and session keys.
	per := map[int]float64{}
	envLen := map[int]int{}
	for _, size := range []int{16, 256} {
		r := fmt.Sprintf("mem-%d", size)
		if err := b.get(fmt.Sprintf("/publish?room=%s&n=%d&size=%d", r, history, size)); err != nil {
			return err
		}
		key := prefix + ":hs:r:" + base64.RawURLEncoding.EncodeToString([]byte(r))
		used, err := rdb.MemoryUsage(ctx, key, 0).Result()
		if err != nil {
			return fmt.Errorf("MEMORY USAGE %s: %w", key, err)
		}
		env, _ := json.Marshal(map[string]any{"event": "m", "data": payload{Seq: history, Pad: strings.Repeat("x", size)}})
		per[size] = float64(used) / float64(history)
		envLen[size] = len(env)
		fmt.Printf("(c) room history of %d messages, envelope %d bytes: MEMORY USAGE %d bytes, %.0f bytes a message\n", history, len(env), used, per[size])
	}
	var sess []int64
	for _, c := range clients[:min(50, len(clients))] {
		sum := sha256.Sum256([]byte(c.token))
		if used, err := rdb.MemoryUsage(ctx, prefix+":s:"+hex.EncodeToString(sum[:]), 0).Result(); err == nil {
			sess = append(sess, used)
		}
	}
	if len(sess) > 0 {
		slices.Sort(sess)
		fmt.Printf("(c) session key (one room, no metadata): MEMORY USAGE median %d bytes (%d sampled, %d to %d)\n", sess[len(sess)/2], len(sess), sess[0], sess[len(sess)-1])
	}
	slope := (per[256] - per[16]) / float64(envLen[256]-envLen[16])
	fmt.Printf("(c) formula: a kept message ≈ %.0f + %.2f × its envelope's bytes; Redis ≈ Σ over streams of kept × that + sessions × the session's bytes, where kept = min(HistorySize, what the stream gets in HistoryTTL) and sessions = live + dropped within Window\n",
		per[16]-slope*float64(envLen[16]), slope)
	for _, c := range clients {
		_ = c.ws.Close()
	}
	return nil
}

// ---- (d) ------------------------------------------------------------------

// pair is a publishing hub and a receiving hub linked by Redis, with one
// member of the room on the receiving hub.
type pair struct {
	pub, sub *core.Hub
	srv      *httptest.Server
	member   *websocket.Conn
	brokers  []*redisbroker.Broker
}

func newPair(redisAddr, prefix string, history bool) (*pair, error) {
	quiet := slog.New(slog.DiscardHandler)
	p := &pair{}
	var hubs [2]*core.Hub
	for i := range hubs {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		b, err := redisbroker.New(rdb, redisbroker.Config{Prefix: prefix, Logger: quiet, PublishTimeout: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		p.brokers = append(p.brokers, b)
		hubs[i], err = core.NewHub(core.Config{Broker: b, Recovery: core.RecoveryConfig{Enabled: history}, Logger: quiet, InsecureSkipOriginCheck: true, PingInterval: -1})
		if err != nil {
			return nil, err
		}
	}
	p.pub, p.sub = hubs[0], hubs[1]
	p.srv = httptest.NewServer(p.sub.Handler(func(c *core.Conn) error { return c.Join("tp") }))
	ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(p.srv.URL, "http"), nil)
	if err != nil {
		return nil, err
	}
	p.member = ws
	for p.brokers[1].Stats().Subscriptions < 1 {
		time.Sleep(5 * time.Millisecond)
	}
	return p, nil
}

func (p *pair) close() {
	_ = p.member.Close()
	_ = p.pub.Close()
	_ = p.sub.Close()
	p.srv.Close()
}

// round sends n messages with at most window in flight and returns the
// messages per second the member received.
func (p *pair) round(n, window int) (float64, error) {
	var got atomic.Int64
	done := make(chan error, 1)
	go func() {
		for got.Load() < int64(n) {
			_ = p.member.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, b, err := p.member.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			if strings.Contains(string(b), `"event":"t"`) {
				got.Add(1)
			}
		}
		done <- nil
	}()
	msg := payload{Pad: strings.Repeat("x", 64)}
	start := time.Now()
	for i := 0; i < n; i++ {
		for int64(i)-got.Load() >= int64(window) {
			time.Sleep(50 * time.Microsecond)
		}
		msg.Seq = i
		if _, err := p.pub.To("tp").Emit("t", msg); err != nil {
			return 0, err
		}
	}
	if err := <-done; err != nil {
		return 0, fmt.Errorf("member read %d of %d: %w", got.Load(), n, err)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func throughput(redisAddr, prefix string, rounds, n, window int) error {
	on, err := newPair(redisAddr, prefix+"-on", true)
	if err != nil {
		return err
	}
	defer on.close()
	off, err := newPair(redisAddr, prefix+"-off", false)
	if err != nil {
		return err
	}
	defer off.close()
	if _, err := on.round(n/10, window); err != nil { // warm-up
		return err
	}
	if _, err := off.round(n/10, window); err != nil {
		return err
	}
	var ron, roff []float64
	for r := 0; r < rounds; r++ {
		for _, k := range []struct {
			p   *pair
			out *[]float64
		}{{on, &ron}, {off, &roff}} {
			v, err := k.p.round(n, window)
			if err != nil {
				return err
			}
			*k.out = append(*k.out, v)
		}
	}
	slices.Sort(ron)
	slices.Sort(roff)
	fmt.Printf("(d) room messages/s through the Redis broker (%d messages a round, %d in flight, one member on the other hub; %d rounds each, interleaved): history on median %.0f (%s), off median %.0f (%s): on/off %.2f; publishErrors on %d off %d\n",
		n, window, rounds, ron[len(ron)/2], fmtRates(ron), roff[len(roff)/2], fmtRates(roff), ron[len(ron)/2]/roff[len(roff)/2],
		on.brokers[0].Stats().PublishErrors, off.brokers[0].Stats().PublishErrors)
	return nil
}

// ---- helpers --------------------------------------------------------------

// parallel runs fn(0..n-1) with at most width at a time and returns the
// first error.
func parallel(n, width int, fn func(i int) error) error {
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(i); err != nil {
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return first
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))].Round(100 * time.Microsecond)
}

func fmtRates(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(s, ", ")
}

func nonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

// commandStats returns the calls of each command from INFO commandstats.
func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, l := range strings.Split(info, "\n") {
		l = strings.TrimSpace(l)
		name, rest, ok := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(l, "cmdstat_") {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		out[name], _ = strconv.ParseInt(calls, 10, 64)
	}
	return out, nil
}

func redisVersion(rdb *redis.Client) string {
	info, _ := rdb.Info(context.Background(), "server").Result()
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return "Redis " + v
		}
	}
	return "Redis ?"
}

// cleanup deletes every key under the run's prefixes.
func cleanup(rdb *redis.Client, prefix string) {
	ctx := context.Background()
	n := 0
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			n += len(batch)
			rdb.Del(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		n += len(batch)
		rdb.Del(ctx, batch...)
	}
	fmt.Printf("cleanup: deleted %d keys under %s*\n", n, prefix)
}
