package redisbroker_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
	"github.com/rushws/rushws/wstest"
)

// node is one hub of a test cluster: its own go-redis client, broker and
// httptest server, as separate instances of an app would have.
type node struct {
	hub    *core.Hub
	broker *redisbroker.Broker
	url    string
}

// say is what the test app's events carry.
type say struct {
	Rooms []string `json:"rooms,omitempty"`
	To    string   `json:"to,omitempty"`
	Text  string   `json:"text"`
}

// app joins the rooms listed in ?rooms= and relays events:
// "room" to its rooms' other members (c.To), "hubroom" to all their members
// (hub.To), "all" to everyone else (c.Broadcast), "direct" to one
// connection ID, "leave" leaves rooms, "kick" closes a room's members with
// 4000, "id" answers the connection's ID and "echo" answers at once.
func app(c *core.Conn) error {
	if rooms := c.Request().URL.Query().Get("rooms"); rooms != "" {
		if err := c.Join(strings.Split(rooms, ",")...); err != nil {
			return err
		}
	}
	hub := c.Hub()
	handlers := map[string]func(*core.Conn, say) error{
		"room":    func(c *core.Conn, m say) error { _, err := c.To(m.Rooms...).Emit("msg", m.Text); return err },
		"hubroom": func(c *core.Conn, m say) error { _, err := hub.To(m.Rooms...).Emit("msg", m.Text); return err },
		"all":     func(c *core.Conn, m say) error { _, err := c.Broadcast().Emit("msg", m.Text); return err },
		"direct":  func(c *core.Conn, m say) error { _, err := hub.ToIDs(m.To).Emit("msg", m.Text); return err },
		"except": func(c *core.Conn, m say) error {
			_, err := hub.To(m.Rooms[0]).ExceptIDs(m.To).ExceptRooms(m.Rooms[1:]...).Emit("msg", m.Text)
			return err
		},
		"leave": func(c *core.Conn, m say) error { c.Leave(m.Rooms...); return nil },
		"kick":  func(c *core.Conn, m say) error { _, err := hub.To(m.Rooms...).Close(4000, m.Text); return err },
		"echo":  func(c *core.Conn, m say) error { return nil },
	}
	for name, fn := range handlers {
		if err := core.Handle(c, name, func(c *core.Conn, m say) (any, error) { return "ok", fn(c, m) }); err != nil {
			return err
		}
	}
	return c.On("id", func(c *core.Conn, _ json.RawMessage) (any, error) { return c.ID(), nil })
}

