package core_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
)

// memNet links the test brokers of several hubs in one process the way
// Redis pub/sub links hubs on many machines: a message reaches every broker
// subscribed to one of its rooms (the publisher's own included, as Redis
// echoes), every broker for All, and the broker of the hub a Conn names.
// It is the test double of the Broker seam; package redisbroker is tested
// against a real Redis.
type memNet struct {
	mu        sync.Mutex
	brokers   []*memBroker
	published atomic.Int64
}

// broker returns a new broker on the network.
func (n *memNet) broker() *memBroker {
	b := &memBroker{net: n, in: make(chan core.BrokerMessage, 1024), quit: make(chan struct{}), subs: map[string]int{}}
	n.mu.Lock()
	n.brokers = append(n.brokers, b)
	n.mu.Unlock()
	return b
}

// memBroker is one hub's broker on a memNet. Each broker delivers on its own
// goroutine, in publication order.
type memBroker struct {
	net      *memNet
	startErr error // returned by Start when set

	hubID   string
	deliver func(core.BrokerMessage)
	in      chan core.BrokerMessage
	quit    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	closed  atomic.Bool
	drops   atomic.Uint64
	recv    atomic.Uint64
	pubs    atomic.Uint64
	calls   atomic.Int64 // Subscribe and Unsubscribe calls
	mu      sync.Mutex
	subs    map[string]int // subscription calls per room, net
	started bool
}

func (b *memBroker) Start(hubID string, deliver func(core.BrokerMessage)) error {
	if b.startErr != nil {
		return b.startErr
	}
	b.mu.Lock()
	b.hubID, b.deliver, b.started = hubID, deliver, true
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			select {
			case m := <-b.in:
				b.recv.Add(1)
				b.deliver(m)
			case <-b.quit:
				return
			}
		}
	}()
	return nil
}

func (b *memBroker) Publish(_ context.Context, m core.BrokerMessage) error {
	if b.closed.Load() {
		return errors.New("memnet: broker closed")
	}
	b.pubs.Add(1)
	b.net.published.Add(1)
	b.net.mu.Lock()
	peers := slices.Clone(b.net.brokers)
	b.net.mu.Unlock()
	for _, p := range peers {
		if !p.wants(m) {
			continue
		}
		select {
		case p.in <- m:
		default:
			p.drops.Add(1)
		}
	}
	return nil
}

// wants reports whether the broker's hub subscribed to what m targets.
func (b *memBroker) wants(m core.BrokerMessage) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.started || b.closed.Load():
		return false
	case m.All:
		return true
	case m.Conn != "":
		return core.HubOf(m.Conn) == b.hubID
	}
	for _, r := range m.Rooms {
		if b.subs[r] > 0 {
			return true
		}
	}
	return false
}

func (b *memBroker) Subscribe(room string) {
	b.calls.Add(1)
	b.mu.Lock()
	b.subs[room]++
	b.mu.Unlock()
}

func (b *memBroker) Unsubscribe(room string) {
	b.calls.Add(1)
	b.mu.Lock()
	b.subs[room]--
	if b.subs[room] == 0 {
		delete(b.subs, room)
	}
	b.mu.Unlock()
}

