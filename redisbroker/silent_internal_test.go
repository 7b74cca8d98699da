package redisbroker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
)

// proxy forwards TCP connections to Redis until silence is called: from
// then on the connections it holds stay open but carry nothing, like a
// peer that vanished without a FIN. New connections are forwarded again.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, c) }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, up) }()
	}
}

// silence stops the traffic of every connection open now, without closing
// them: reads on the Redis side get nothing, and what the client writes is
// swallowed.
func (p *proxy) silence() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; i < len(p.conns); i += 2 {
		client, up := p.conns[i], p.conns[i+1]
		_ = up.Close() // the copies stop; the client's socket stays open
		p.wg.Add(1)
		go func() { defer p.wg.Done(); _, _ = io.Copy(io.Discard, client) }()
	}
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestSilentConnectionIsReplaced: a subscriber whose connection goes
// silent (no FIN, no RST) pings after the idle time, gets no answer, and
// replaces the connection, resubscribing everything.
func TestSilentConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	addr := os.Getenv("RUSHWS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		if os.Getenv("RUSHWS_REQUIRE_REDIS") == "1" {
			t.Fatalf("RUSHWS_REQUIRE_REDIS=1 but no Redis answers at %s: %v", addr, err)
		}
		t.Skipf("no Redis answers at %s: %v", addr, err)
	} else {
		_ = c.Close()
	}
	p := newProxy(t, addr)
	quiet := slog.New(slog.DiscardHandler)
	prefix := fmt.Sprintf("rbsilent-%d", time.Now().UnixNano())

	subClient := redis.NewClient(&redis.Options{Addr: p.ln.Addr().String(), ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer subClient.Close()
	b, err := New(subClient, Config{Prefix: prefix, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	b.idle = 100 * time.Millisecond
	got := make(chan core.BrokerMessage, 10)
	if err := b.Start("hubB", func(m core.BrokerMessage) { got <- m }); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.Subscribe("room")

	pubClient := redis.NewClient(&redis.Options{Addr: addr})
	defer pubClient.Close()
	a, err := New(pubClient, Config{Prefix: prefix, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start("hubA", func(core.BrokerMessage) {}); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "the subscription", func() bool { return b.Stats().Subscriptions == 1 })

	// A busy machine may already have replaced a connection whose PING
	// reply came late: count from here.
	before := b.Stats().Resubscribes
	p.silence()
	silenced := time.Now()
	waitFor(t, "the silent connection to be replaced and resubscribed", func() bool {
		s := b.Stats()
		return s.Resubscribes > before && s.Subscriptions == 1 && s.Connected
	})
	t.Logf("silent connection replaced and resubscribed after %v (idle %v); stats %+v", time.Since(silenced).Round(time.Millisecond), b.idle, b.Stats())
	if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Data) != "after" {
			t.Errorf("got %q", m.Data)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nothing delivered after the connection was replaced")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