// startNodes starts n hubs sharing the Redis at addr on channels of their
// own prefix.
func startNodes(t *testing.T, addr string, n int, cfg redisbroker.Config) []*node {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = uniquePrefix(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	nodes := make([]*node, n)
	for i := range nodes {
		b, err := redisbroker.New(newClient(t, addr), cfg)
		if err != nil {
			t.Fatal(err)
		}
		hub, err := core.NewHub(core.Config{Broker: b, Logger: quiet, PingInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/ws", hub.Handler(app))
		srv := httptest.NewServer(mux)
		t.Cleanup(func() {
			_ = hub.Close()
			srv.Close()
		})
		nodes[i] = &node{hub: hub, broker: b, url: srv.URL + "/ws"}
	}
	return nodes
}

// join dials node n with the given rooms and waits until its broker has
// the expected number of room subscriptions.
func (n *node) join(t *testing.T, subs int, rooms ...string) *wstest.Client {
	t.Helper()
	c := wstest.Dial(t, n.url+"?rooms="+strings.Join(rooms, ","), wstest.WithTimeout(5*time.Second))
	c.EmitWithAck("echo", say{}) // the route handler has run
	waitSubscribed(t, n.broker, subs)
	return c
}

// do emits an event and waits for its ack.
func do(t *testing.T, c *wstest.Client, event string, m say) {
	t.Helper()
	if r := c.EmitWithAck(event, m); r.Err != nil {
		t.Fatalf("%s: %+v", event, r.Err)
	}
}

func expectMsg(t *testing.T, c *wstest.Client, want string) {
	t.Helper()
	var got string
	c.ExpectInto("msg", &got)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestHubsShareRooms(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, redisAddr(t), 3, redisbroker.Config{})
	a1 := nodes[0].join(t, 1, "r")
	a2 := nodes[0].join(t, 1, "r")
	b1 := nodes[1].join(t, 1, "r")
	c1 := nodes[2].join(t, 1, "other")
	quietFor := 150 * time.Millisecond

	t.Run("room broadcast excludes the sender on every hub", func(t *testing.T) {
		do(t, a1, "room", say{Rooms: []string{"r"}, Text: "hello r"})
		expectMsg(t, a2, "hello r")
		expectMsg(t, b1, "hello r")
		a1.ExpectNoEvent("msg", quietFor)
		c1.ExpectNoEvent("msg", quietFor)
	})
	t.Run("hub room broadcast reaches everyone in the room", func(t *testing.T) {
		do(t, b1, "hubroom", say{Rooms: []string{"r"}, Text: "from b"})
		for _, c := range []*wstest.Client{a1, a2, b1} {
			expectMsg(t, c, "from b")
		}
		c1.ExpectNoEvent("msg", quietFor)
	})
	t.Run("broadcast to all", func(t *testing.T) {
		do(t, c1, "all", say{Text: "everyone"})
		for _, c := range []*wstest.Client{a1, a2, b1} {
			expectMsg(t, c, "everyone")
		}
		c1.ExpectNoEvent("msg", quietFor)
	})
	var id string
	if err := json.Unmarshal(b1.EmitWithAck("id", nil).Data, &id); err != nil {
		t.Fatal(err)
	}
	t.Run("exclusions by ID and by room hold on every hub", func(t *testing.T) {
		muted := nodes[2].join(t, 3, "r", "muted")
		do(t, a1, "except", say{Rooms: []string{"r", "muted"}, To: id, Text: "not b1, not muted"})
		expectMsg(t, a1, "not b1, not muted")
		expectMsg(t, a2, "not b1, not muted")
		b1.ExpectNoEvent("msg", quietFor)
		muted.ExpectNoEvent("msg", quietFor)
		muted.Close()
		waitSubscribed(t, nodes[2].broker, 1)
	})
	t.Run("direct send to a connection on another hub", func(t *testing.T) {
		do(t, c1, "direct", say{To: id, Text: "just you"})
		expectMsg(t, b1, "just you")
		for _, c := range []*wstest.Client{a1, a2, c1} {
			c.ExpectNoEvent("msg", quietFor)
		}
	})
}

func TestHubsMultiRoomExactlyOnce(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, redisAddr(t), 3, redisbroker.Config{})
	sender := nodes[0].join(t, 0)
	both := nodes[1].join(t, 2, "r", "s")
	justS := nodes[2].join(t, 1, "s")
	do(t, sender, "hubroom", say{Rooms: []string{"r", "s"}, Text: "once"})
	expectMsg(t, both, "once")
	expectMsg(t, justS, "once")
	both.ExpectNoEvent("msg", 200*time.Millisecond)
	justS.ExpectNoEvent("msg", 50*time.Millisecond)
}

func TestHubsLeaveAndClosePropagate(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, redisAddr(t), 2, redisbroker.Config{})
	a := nodes[0].join(t, 1, "r")
	b := nodes[1].join(t, 1, "r")
	other := nodes[1].join(t, 2, "s")

	do(t, b, "leave", say{Rooms: []string{"r"}})
	waitSubscribed(t, nodes[1].broker, 1) // only "s" is left on hub 1
	do(t, a, "hubroom", say{Rooms: []string{"r"}, Text: "after leave"})
	expectMsg(t, a, "after leave")
	b.ExpectNoEvent("msg", 200*time.Millisecond)

	// Target.Close on one hub closes the room's members on the others.
	do(t, a, "kick", say{Rooms: []string{"s"}, Text: "bye"})
	if reason := other.ExpectClose(4000); reason != "bye" {
		t.Errorf("close reason %q", reason)
	}
	waitSubscribed(t, nodes[1].broker, 0)
	b.ExpectNoEvent("msg", 50*time.Millisecond)
}

func TestHubsKeepOrderPerPublisher(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, redisAddr(t), 2, redisbroker.Config{PublishTimeout: 10 * time.Second})
	a := nodes[0].join(t, 1, "r")
	b := nodes[1].join(t, 1, "r")
	const n = 300
	for i := range n {
		a.Emit("room", say{Rooms: []string{"r"}, Text: strconv.Itoa(i)})
	}
	for i := range n {
		expectMsg(t, b, strconv.Itoa(i))
	}
}

