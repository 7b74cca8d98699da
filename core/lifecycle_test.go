package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	// The pong timeout leaves the reading peer time to answer on a busy
	// machine: it must not be closed too.
	s := newServer(t, core.Config{PingInterval: 20 * time.Millisecond, PongTimeout: 2 * time.Second}, chat)
	silent := wstest.Dial(t, s.url("lobby"))
	alive := wstest.Dial(t, s.url("lobby"))
	eventually(t, "both connections to register", func() bool { return s.hub.Stats().Accepted == 2 })
	// silent never reads, so it never answers a ping. alive reads (and so
	// answers pings) in the background.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := alive.Conn().ReadMessage(); err != nil {
				return
			}
		}
	}()
	eventually(t, "the silent peer to be closed", func() bool { return s.hub.Stats().Connections <= 1 })
	st := s.hub.Stats()
	if st.Timeouts != 1 || st.Connections != 1 {
		t.Fatalf("Timeouts = %d, Connections = %d; want 1 and 1: the silent peer closed, the reading one kept", st.Timeouts, st.Connections)
	}
	eventually(t, "a ping round trip", func() bool { return s.hub.Stats().PingRTT > 0 })
	for _, c := range s.hub.Connections() {
		if !c.IsAlive() || time.Since(c.LastSeen()) > time.Second {
			t.Fatalf("alive connection: IsAlive %v, LastSeen %v ago", c.IsAlive(), time.Since(c.LastSeen()))
		}
	}
	_ = silent
	alive.Abort()
	<-done
}

func TestShutdownFlushesQueued(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	clients := make([]*wstest.Client, 3)
	for i := range clients {
		clients[i] = wstest.Dial(t, s.url("lobby"))
	}
	eventually(t, "three members", func() bool { r, _ := s.hub.Room("lobby"); return r.Members == 3 })
	const n = 200
	for i := 0; i < n; i++ {
		if _, err := s.hub.To("lobby").Emit("news", i); err != nil {
			t.Fatal(err)
		}
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.hub.Shutdown(ctx)
	}()
	for _, c := range clients {
		for i := 0; i < n; i++ {
			var got int
			c.ExpectInto("news", &got)
			if got != i {
				t.Fatalf("message %d = %d: lost or reordered", i, got)
			}
		}
		c.ExpectClose(core.CloseGoingAway)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if st := s.hub.Stats(); st.Connections != 0 || st.Rooms != 0 {
		t.Fatalf("after Shutdown: %+v", st)
	}
}

func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	c := wstest.Dial(t, s.url("lobby"))
	roundTrip(t, c)
	// The client never answers the close frame: Shutdown gives up when its
	// context ends and drops the connection.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.hub.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	if n := s.hub.Stats().Connections; n != 0 {
		t.Fatalf("Connections = %d after Shutdown", n)
	}
}

func TestMultiRoomTargets(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		rooms := map[string][]string{"a": {"a"}, "b": {"b"}, "ab": {"a", "b"}}[c.Param("room")]
		if err := c.Join(rooms...); err != nil {
			return err
		}
		return c.On("shout", func(c *core.Conn, data json.RawMessage) (any, error) {
			return c.To("a", "b").Emit("shout", data)
		})
	})
	a := wstest.Dial(t, s.url("a"))
	b := wstest.Dial(t, s.url("b"))
	ab := wstest.Dial(t, s.url("ab"))
	eventually(t, "rooms to fill", func() bool { r, _ := s.hub.Room("a"); q, _ := s.hub.Room("b"); return r.Members == 2 && q.Members == 2 })

	if n, err := s.hub.To("a", "b").Emit("hello", 1); err != nil || n != 3 {
		t.Fatalf("To(a, b) reached %d (%v), want 3: each member once", n, err)
	}
	for _, c := range []*wstest.Client{a, b, ab} {
		c.Expect("hello")
		c.ExpectNoEvent("hello", 30*time.Millisecond)
	}
	// From a connection: everyone in a or b except the sender.
	if r := ab.EmitWithAck("shout", "hi"); string(r.Data) != "2" {
		t.Fatalf("shout reached %s, want 2", r.Data)
	}
	a.Expect("shout")
	b.Expect("shout")
	ab.ExpectNoEvent("shout", 30*time.Millisecond)
	if n, _ := s.hub.Broadcast().Emit("all", nil); n != 3 {
		t.Fatalf("Broadcast reached %d", n)
	}
}

func TestConcurrentRoomsAndCloses(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{SlowConsumer: core.SlowDrop}, func(c *core.Conn) error {
		return c.On("churn", func(c *core.Conn, _ json.RawMessage) (any, error) {
			for i := 0; i < 20; i++ {
				room := fmt.Sprintf("r%d", i%4)
				_ = c.Join(room)
				_, _ = c.To(room).Emit("tick", i)
				c.Leave(room)
			}
			return nil, c.Join("r0")
		})
	})
	const n = 16
	clients := make([]*wstest.Client, n)
	for i := range clients {
		clients[i] = wstest.Dial(t, s.url("x"))
	}
	eventually(t, "every client to be registered", func() bool { return s.hub.Stats().Connections == n })
	var wg, bwg sync.WaitGroup
	stop := make(chan struct{})
	bwg.Add(1)
	go func() { // broadcasts from outside, all the while
		defer bwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = s.hub.To("r0", "r1").Emit("outside", 1)
				_, _ = s.hub.Broadcast().Send("all")
				runtime.Gosched()
			}
		}
	}()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				_ = c.Conn().WriteMessage(websocket.TextMessage, []byte(`{"event":"churn"}`))
			}
			if i%2 == 0 {
				c.Abort()
			} else {
				c.Close()
			}
		}()
	}
	// Server-side closes race with the client-side ones.
	for _, c := range s.hub.Connections()[:n/2] {
		_ = c.Close(core.CloseNormal, "")
	}
	wg.Wait()
	close(stop)
	bwg.Wait()
	eventually(t, "every connection to be gone", func() bool { return s.hub.Stats().Connections == 0 })
	eventually(t, "every room to be gone", func() bool { return s.hub.Stats().Rooms == 0 })
}

// Not parallel: it counts the goroutines of the whole test process.
func TestIdleGoroutines(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	s := newServer(t, core.Config{}, chat)
	// Clients dial without reading: gorilla client connections hold no
	// goroutine, so the count below is the server's.
	const n = 1000
	base := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, _, err := websocket.DefaultDialer.Dial("ws"+s.srv.URL[4:]+"/ws/lobby", nil)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	eventually(t, "every connection to be registered", func() bool { return s.hub.Stats().Connections == n })
	// Writers exit once their queues drain; allow for ones still exiting.
	const constant = 8
	deadline := time.Now().Add(30 * time.Second)
	extra := runtime.NumGoroutine() - base
	for ; extra > n+constant; extra = runtime.NumGoroutine() - base {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections hold %d goroutines (%.3f each) after 30s, want at most 1 each plus %d", n, extra, float64(extra)/n, constant)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	t.Logf("%d idle connections: %.3f goroutines each", n, float64(extra)/n)
}