// subscribed returns the rooms subscribed now, sorted, and fails the test
// when a room was subscribed twice or unsubscribed more than subscribed.
func (b *memBroker) subscribed(t *testing.T) []string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for r, n := range b.subs {
		if n != 1 {
			t.Fatalf("room %q has %d subscriptions, want 1", r, n)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

func (b *memBroker) Stats() core.BrokerStats {
	b.mu.Lock()
	n := len(b.subs)
	b.mu.Unlock()
	return core.BrokerStats{Published: b.pubs.Load(), Received: b.recv.Load(), Drops: b.drops.Load(), Subscriptions: n, Connected: !b.closed.Load()}
}

func (b *memBroker) Close() error {
	b.once.Do(func() {
		b.closed.Store(true)
		close(b.quit)
		b.wg.Wait()
	})
	return nil
}

// cluster is two hubs sharing a memNet.
type cluster struct {
	net    *memNet
	s1, s2 *server
	b1, b2 *memBroker
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	n := &memNet{}
	b1, b2 := n.broker(), n.broker()
	return &cluster{net: n, b1: b1, b2: b2,
		s1: newServer(t, core.Config{Broker: b1}, fanout),
		s2: newServer(t, core.Config{Broker: b2}, fanout)}
}

func TestBrokerTwoHubs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, c *cluster)
	}{
		{"room broadcast reaches both hubs, once each", func(t *testing.T, c *cluster) {
			a, b, other := dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r"), dialMember(t, c.s2, "other")
			n, err := c.s1.hub.To("r").Emit("m", "hi")
			if err != nil || n != 1 {
				t.Fatalf("Emit = %d, %v; want 1 local member", n, err)
			}
			if got := c.net.published.Load(); got != 1 {
				t.Fatalf("%d publishes for one message to a room on two hubs, want 1", got)
			}
			expectOnce(t, c.s1.hub, a, "m", "hi") // not echoed back to its own hub
			expectOnce(t, c.s1.hub, b, "m", "hi")
			fence(t, c.s1.hub, other)
			expectNone(other, "m")
		}},
		{"broadcast to all", func(t *testing.T, c *cluster) {
			a, b, d := dialMember(t, c.s1), dialMember(t, c.s2, "r"), dialMember(t, c.s2)
			if _, err := c.s2.hub.Broadcast().Emit("m", "all"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s2.hub, a, "m", "all")
			expectOnce(t, c.s2.hub, b, "m", "all")
			expectOnce(t, c.s2.hub, d, "m", "all")
		}},
		{"the sender is excluded on every hub", func(t *testing.T, c *cluster) {
			a, a2, b := dialMember(t, c.s1, "r"), dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r")
			a.Emit("chat", map[string]any{"rooms": []string{"r"}, "text": "from a"})
			expectOnce(t, c.s1.hub, b, "chat", "from a")
			expectOnce(t, c.s1.hub, a2, "chat", "from a")
			fence(t, c.s1.hub, a)
			expectNone(a, "chat")
		}},
		{"a connection's Broadcast skips it everywhere", func(t *testing.T, c *cluster) {
			a, b := dialMember(t, c.s1), dialMember(t, c.s2)
			if _, err := c.s1.hub.Conn(a.id).Broadcast().Emit("m", "others"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s1.hub, b, "m", "others")
			fence(t, c.s1.hub, a)
			expectNone(a, "m")
		}},
		{"ExceptIDs and ExceptRooms hold across hubs", func(t *testing.T, c *cluster) {
			a, b, vip, d := dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r"), dialMember(t, c.s2, "r", "vip"), dialMember(t, c.s2, "r")
			if _, err := c.s1.hub.To("r").ExceptIDs(b.id).ExceptRooms("vip").Emit("m", "some"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s1.hub, a, "m", "some")
			expectOnce(t, c.s1.hub, d, "m", "some")
			for _, m := range []member{b, vip} {
				fence(t, c.s1.hub, m)
				expectNone(m, "m")
			}
			// Except with a *Conn of this hub reaches the others as an ID.
			if _, err := c.s2.hub.Broadcast().Except(c.s2.hub.Conn(d.id)).Emit("m2", "x"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s2.hub, a, "m2", "x")
			fence(t, c.s2.hub, d)
			expectNone(d, "m2")
		}},
		{"several rooms: each connection once", func(t *testing.T, c *cluster) {
			a, b := dialMember(t, c.s1, "r1", "r2"), dialMember(t, c.s2, "r1", "r2", "r3")
			if _, err := c.s1.hub.To("r1", "r2", "r3").Emit("m", "once"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s1.hub, a, "m", "once")
			expectOnce(t, c.s1.hub, b, "m", "once")
		}},
		{"a direct send to a connection on the other hub", func(t *testing.T, c *cluster) {
			a, b, bystander := dialMember(t, c.s1), dialMember(t, c.s2, "lobby"), dialMember(t, c.s2)
			n, err := c.s1.hub.ToIDs(b.id).Emit("m", "direct")
			if err != nil || n != 0 {
				t.Fatalf("ToIDs(remote) = %d, %v; want 0 local", n, err)
			}
			expectOnce(t, c.s1.hub, b, "m", "direct")
			n, err = c.s1.hub.ToIDs(a.id, b.id, c.s1.hub.ID()+".gone", "not-an-id").Emit("m2", "both")
			if err != nil || n != 1 {
				t.Fatalf("ToIDs(local, remote) = %d, %v", n, err)
			}
			expectOnce(t, c.s1.hub, a, "m2", "both")
			expectOnce(t, c.s1.hub, b, "m2", "both")
			fence(t, c.s1.hub, bystander)
			expectNone(bystander, "m")
			// A connection in a targeted room gets the message once, not
			// once for the room and once for its ID.
			if _, err := c.s1.hub.ToIDs(b.id).To("lobby").Emit("m3", "once"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s1.hub, b, "m3", "once")
		}},
		{"Close kicks a room on both hubs", func(t *testing.T, c *cluster) {
			a, b, other := dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r"), dialMember(t, c.s2, "other")
			if _, err := c.s1.hub.To("r").Close(4000, "room closed"); err != nil {
				t.Fatal(err)
			}
			for _, m := range []member{a, b} {
				if reason := m.ExpectClose(4000); reason != "room closed" {
					t.Fatalf("reason %q", reason)
				}
			}
			if _, err := c.s1.hub.ToIDs(other.id).Close(4403, "banned"); err != nil {
				t.Fatal(err)
			}
			other.ExpectClose(4403)
		}},
		{"leave and close propagate", func(t *testing.T, c *cluster) {
			a, b, b2 := dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r", "x"), dialMember(t, c.s2, "x")
			if got := c.b2.subscribed(t); !slices.Equal(got, []string{"r", "x"}) {
				t.Fatalf("hub 2 subscribed to %v, want [r x]", got)
			}
			b.EmitWithAck("leave", []string{"r"})
			if got := c.b2.subscribed(t); !slices.Equal(got, []string{"x"}) {
				t.Fatalf("after the last local member left, hub 2 subscribed to %v, want [x]", got)
			}
			if _, err := c.s1.hub.To("r").Emit("m", "after leave"); err != nil {
				t.Fatal(err)
			}
			expectOnce(t, c.s1.hub, a, "m", "after leave")
			fence(t, c.s1.hub, b)
			expectNone(b, "m")
			b.Close()
			fence(t, c.s1.hub, b2)
			b2.Close()
			eventually(t, "hub 2 to unsubscribe as its members close", func() bool {
				return c.s2.hub.Stats().Broker.Subscriptions == 0
			})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newCluster(t))
		})
	}
}