func TestHubsOnePublishPerMessage(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	nodes := startNodes(t, srv.addr(), 2, redisbroker.Config{})
	var members []*wstest.Client
	for i := range 20 {
		members = append(members, nodes[i%2].join(t, 1, "big"))
	}
	stats := newClient(t, srv.addr())
	before := commandCalls(t, stats, "publish")
	const n = 30
	for i := range n {
		do(t, members[0], "hubroom", say{Rooms: []string{"big"}, Text: strconv.Itoa(i)})
	}
	for _, c := range members {
		for i := range n {
			expectMsg(t, c, strconv.Itoa(i))
		}
	}
	calls := commandCalls(t, stats, "publish") - before
	t.Logf("%d messages to a room of %d members on 2 hubs: %d PUBLISH calls", n, len(members), calls)
	if calls != n {
		t.Errorf("PUBLISH calls = %d, want %d", calls, n)
	}
}

func TestHubsSurviveRedisRestart(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	nodes := startNodes(t, srv.addr(), 2, redisbroker.Config{})
	a1 := nodes[0].join(t, 1, "r")
	a2 := nodes[0].join(t, 1, "r")
	b := nodes[1].join(t, 1, "r")
	do(t, a1, "room", say{Rooms: []string{"r"}, Text: "before"})
	expectMsg(t, a2, "before")
	expectMsg(t, b, "before")

	srv.stop()
	eventually(t, 5*time.Second, func() bool { return !nodes[1].broker.Stats().Connected }, "hub 1 still connected")
	// Local delivery goes on; the other hub misses the message.
	do(t, a1, "room", say{Rooms: []string{"r"}, Text: "during"})
	expectMsg(t, a2, "during")
	eventually(t, 5*time.Second, func() bool { return nodes[0].hub.Stats().Broker.PublishErrors > 0 }, "publish error not in hub stats")

	srv.start()
	back := time.Now()
	for _, n := range nodes {
		eventually(t, 5*time.Second, func() bool { s := n.broker.Stats(); return s.Resubscribes == 1 && s.Connected }, "no resubscribe: %+v", n.broker.Stats())
	}
	waitSubscribed(t, nodes[1].broker, 1)
	t.Logf("both hubs resubscribed %v after Redis answered again", time.Since(back).Round(time.Millisecond))
	// The publisher's client may need a moment to dial again: send until
	// the other hub gets one.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, _ = nodes[0].hub.To("r").Emit("msg", "after")
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	expectMsg(t, b, "after")
	close(stop)
	<-done
	s := nodes[0].hub.Stats().Broker
	t.Logf("publishing hub's broker stats after the outage: %+v", *s)
	if s.LastError == "" || s.PublishErrors == 0 {
		t.Errorf("the outage is not visible in Stats().Broker: %+v", *s)
	}
}

// Not parallel: it bounds how long something takes, which tests running alongside would stretch.
func TestHubReadLoopsUnaffectedByPausedRedis(t *testing.T) {
	srv := startRedisServer(t)
	nodes := startNodes(t, srv.addr(), 2, redisbroker.Config{PublishTimeout: 50 * time.Millisecond})
	talker := nodes[0].join(t, 1, "r")
	echoer := nodes[0].join(t, 1, "r")
	_ = nodes[1].join(t, 1, "r")
	rtt := func(c *wstest.Client, event string) time.Duration {
		t0 := time.Now()
		do(t, c, event, say{Rooms: []string{"r"}, Text: "x"})
		return time.Since(t0)
	}
	var base time.Duration
	for range 20 {
		base = max(base, rtt(echoer, "echo"))
	}
	const pause = 1500 * time.Millisecond
	srv.cli("client", "pause", strconv.Itoa(int(pause/time.Millisecond)), "all")
	start := time.Now()
	var echoWorst, talkWorst time.Duration
	for time.Since(start) < pause*2/3 {
		talkWorst = max(talkWorst, rtt(talker, "room")) // publishes to Redis
		echoWorst = max(echoWorst, rtt(echoer, "echo"))
	}
	t.Logf("during a %v CLIENT PAUSE: slowest echo %v (before: %v), slowest room send %v; broker stats %+v",
		pause, echoWorst.Round(time.Microsecond), base.Round(time.Microsecond), talkWorst.Round(time.Microsecond), *nodes[0].hub.Stats().Broker)
	if echoWorst > pause/3 || talkWorst > pause/3 {
		t.Errorf("read loops waited on Redis: echo %v, room send %v", echoWorst, talkWorst)
	}
	// The messages that waited past their deadline are counted.
	eventually(t, 5*time.Second, func() bool { return nodes[0].hub.Stats().Broker.PublishErrors > 0 }, "no publish error counted for the pause")
}

