package redisbroker_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

func TestOnePublishPerMessage(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	cfg := redisbroker.Config{}
	a, _ := startBroker(t, srv.addr(), hubA, cfg)
	b, recB := startBroker(t, srv.addr(), hubB, cfg)
	c, recC := startBroker(t, srv.addr(), hubC, cfg)
	b.Subscribe("room")
	c.Subscribe("room")
	waitSubscribed(t, b, 1)
	waitSubscribed(t, c, 1)
	stats := newClient(t, srv.addr())
	before := commandCalls(t, stats, "publish")
	const n = 100
	for i := range n {
		m := core.BrokerMessage{Rooms: []string{"room"}, Data: []byte(strconv.Itoa(i))}
		if i%10 == 0 {
			m.Rooms = append(m.Rooms, "other") // several rooms: still one publish
		}
		if err := a.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	recB.waitLen(t, n)
	recC.waitLen(t, n)
	calls := commandCalls(t, stats, "publish") - before
	t.Logf("%d messages to a room on 2 other hubs: %d PUBLISH calls", n, calls)
	if calls != n {
		t.Errorf("PUBLISH calls = %d, want %d (one per message)", calls, n)
	}
}

// publisher publishes sequence numbers to one room until stopped.
type publisher struct {
	sent    atomic.Int64 // Publish calls that returned nil
	stop    chan struct{}
	stopped chan struct{}
}

func startPublisher(t *testing.T, b *redisbroker.Broker, room string, every time.Duration) *publisher {
	p := &publisher{stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(p.stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			if b.Publish(context.Background(), core.BrokerMessage{Rooms: []string{room}, Data: []byte(strconv.Itoa(i))}) == nil {
				p.sent.Add(1)
			}
		}
	}()
	t.Cleanup(p.halt)
	return p
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.stopped
}

// seqs returns the sequence numbers received, checking they only grow.
func seqs(t *testing.T, msgs []core.BrokerMessage) []int {
	t.Helper()
	var out []int
	for _, m := range msgs {
		n, err := strconv.Atoi(string(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			t.Fatalf("sequence %d after %d: duplicate or reordered", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out
}

// Not parallel: it bounds how long something takes, which tests running alongside would stretch.
func TestRedisRestartMidBroadcast(t *testing.T) {
	srv := startRedisServer(t)
	cfg := redisbroker.Config{}
	a, _ := startBroker(t, srv.addr(), hubA, cfg)
	b, recB := startBroker(t, srv.addr(), hubB, cfg)
	b.Subscribe("room")
	waitSubscribed(t, b, 1)
	p := startPublisher(t, a, "room", 2*time.Millisecond)
	recB.waitLen(t, 20)

	srv.stop()
	killedAt := p.sent.Load()
	eventually(t, 5*time.Second, func() bool { return !b.Stats().Connected }, "subscriber still connected after Redis died")
	// The outage itself is what is tested: Redis stays down this long
	// while the publisher keeps going.
	time.Sleep(300 * time.Millisecond)
	srv.start()
	back := time.Now()
	eventually(t, 5*time.Second, func() bool { return b.Stats().Resubscribes == 1 && b.Stats().Subscriptions == 1 }, "no resubscribe: %+v", b.Stats())
	resub := time.Since(back)
	resubAt := p.sent.Load()
	n := recB.len()
	recB.waitLen(t, n+50) // traffic flows again
	p.halt()
	fence(t, a, recB) // every message published before it has arrived
	all := recB.all()
	got := seqs(t, all[:len(all)-1])
	sent := int(p.sent.Load())
	as, bs := a.Stats(), b.Stats()
	lost := sent - len(got)
	t.Logf("resubscribed %v after Redis answered again; sent %d, received %d, lost %d (publisher PublishErrors %d, Published %d); receiver Resubscribes %d, LastError %q",
		resub.Round(time.Millisecond), sent, len(got), lost, as.PublishErrors, as.Published, bs.Resubscribes, bs.LastError)
	if resub > time.Second {
		t.Errorf("resubscribe took %v after Redis returned, want under 1s", resub)
	}
	// Every loss falls in the outage window: between the kill (minus what
	// was in flight) and the resubscribe.
	have := make(map[int]bool, len(got))
	for _, s := range got {
		have[s] = true
	}
	for s := range sent {
		if !have[s] && (s < int(killedAt)-50 || s > int(resubAt)+50) {
			t.Errorf("message %d lost outside the outage window (%d..%d)", s, killedAt, resubAt)
		}
	}
	if lost <= 0 {
		t.Errorf("nothing lost during a 300ms outage at 500 msg/s: sent %d, received %d", sent, len(got))
	}
	if as.PublishErrors == 0 || as.LastError == "" {
		t.Errorf("the outage is not visible in the publisher's stats: %+v", as)
	}
	if bs.Resubscribes != 1 || !bs.Connected || bs.LastError == "" {
		t.Errorf("receiver stats = %+v", bs)
	}
}

func TestRedisUnreachableAtStart(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cases := []struct {
		name string
		cfg  redisbroker.Config
	}{
		{"error by default", redisbroker.Config{StartTimeout: 500 * time.Millisecond}},
		{"local until Redis answers", redisbroker.Config{StartTimeout: 500 * time.Millisecond, AllowUnavailable: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet
			b, err := redisbroker.New(newClient(t, addr), tc.cfg)
			if !tc.cfg.AllowUnavailable {
				if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "cannot connect") {
					t.Fatalf("New = %v, want an error naming %s", err, addr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if err := b.Start(hubB, func(core.BrokerMessage) {}); err != nil {
				t.Fatal(err)
			}
			if s := b.Stats(); s.Connected || s.LastError == "" {
				t.Errorf("stats while Redis is down = %+v", s)
			}
			if err := b.Healthy(context.Background()); err == nil {
				t.Error("Healthy while Redis is down")
			}
			if err := b.Publish(context.Background(), core.BrokerMessage{All: true, Data: []byte("x")}); err != nil {
				t.Errorf("Publish queues even while Redis is down: %v", err)
			}
			eventually(t, 5*time.Second, func() bool { return b.Stats().PublishErrors == 1 }, "publish error not counted: %+v", b.Stats())
		})
	}
}

func TestLocalOnlyUntilRedisComes(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	srv.stop()
	cfg := redisbroker.Config{AllowUnavailable: true, StartTimeout: 100 * time.Millisecond, Logger: quiet}
	b, recB := startBroker(t, srv.addr(), hubB, cfg)
	b.Subscribe("room")
	srv.start()
	eventually(t, 5*time.Second, func() bool { return b.Healthy(context.Background()) == nil }, "not healthy once Redis answers")
	waitSubscribed(t, b, 1)
	if s := b.Stats(); s.Resubscribes != 0 {
		t.Errorf("first connection counted as a resubscribe: %+v", s)
	}
	a, _ := startBroker(t, srv.addr(), hubA, redisbroker.Config{})
	if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	recB.waitLen(t, 1)
}

// Not parallel: it bounds how long something takes, which tests running alongside would stretch.
func TestRedisPaused(t *testing.T) {
	srv := startRedisServer(t)
	cfg := redisbroker.Config{PublishTimeout: 50 * time.Millisecond}
	a, _ := startBroker(t, srv.addr(), hubA, cfg)
	b, recB := startBroker(t, srv.addr(), hubB, cfg)
	b.Subscribe("room")
	waitSubscribed(t, b, 1)

	const pause = 1500 * time.Millisecond
	srv.cli("client", "pause", strconv.Itoa(int(pause/time.Millisecond)), "all")
	start := time.Now()
	var slowest time.Duration
	var calls int
	for time.Since(start) < pause*2/3 {
		t0 := time.Now()
		_ = a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("during")})
		slowest = max(slowest, time.Since(t0))
		calls++
		// A publisher at a steady pace during the pause is the load
		// under test, not a wait for something.
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, 5*time.Second, func() bool { return a.Stats().PublishErrors > 0 }, "no publish error counted during the pause")
	t.Logf("during a %v CLIENT PAUSE: %d Publish calls, slowest returned in %v; publisher stats %+v", pause, calls, slowest.Round(time.Microsecond), a.Stats())
	if slowest > pause/2 {
		t.Errorf("a Publish waited %v during the pause", slowest)
	}
	// After the pause, messages flow again.
	eventually(t, 5*time.Second, func() bool {
		n := recB.len()
		_ = a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("after")})
		time.Sleep(20 * time.Millisecond) // poll: give the probe time to arrive, then look
		return recB.len() > n && string(recB.all()[recB.len()-1].Data) == "after"
	}, "no delivery after the pause")
}

func TestSubscriberKilled(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	cfg := redisbroker.Config{}
	a, _ := startBroker(t, srv.addr(), hubA, cfg)
	b, recB := startBroker(t, srv.addr(), hubB, cfg)
	b.Subscribe("room")
	waitSubscribed(t, b, 1)
	killed := time.Now()
	out := srv.cli("client", "kill", "type", "pubsub")
	eventually(t, 5*time.Second, func() bool { return b.Stats().Resubscribes >= 1 && b.Stats().Subscriptions == 1 }, "no resubscribe after CLIENT KILL (%s): %+v", strings.TrimSpace(out), b.Stats())
	t.Logf("CLIENT KILL TYPE pubsub killed %s connection(s); resubscribed within %v", strings.TrimSpace(out), time.Since(killed).Round(time.Millisecond))
	if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if got := recB.waitLen(t, 1); string(got[0].Data) != "after" {
		t.Errorf("got %q", got[0].Data)
	}
}

func TestFloodIsBoundedAndCounted(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	const buffer = 1000
	a, _ := startBroker(t, srv.addr(), hubA, redisbroker.Config{})
	release := make(chan struct{})
	var delivered atomic.Int64
	var once sync.Once
	b, err := redisbroker.New(newClient(t, srv.addr()), redisbroker.Config{ReceiveBuffer: buffer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// A hub that cannot keep up: the first delivery blocks until the flood
	// is over.
	if err := b.Start(hubB, func(core.BrokerMessage) {
		once.Do(func() { <-release })
		delivered.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	b.Subscribe("room")
	waitSubscribed(t, b, 1)

	const n = 100_000
	payload := []byte(strings.Repeat("x", 100))
	for range n {
		if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: payload}); err != nil && !errors.Is(err, redisbroker.ErrPublishTimeout) {
			t.Fatal(err)
		}
	}
	as := a.Stats()
	eventually(t, 10*time.Second, func() bool { as = a.Stats(); return as.Published+as.PublishErrors == n }, "publisher did not finish: %+v", as)
	eventually(t, 10*time.Second, func() bool { return b.Stats().Received == as.Published }, "receiver got %d of %d", b.Stats().Received, as.Published)
	close(release)
	bs := b.Stats()
	eventually(t, 5*time.Second, func() bool { return uint64(delivered.Load())+bs.Drops == bs.Received }, "delivered %d + dropped %d != received %d", delivered.Load(), bs.Drops, bs.Received)
	t.Logf("flood of %d: published %d (errors %d), received %d, delivered %d, dropped %d (buffer %d)", n, as.Published, as.PublishErrors, bs.Received, delivered.Load(), bs.Drops, buffer)
	if got := delivered.Load(); got > buffer+1 {
		t.Errorf("delivered %d while the hub was stuck; the buffer holds %d", got, buffer)
	}
	if bs.Drops == 0 || !bs.Connected {
		t.Errorf("receiver stats = %+v", bs)
	}
}

func TestQueuesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	payload := []byte(strings.Repeat("x", 100))

	t.Run("receive buffer", func(t *testing.T) {
		a, _ := startBroker(t, srv.addr(), hubA, redisbroker.Config{})
		release := make(chan struct{})
		var delivered atomic.Int64
		var once sync.Once
		b, err := redisbroker.New(newClient(t, srv.addr()), redisbroker.Config{ReceiveBufferBytes: 20_000, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var unblock sync.Once
		defer unblock.Do(func() { close(release) }) // before Close, which waits for the stuck delivery
		if err := b.Start(hubB, func(core.BrokerMessage) { once.Do(func() { <-release }); delivered.Add(1) }); err != nil {
			t.Fatal(err)
		}
		b.Subscribe("room")
		waitSubscribed(t, b, 1)
		const n = 2000
		for range n {
			if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: payload}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 10*time.Second, func() bool { return b.Stats().Received == n }, "received %d of %d", b.Stats().Received, n)
		unblock.Do(func() { close(release) })
		bs := b.Stats()
		eventually(t, 5*time.Second, func() bool { return uint64(delivered.Load())+bs.Drops == n }, "delivered %d + dropped %d != %d", delivered.Load(), bs.Drops, n)
		if got := delivered.Load(); got > 20_000/100+1 {
			t.Errorf("delivered %d messages of 100 bytes through a 20000-byte buffer while the hub was stuck", got)
		}
	})

	t.Run("publish queue", func(t *testing.T) {
		a, _ := startBroker(t, srv.addr(), hubA, redisbroker.Config{PublishQueueBytes: 2_000, PublishTimeout: time.Second})
		srv.cli("client", "pause", "1000", "all") // the publisher goroutine waits on Redis
		full := 0
		for range 200 {
			err := a.Publish(context.Background(), core.BrokerMessage{All: true, Data: payload})
			if errors.Is(err, redisbroker.ErrQueueFull) {
				full++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if full == 0 || a.Stats().PublishErrors < uint64(full) {
			t.Errorf("%d of 200 publishes refused as ErrQueueFull; stats %+v", full, a.Stats())
		}
	})
}