func TestBrokerBinaryAndStats(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a, b := dialMember(t, c.s1, "r"), dialMember(t, c.s2, "r")
	if _, err := c.s1.hub.To("r").SendBinary([]byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []member{a, b} {
		if mt, data := m.ExpectMessage(); mt != core.BinaryMessage || !slices.Equal(data, []byte{1, 2, 3}) {
			t.Fatalf("got type %d %v, want binary [1 2 3]", mt, data)
		}
	}
	if _, err := c.s2.hub.To("r").Send("text"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []member{a, b} {
		if mt, data := m.ExpectMessage(); mt != core.TextMessage || string(data) != "text" {
			t.Fatalf("got type %d %q, want text", mt, data)
		}
	}
	st := c.s1.hub.Stats()
	if st.Broker == nil || st.Broker.Published != 1 || st.Broker.Subscriptions != 1 || !st.Broker.Connected {
		t.Fatalf("hub 1 Stats().Broker = %+v, want 1 published, 1 subscription", st.Broker)
	}
	if local, err := core.NewHub(core.Config{}); err != nil || local.Stats().Broker != nil {
		t.Fatalf("a hub without broker reports broker stats: %v", err)
	} else {
		_ = local.Close()
	}
}

func TestBrokerSubscriptionsFollowRooms(t *testing.T) {
	t.Parallel()
	// Members of one hub join and leave the same rooms concurrently: at the
	// end the broker is subscribed to exactly the rooms that have members,
	// each once.
	c := newCluster(t)
	var ms []member
	for range 4 {
		ms = append(ms, dialMember(t, c.s2))
	}
	for i := range 30 {
		for j, m := range ms {
			m.Emit("join", []string{"a", "b"})
			m.Emit("leave", []string{"a"})
			if i == 29 && j%2 == 0 {
				continue // these stay in b
			}
			m.Emit("leave", []string{"b"})
		}
	}
	for _, m := range ms {
		roundTrip(t, m.Client)
	}
	if got := c.b2.subscribed(t); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("subscribed to %v, want [b]", got)
	}
	for _, m := range ms {
		m.Close()
	}
	eventually(t, "every room to be unsubscribed", func() bool { return len(c.b2.subscribed(t)) == 0 })
}

func TestBrokerLifecycle(t *testing.T) {
	t.Parallel()
	refused := errors.New("no backend")
	n := &memNet{}
	bad := n.broker()
	bad.startErr = refused
	if _, err := core.NewHub(core.Config{Broker: bad}); !errors.Is(err, refused) {
		t.Fatalf("NewHub with a failing broker = %v, want it to wrap %v", err, refused)
	}

	b := n.broker()
	hub, err := core.NewHub(core.Config{Broker: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.closed.Load() {
		t.Fatal("Shutdown did not close the broker")
	}
	if err := hub.Close(); err != nil { // a second stop is harmless
		t.Fatal(err)
	}
	// A hub that has begun closing neither sends nor delivers.
	if _, err := hub.To("r").Emit("m", nil); !errors.Is(err, core.ErrHubClosed) {
		t.Fatalf("Emit after Shutdown = %v, want ErrHubClosed", err)
	}
}