// TestHubsSubscriptionsFollowChurn joins and leaves rooms from many
// goroutines on two hubs at once; when it stops, each broker is subscribed
// to exactly the rooms its hub holds, and to none once everyone has gone.
func TestHubsSubscriptionsFollowChurn(t *testing.T) {
	t.Parallel()
	nodes := startNodes(t, redisAddr(t), 2, redisbroker.Config{})
	var clients []*wstest.Client
	for _, n := range nodes {
		for range 10 {
			clients = append(clients, n.join(t, 0))
		}
	}
	rooms := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	stop := time.Now().Add(time.Second)
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for time.Now().Before(stop) {
				conns := nodes[g%2].hub.Connections()
				c := conns[rand.IntN(len(conns))]
				room := rooms[rand.IntN(len(rooms))]
				if rand.IntN(2) == 0 {
					_ = c.Join(room)
				} else {
					c.Leave(room)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	for i, n := range nodes {
		want := len(n.hub.Rooms())
		eventually(t, 5*time.Second, func() bool { return n.broker.Stats().Subscriptions == want }, "hub %d holds %d rooms, its broker is subscribed to %d", i, want, n.broker.Stats().Subscriptions)
		t.Logf("hub %d after the churn: %d rooms, %d subscriptions", i, want, n.broker.Stats().Subscriptions)
	}
	for _, c := range clients {
		c.Close()
	}
	for i, n := range nodes {
		eventually(t, 5*time.Second, func() bool { return n.broker.Stats().Subscriptions == 0 && len(n.hub.Rooms()) == 0 }, "hub %d: %d rooms, %d subscriptions after everyone left", i, len(n.hub.Rooms()), n.broker.Stats().Subscriptions)
	}
}

// TestHubsLocalOnlyUntilRedisAnswers: with AllowUnavailable, hubs start
// while Redis is down, serve their own clients, and link up once it
// answers.
func TestHubsLocalOnlyUntilRedisAnswers(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	srv.stop()
	nodes := startNodes(t, srv.addr(), 2, redisbroker.Config{AllowUnavailable: true, StartTimeout: 100 * time.Millisecond, PublishTimeout: 50 * time.Millisecond})
	c1 := wstest.Dial(t, nodes[0].url+"?rooms=r", wstest.WithTimeout(5*time.Second))
	c2 := wstest.Dial(t, nodes[0].url+"?rooms=r", wstest.WithTimeout(5*time.Second))
	c2.EmitWithAck("echo", say{}) // c2's route handler has run: it is in the room
	do(t, c1, "room", say{Rooms: []string{"r"}, Text: "local only"})
	expectMsg(t, c2, "local only")
	if s := nodes[0].hub.Stats().Broker; s.Connected {
		t.Errorf("broker connected without Redis: %+v", *s)
	}
	eventually(t, 5*time.Second, func() bool { return nodes[0].hub.Stats().Broker.PublishErrors == 1 }, "the message for other hubs was not counted as lost")

	srv.start()
	for _, n := range nodes {
		eventually(t, 5*time.Second, func() bool { return n.broker.Healthy(t.Context()) == nil }, "broker not healthy once Redis answers")
	}
	remote := nodes[1].join(t, 1, "r")
	waitSubscribed(t, nodes[0].broker, 1)
	if _, err := nodes[0].hub.To("r").Emit("msg", "linked"); err != nil {
		t.Fatal(err)
	}
	expectMsg(t, remote, "linked")
}
