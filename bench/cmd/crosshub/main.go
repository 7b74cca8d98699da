// Command crosshub measures what a Redis broker adds to room fan-out: the
// same room, the same offered load, first on one hub, then spread over two
// hubs (two redisbroker.Broker on their own go-redis clients, one Redis).
// It prints deliveries per second and delivery latency percentiles for
// each layout, and the p99 the second hub adds.
//
//	go run ./cmd/crosshub -redis 127.0.0.1:6379
//	go run ./cmd/crosshub -members 200 -rate 500 -duration 5s
//
// Everything runs in one process on loopback: hubs, Redis clients and the
// gorilla/websocket clients of the room. The publisher is a server-side
// hub.To(room).Emit on the first hub, each message carrying its send time;
// a client's latency is the time from that call to its read. A second
// phase sends -burst messages as fast as Publish takes them and reports
// the deliveries per second until every member has them all (or the
// timeout; losses are reported).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
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
	redisAddr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	members := flag.Int("members", 200, "room members, split evenly over the hubs")
	rate := flag.Int("rate", 200, "messages per second in the latency phase")
	duration := flag.Duration("duration", 3*time.Second, "length of the latency phase")
	burst := flag.Int("burst", 2000, "messages in the throughput phase")
	flag.Parse()
	quiet := slog.New(slog.DiscardHandler)
	fmt.Printf("room of %d members, %d msg/s for %v, then a burst of %d; GOMAXPROCS=%s\n",
		*members, *rate, *duration, *burst, os.Getenv("GOMAXPROCS"))
	var p99 [2]time.Duration
	for i, hubs := range []int{1, 2} {
		r, err := measure(*redisAddr, hubs, *members, *rate, *duration, *burst, quiet)
		if err != nil {
			log.Fatal(err)
		}
		p99[i] = r.p99
		fmt.Printf("%d hub(s): latency phase %.0f deliveries/s, p50 %v, p99 %v, lost %d | burst %.0f deliveries/s, lost %d | broker publishErrors %d drops %d\n",
			hubs, r.rateDeliveries, r.p50, r.p99, r.lost, r.burstDeliveries, r.burstLost, r.publishErrors, r.drops)
	}
	fmt.Printf("added p99 of a room spread over two hubs: %v\n", p99[1]-p99[0])
}

type result struct {
	rateDeliveries, burstDeliveries float64
	p50, p99                        time.Duration
	lost, burstLost                 int
	publishErrors, drops            uint64
}

type msg struct {
	Seq int   `json:"s"`
	T   int64 `json:"t"`
}

// member is one client of the room.
type member struct {
	ws   *websocket.Conn
	got  atomic.Int64
	mu   sync.Mutex
	lats []time.Duration
	done chan struct{}
}

func (m *member) read(record *atomic.Bool) {
	defer close(m.done)
	var env struct {
		Data msg `json:"data"`
	}
	for {
		_, b, err := m.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if json.Unmarshal(b, &env) != nil {
			continue
		}
		m.got.Add(1)
		if record.Load() {
			m.mu.Lock()
			m.lats = append(m.lats, time.Duration(now-env.Data.T))
			m.mu.Unlock()
		}
	}
}

func measure(redisAddr string, nhubs, nmembers, rate int, duration time.Duration, burst int, logger *slog.Logger) (result, error) {
	var r result
	prefix := fmt.Sprintf("crosshub-%d", time.Now().UnixNano())
	var hubs []*core.Hub
	var brokers []*redisbroker.Broker
	var members []*member
	var cleanups []func()
	defer func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}()
	for range nhubs {
		// Queues deep enough for the burst: this measures delivery, not
		// the slow-consumer policy.
		cfg := core.Config{Logger: logger, PingInterval: -1, SendQueueMessages: burst + 1024, SendQueueBytes: 64 << 20}
		if nhubs > 1 {
			rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
			cleanups = append(cleanups, func() { _ = rdb.Close() })
			b, err := redisbroker.New(rdb, redisbroker.Config{Prefix: prefix, Logger: logger})
			if err != nil {
				return r, err
			}
			cfg.Broker = b
			brokers = append(brokers, b)
		}
		hub, err := core.NewHub(cfg)
		if err != nil {
			return r, err
		}
		srv := httptest.NewServer(hub.Handler(func(c *core.Conn) error { return c.Join("room") }))
		cleanups = append(cleanups, func() { _ = hub.Close(); srv.Close() })
		hubs = append(hubs, hub)
		// Dial this hub's share of the room.
		for i := 0; i < nmembers/nhubs; i++ {
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				return r, err
			}
			members = append(members, &member{ws: ws, done: make(chan struct{})})
		}
	}
	record := &atomic.Bool{}
	for _, m := range members {
		go m.read(record)
	}
	cleanups = append(cleanups, func() {
		for _, m := range members {
			_ = m.ws.Close()
			<-m.done
		}
	})
	// Wait until every hub holds its members and the brokers subscribed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, h := range hubs {
			if info, _ := h.Room("room"); info.Members != nmembers/nhubs {
				ok = false
			}
		}
		for _, b := range brokers {
			if b.Stats().Subscriptions != 1 {
				ok = false
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("room not ready with %d hubs", nhubs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	total := nmembers / nhubs * nhubs
	send := func(seq int) {
		_, _ = hubs[0].To("room").Emit("m", msg{Seq: seq, T: time.Now().UnixNano()})
	}
	received := func() int64 {
		var n int64
		for _, m := range members {
			n += m.got.Load()
		}
		return n
	}
	settle := func(want int64) {
		deadline := time.Now().Add(10 * time.Second)
		for received() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}

	// Latency phase: a fixed rate.
	record.Store(true)
	n := int(duration.Seconds() * float64(rate))
	tick := time.NewTicker(time.Second / time.Duration(rate))
	start := time.Now()
	for i := range n {
		<-tick.C
		send(i)
	}
	tick.Stop()
	settle(int64(n * total))
	elapsed := time.Since(start)
	record.Store(false)
	got := received()
	r.rateDeliveries = float64(got) / elapsed.Seconds()
	r.lost = n*total - int(got)
	var lats []time.Duration
	for _, m := range members {
		m.mu.Lock()
		lats = append(lats, m.lats...)
		m.mu.Unlock()
	}
	slices.Sort(lats)
	if len(lats) > 0 {
		r.p50 = lats[len(lats)/2].Round(time.Microsecond)
		r.p99 = lats[len(lats)*99/100].Round(time.Microsecond)
	}

	// Throughput phase: as fast as the hub takes them.
	base := received()
	start = time.Now()
	for i := range burst {
		send(n + i)
	}
	settle(base + int64(burst*total))
	got = received() - base
	r.burstDeliveries = float64(got) / time.Since(start).Seconds()
	r.burstLost = burst*total - int(got)
	for _, b := range brokers {
		s := b.Stats()
		r.publishErrors += s.PublishErrors
		r.drops += s.Drops
	}
	return r, nil
}
