package redisbroker_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/recoverytest"
	"github.com/rushws/rushws/redisbroker"
)

func userHeader(u string) http.Header { return http.Header{"X-User": {u}} }

// recApp joins the room of the URL unless the connection recovered, and
// answers "whoami" with its ID, rooms and nick.
func recApp(c *core.Conn) error {
	if !c.Recovered() {
		c.Set("nick", "n-"+c.Param("room"))
		if err := c.Join(c.Param("room")); err != nil {
			return err
		}
	}
	return c.On("whoami", func(c *core.Conn, _ json.RawMessage) (any, error) {
		return nil, c.Emit("me", map[string]any{"id": c.ID(), "rooms": c.Rooms(), "nick": c.Get("nick")})
	})
}

// hookLog records what OnRecover saw.
type hookLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *hookLog) hook(_ *core.Conn, ok bool, reason string) {
	l.mu.Lock()
	l.seen = append(l.seen, fmt.Sprintf("%v %s", ok, reason))
	l.mu.Unlock()
}

func (l *hookLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return ""
	}
	return l.seen[len(l.seen)-1]
}

// rnode is one instance: its own Redis client, broker, hub and server.
type rnode struct {
	hub    *core.Hub
	broker *redisbroker.Broker
	ws     string // ws://host/ws/
	log    *hookLog
	addr   string // of Redis
	prefix string // of the broker's keys
}

func (n *rnode) url(room string) string { return n.ws + room }

// startRecoveryNode starts an instance with recovery on, sharing Redis at
// addr under prefix.
func startRecoveryNode(t testing.TB, addr, prefix string, rc core.RecoveryConfig) *rnode {
	t.Helper()
	b, err := redisbroker.New(newClient(t, addr), redisbroker.Config{Prefix: prefix, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n := &rnode{broker: b, log: &hookLog{}, addr: addr, prefix: prefix}
	rc.Enabled = true
	rc.OnRecover = n.log.hook
	hub, err := core.NewHub(core.Config{Broker: b, Recovery: rc, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n.hub = hub
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(recApp, recoverytest.AsUser))
	srv := httptest.NewServer(mux)
	n.ws = "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return n
}

// windowEnded waits until the recovery window of the session of token has
// ended: its key in Redis then lives for at most one more window.
func windowEnded(t testing.TB, n *rnode, token string, window time.Duration) {
	t.Helper()
	rdb := newClient(t, n.addr)
	sum := sha256.Sum256([]byte(token))
	key := n.prefix + ":s:" + hex.EncodeToString(sum[:])
	eventually(t, 2*window, func() bool {
		ttl, err := rdb.PTTL(context.Background(), key).Result()
		return err == nil && ttl <= window
	}, "the recovery window of session %s… to end", token[:min(8, len(token))])
}

// sessionSaved waits until the session of token is saved in Redis with
// room among its rooms.
func sessionSaved(t testing.TB, addr, prefix, token, room string) {
	t.Helper()
	rdb := newClient(t, addr)
	sum := sha256.Sum256([]byte(token))
	key := prefix + ":s:" + hex.EncodeToString(sum[:])
	eventually(t, 5*time.Second, func() bool {
		d, _ := rdb.HGet(context.Background(), key, "d").Result()
		var rec struct{ Rooms []string }
		return json.Unmarshal([]byte(d), &rec) == nil && slices.Contains(rec.Rooms, room)
	}, "session %s… saved with room %q", token[:min(8, len(token))], room)
}

// joined waits until the hub has n members in room and its broker has
// confirmed the room's subscription.
func (n *rnode) joined(t testing.TB, room string, members int) {
	t.Helper()
	eventually(t, 5*time.Second, func() bool {
		r, ok := n.hub.Room(room)
		return ok && r.Members == members && n.broker.Stats().Subscriptions >= 1
	}, "%d members in %q", members, room)
}

// published waits until the broker has handed n messages to Redis.
func (n *rnode) published(t testing.TB, want uint64) {
	t.Helper()
	defer func() {
		if t.Failed() { // what the broker saw instead, for the failure report
			t.Logf("broker stats: %+v; hub stats: %+v", n.broker.Stats(), n.hub.Stats())
		}
	}()
	eventually(t, 5*time.Second, func() bool { return n.broker.Stats().Published >= want }, "published %d", want)
}

func TestRecoveryAcrossInstances(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})

	c := recoverytest.Dial(t, a.url("lobby"), userHeader("alice"))
	id := c.Session.ID
	a.joined(t, "lobby", 1)
	b.hub.To("lobby").Emit("chat", 0)
	if m := c.Expect(t, "chat"); string(m.Data) != "0" || m.Pos["room:lobby"] == "" {
		t.Fatalf("live message = %s", m.Raw)
	}

	c.Drop() // no close frame
	eventually(t, 5*time.Second, func() bool { return a.hub.Len() == 0 }, "hub A notices the drop")
	base := b.broker.Stats().Published
	var want []string
	for i := 1; i <= 50; i++ {
		if _, err := b.hub.To("lobby").Emit("chat", i); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("chat:%d", i))
		if i%10 == 0 {
			b.hub.ToIDs(id).Emit("direct", i)
			want = append(want, fmt.Sprintf("direct:%d", i))
		}
	}
	b.published(t, base+55)

	n := c.Recover(t, b.url("lobby"))
	if !n.Session.Recovered || n.Session.ID != id || n.Session.Missed != 55 || n.Session.Reason != "" {
		t.Fatalf("session on B = %+v, want recovered %s with 55 missed", n.Session, id)
	}
	var got []string
	for range 55 {
		m := n.Next(t)
		got = append(got, m.Event+":"+string(m.Data))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("replay:\n%s\nwant:\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	n.Emit(t, "whoami", nil)
	me := n.Expect(t, "me")
	if !strings.Contains(string(me.Data), `"rooms":["lobby"]`) || !strings.Contains(string(me.Data), `"nick":"n-lobby"`) || !strings.Contains(string(me.Data), `"id":"`+id+`"`) {
		t.Fatalf("after recovery: %s", me.Data)
	}
	// New messages, from both instances, once each.
	a.hub.To("lobby").Emit("chat", 51)
	if m := n.Expect(t, "chat"); string(m.Data) != "51" {
		t.Fatalf("new message from A = %s", m.Raw)
	}
	a.hub.ToIDs(id).Emit("direct", "from A")
	if m := n.Expect(t, "direct"); string(m.Data) != `"from A"` {
		t.Fatalf("direct from A = %s", m.Raw)
	}
	b.hub.To("lobby").Emit("chat", 52)
	if m := n.Expect(t, "chat"); string(m.Data) != "52" {
		t.Fatalf("new message from B = %s", m.Raw)
	}
	n.ExpectNothing(t, 200*time.Millisecond)
	if b.log.last() != "true " {
		t.Fatalf("OnRecover on B saw %q", b.log.last())
	}
	if st := b.hub.Stats().Recovery; st.Recovered != 1 || st.Replayed != 55 || st.Unkept != 0 {
		t.Fatalf("B stats = %+v", st)
	}
}

func TestRecoveryAcrossInstancesNothingReceived(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("r"), userHeader("bob"))
	a.joined(t, "r", 1)
	c.Drop()
	eventually(t, 5*time.Second, func() bool { return a.hub.Len() == 0 }, "hub A notices the drop")
	n := c.Recover(t, b.url("r"))
	if !n.Session.Recovered || n.Session.Missed != 0 || n.Session.ID != c.Session.ID {
		t.Fatalf("session = %+v", n.Session)
	}
	b.hub.To("r").Emit("chat", "hi")
	if m := n.Expect(t, "chat"); string(m.Data) != `"hi"` {
		t.Fatalf("got %s", m.Raw)
	}
}

func TestRecoveryFailuresOnRedis(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	for _, tc := range []struct {
		name   string
		cfg    core.RecoveryConfig
		prep   func(t *testing.T, a, b *rnode, c *recoverytest.Client) (token, user string)
		reason string
	}{
		{"expired", core.RecoveryConfig{Window: 2 * time.Second}, func(t *testing.T, a, b *rnode, c *recoverytest.Client) (string, string) {
			// The session is reported expired from the end of the window
			// until its key's TTL (one more window) runs out: wait for the
			// former, with a window of slack before the latter.
			windowEnded(t, a, c.Token, 2*time.Second)
			return c.Token, "carol"
		}, core.RecoverExpired},
		{"too_far_behind", core.RecoveryConfig{HistorySize: 5}, func(t *testing.T, a, b *rnode, c *recoverytest.Client) (string, string) {
			base := b.broker.Stats().Published
			for i := range 10 {
				b.hub.To("r").Emit("chat", i)
			}
			b.published(t, base+10)
			return c.Token, "carol"
		}, core.RecoverTooFarBehind},
		{"forged", core.RecoveryConfig{}, func(t *testing.T, a, b *rnode, c *recoverytest.Client) (string, string) {
			return strings.Repeat("x", len(c.Token)), "carol"
		}, core.RecoverUnknown},
		{"another user", core.RecoveryConfig{}, func(t *testing.T, a, b *rnode, c *recoverytest.Client) (string, string) {
			return c.Token, "mallory"
		}, core.RecoverForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := uniquePrefix(t)
			a := startRecoveryNode(t, addr, prefix, tc.cfg)
			b := startRecoveryNode(t, addr, prefix, tc.cfg)
			c := recoverytest.Dial(t, a.url("r"), userHeader("carol"))
			a.joined(t, "r", 1)
			c.Drop()
			eventually(t, 5*time.Second, func() bool { return a.hub.Len() == 0 }, "hub A notices the drop")
			token, user := tc.prep(t, a, b, c)
			n := c.RecoverWith(t, b.url("r"), token, userHeader(user))
			checkFailed(t, b, n, c, tc.reason)
		})
	}
}

// checkFailed checks a failed recovery on node b as the client, the hook
// and the counters see it, and that the connection works as a new one.
func checkFailed(t *testing.T, b *rnode, n, old *recoverytest.Client, reason string) {
	t.Helper()
	if n.Session.Recovered || n.Session.Reason != reason || n.Session.ID == old.Session.ID || n.Session.Missed != 0 || n.Session.Token == "" {
		t.Fatalf("session = %+v, want reason %q and a new ID", n.Session, reason)
	}
	if got := b.log.last(); got != "false "+reason {
		t.Fatalf("OnRecover saw %q", got)
	}
	if st := b.hub.Stats().Recovery; st.Failed[reason] != 1 || st.Recovered != 0 {
		t.Fatalf("stats = %+v", st)
	}
	n.Emit(t, "whoami", nil)
	if me := n.Expect(t, "me"); !strings.Contains(string(me.Data), n.Session.ID) {
		t.Fatalf("whoami = %s", me.Data)
	}
}

func TestRecoveryHistoryLostAfterFlush(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, srv.addr(), prefix, core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("r"), userHeader("dan"))
	a.joined(t, "r", 1)
	a.hub.To("r").Emit("chat", 1)
	c.Expect(t, "chat")
	// Redis loses everything while the old connection is still open on A.
	srv.cli("FLUSHDB")
	n := c.Recover(t, a.url("r"))
	checkFailed(t, a, n, c, core.RecoverHistoryLost)
}

func TestRecoveryTakesOverAcrossInstances(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("r"), userHeader("erin"))
	a.joined(t, "r", 1)
	b.hub.To("r").Emit("chat", 1)
	c.Expect(t, "chat")
	eventually(t, 5*time.Second, func() bool { return b.broker.Stats().Published >= 1 }, "publish")
	sessionSaved(t, addr, prefix, c.Token, "r") // A's session goroutine has saved the room's join
	// The client "lost" its connection, but A still holds it.
	n := c.Recover(t, b.url("r"))
	if !n.Session.Recovered || n.Session.Missed != 0 {
		t.Fatalf("session = %+v", n.Session)
	}
	// A closes the old connection with 4409.
	for {
		_ = c.WS.SetReadDeadline(time.Now().Add(recoverytest.Timeout))
		_, msg, err := c.WS.ReadMessage()
		if err != nil {
			if !strings.Contains(err.Error(), "4409") {
				t.Fatalf("old connection ended with %v, want 4409", err)
			}
			break
		}
		t.Fatalf("old connection got %s", msg)
	}
	eventually(t, 5*time.Second, func() bool { return a.hub.Len() == 0 }, "A drops the old connection")
	for i := 2; i <= 4; i++ {
		a.hub.To("r").Emit("chat", i)
	}
	a.hub.ToIDs(n.Session.ID).Emit("direct", "x")
	for _, w := range []string{"chat:2", "chat:3", "chat:4", `direct:"x"`} {
		if m := n.Next(t); m.Event+":"+string(m.Data) != w {
			t.Fatalf("got %s, want %s", m.Raw, w)
		}
	}
	n.ExpectNothing(t, 200*time.Millisecond)
	if st := a.hub.Stats().Recovery; st.TakenOver != 1 {
		t.Fatalf("A stats = %+v", st)
	}
}

// childEnv makes the test binary run an instance instead of the tests.
const childEnv = "RUSHWS_RECOVERY_CHILD"

// runChild serves one instance with recovery on, on the Redis and prefix
// the environment names, prints its URL and serves until killed.
func runChild() {
	addr, prefix := os.Getenv("RUSHWS_REDIS_ADDR"), os.Getenv(childEnv)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b, err := redisbroker.New(rdb, redisbroker.Config{Prefix: prefix, Logger: quiet})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	hub, err := core.NewHub(core.Config{Broker: b, Recovery: core.RecoveryConfig{Enabled: true, Window: 4 * time.Second}, Logger: quiet})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(recApp, recoverytest.AsUser))
	srv := httptest.NewServer(mux)
	fmt.Println("ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/")
	select {}
}

func TestRecoveryAfterSIGKILL(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+prefix, "RUSHWS_REDIS_ADDR="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ws://") {
		t.Fatalf("child said %q, %v", line, err)
	}
	childURL := strings.TrimSpace(line)
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{Window: 4 * time.Second})

	c := recoverytest.Dial(t, childURL+"k", userHeader("fay"))
	c.Emit(t, "whoami", nil)
	c.Expect(t, "me")
	// Wait until the child has saved the session with its room.
	rdb := newClient(t, addr)
	sum := sha256.Sum256([]byte(c.Token))
	key := prefix + ":s:" + hex.EncodeToString(sum[:])
	eventually(t, 5*time.Second, func() bool {
		d, _ := rdb.HGet(context.Background(), key, "d").Result()
		return strings.Contains(d, `"rooms":["k"]`)
	}, "the child saves the session")
	b.hub.To("k").Emit("chat", 1)
	c.Expect(t, "chat")

	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	base := b.broker.Stats().Published
	for i := 2; i <= 6; i++ {
		b.hub.To("k").Emit("chat", i)
	}
	b.published(t, base+5)
	n := c.Recover(t, b.url("k"))
	if !n.Session.Recovered || n.Session.Missed != 5 || n.Session.ID != c.Session.ID {
		t.Fatalf("session on B = %+v", n.Session)
	}
	for i := 2; i <= 6; i++ {
		if m := n.Expect(t, "chat"); string(m.Data) != fmt.Sprint(i) {
			t.Fatalf("got %s, want chat %d", m.Raw, i)
		}
	}
	b.hub.To("k").Emit("chat", 7)
	if m := n.Expect(t, "chat"); string(m.Data) != "7" {
		t.Fatalf("got %s", m.Raw)
	}
}

// Not parallel: it bounds how long something takes, which tests running alongside would stretch.
func TestRecoveryRedisDownDeliversLocallyUnkept(t *testing.T) {
	srv := startRedisServer(t)
	a := startRecoveryNode(t, srv.addr(), uniquePrefix(t), core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("r"), userHeader("gus"))
	a.joined(t, "r", 1)
	srv.stop()
	start := time.Now()
	if _, err := a.hub.To("r").Emit("chat", "still here"); err != nil {
		t.Fatal(err)
	}
	m := c.Expect(t, "chat")
	if string(m.Data) != `"still here"` || m.Pos != nil {
		t.Fatalf("got %s, want the message without pos", m.Raw)
	}
	t.Logf("delivered after %v", time.Since(start))
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("local delivery took %v", d)
	}
	eventually(t, 5*time.Second, func() bool { return a.hub.Stats().Recovery.Unkept == 1 }, "unkept counted: %+v", a.hub.Stats().Recovery)
}

// TestRecoveryRedisCost measures, on a private Redis, the commands one
// recovery sends and the memory a kept message and a session take (run
// with -v to read the figures).
func TestRecoveryRedisCost(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, srv.addr(), prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, srv.addr(), prefix, core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("room-1"), userHeader("hal"))
	a.joined(t, "room-1", 1)
	c.Drop()
	eventually(t, 5*time.Second, func() bool { return a.hub.Len() == 0 }, "hub A notices the drop")
	payload := strings.Repeat("x", 100)
	base := a.broker.Stats().Published
	for range 10 {
		a.hub.To("room-1").Emit("chat", payload)
	}
	a.published(t, base+10)

	srv.cli("CONFIG", "RESETSTAT")
	n := c.Recover(t, b.url("room-1"))
	if !n.Session.Recovered || n.Session.Missed != 10 {
		t.Fatalf("session = %+v", n.Session)
	}
	for range 10 {
		n.Expect(t, "chat")
	}
	sessionSaved(t, srv.addr(), prefix, n.Token, "room-1") // the session goroutine saves the rejoin
	stats := srv.cli("INFO", "commandstats")
	total := 0
	var lines []string
	for _, l := range strings.Split(stats, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "cmdstat_") {
			continue
		}
		name, rest, _ := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":calls=")
		calls, _, _ := strings.Cut(rest, ",")
		lines = append(lines, name+"="+calls)
		if name != "info" && name != "config|resetstat" && name != "ping" {
			var k int
			fmt.Sscan(calls, &k)
			total += k
		}
	}
	t.Logf("commands Redis ran for one recovery (Lua inner calls included): %s", strings.Join(lines, " "))
	if evals := strings.Count(stats, "cmdstat_evalsha"); evals == 0 {
		t.Fatalf("no EVALSHA: %s", stats)
	}

	// Memory per kept message: a room stream of 1000 entries of a 100-byte
	// payload.
	base = a.broker.Stats().Published
	for range 1000 {
		a.hub.To("mem").Emit("chat", payload)
	}
	a.published(t, base+1000)
	streamKey := prefix + ":hs:r:" + "bWVt" // base64url("mem")
	used := srv.cli("MEMORY", "USAGE", streamKey, "SAMPLES", "0")
	sess := sha256.Sum256([]byte(n.Token))
	sessUsed := srv.cli("MEMORY", "USAGE", prefix+":s:"+hex.EncodeToString(sess[:]), "SAMPLES", "0")
	sessLen := srv.cli("HSTRLEN", prefix+":s:"+hex.EncodeToString(sess[:]), "d")
	entry := srv.cli("XREVRANGE", streamKey, "+", "-", "COUNT", "1")
	t.Logf("stream of 1000 kept messages (payload 100 bytes, entry message %d bytes): MEMORY USAGE %s bytes; session key: MEMORY USAGE %s bytes (record %s bytes of JSON)",
		len(entry), strings.TrimSpace(used), strings.TrimSpace(sessUsed), strings.TrimSpace(sessLen))
}

func TestRecoveryAfterRollingRestart(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	c := recoverytest.Dial(t, a.url("r"), userHeader("ivy"))
	a.joined(t, "r", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.hub.Shutdown(ctx); err != nil { // A is restarted: 1001 to its clients
		t.Fatal(err)
	}
	_ = c.WS.SetReadDeadline(time.Now().Add(recoverytest.Timeout))
	if _, _, err := c.WS.ReadMessage(); err == nil || !strings.Contains(err.Error(), "1001") {
		t.Fatalf("old connection: %v, want 1001", err)
	}
	base := b.broker.Stats().Published
	b.hub.To("r").Emit("chat", "during the restart")
	b.published(t, base+1)
	n := c.Recover(t, b.url("r"))
	if !n.Session.Recovered || n.Session.Missed != 1 || n.Session.ID != c.Session.ID {
		t.Fatalf("session on B = %+v", n.Session)
	}
	if m := n.Expect(t, "chat"); string(m.Data) != `"during the restart"` {
		t.Fatalf("got %s", m.Raw)
	}
}

// TestRecoveryFirstJoinGetsOwnRoomMessage: with recovery on, a hub's own
// members get its room messages back from Redis, so a message sent right
// after a room's first local member joined (a route handler's "joined"
// notice) must wait for the room's subscription instead of missing them.
func TestRecoveryFirstJoinGetsOwnRoomMessage(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	b, err := redisbroker.New(newClient(t, addr), redisbroker.Config{Prefix: uniquePrefix(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Broker: b, Recovery: core.RecoveryConfig{Enabled: true}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(func(c *core.Conn) error {
		if err := c.Join(c.Param("room")); err != nil {
			return err
		}
		_, err := c.Hub().To(c.Param("room")).Emit("joined", c.ID())
		return err
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	ws := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
	for i := range 20 {
		room := fmt.Sprintf("first-%d", i)
		c := recoverytest.Dial(t, ws+room, nil)
		m := c.Expect(t, "joined")
		if string(m.Data) != `"`+c.Session.ID+`"` || m.Pos["room:"+room] == "" {
			t.Fatalf("room %s: joined = %s, want this connection's ID with its position", room, m.Raw)
		}
	}
}

// TestRecoveryThousandAtOnce: a thousand clients of instance A lose their
// connections (no close frames) while both instances send to their room
// and to everyone; then all of them recover on instance B at the same
// time. Each gets every missed message once, in order per stream, before
// anything new, and nothing twice.
func TestRecoveryThousandAtOnce(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a thousand connections")
	}
	addr := redisAddr(t)
	prefix := uniquePrefix(t)
	a := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	b := startRecoveryNode(t, addr, prefix, core.RecoveryConfig{})
	const n, room = 1000, "crowd"

	clients := make([]*recoverytest.Client, n)
	for i := range clients {
		clients[i] = recoverytest.Dial(t, a.url(room), userHeader(fmt.Sprintf("u%d", i)))
	}
	a.joined(t, room, n)
	// Every client holds the room's position, and A has saved every
	// session with its room.
	a.hub.To(room).Emit("chat", 0)
	for _, c := range clients {
		c.Expect(t, "chat")
	}
	rdb := newClient(t, addr)
	eventually(t, 10*time.Second, func() bool {
		for _, c := range clients {
			sum := sha256.Sum256([]byte(c.Token))
			d, _ := rdb.HGet(context.Background(), prefix+":s:"+hex.EncodeToString(sum[:]), "d").Result()
			if !strings.Contains(d, `"rooms":["`+room+`"]`) {
				return false
			}
		}
		return true
	}, "A saves every session with its room")

	for _, c := range clients {
		c.Drop()
	}
	eventually(t, 10*time.Second, func() bool { return a.hub.Len() == 0 }, "A notices the drops")
	// 21 missed messages: 10 to the room from A, one to everyone from A,
	// 10 to the room from B.
	base := a.broker.Stats().Published
	for i := 1; i <= 10; i++ {
		a.hub.To(room).Emit("chat", i)
	}
	a.hub.Broadcast().Emit("news", "for everyone")
	a.published(t, base+11)
	base = b.broker.Stats().Published
	for i := 11; i <= 20; i++ {
		b.hub.To(room).Emit("chat", i)
	}
	b.published(t, base+10)
	const missed = 21

	// Everyone recovers on B at once.
	type result struct {
		i   int
		ws  *websocket.Conn
		err error
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for i, c := range clients {
		go func() {
			<-start
			ws, err := recoverOne(b.url(room), c, missed)
			results <- result{i, ws, err}
		}()
	}
	close(start)
	conns := make([]*websocket.Conn, n)
	failed := 0
	for range n {
		r := <-results
		conns[r.i] = r.ws
		if r.ws != nil {
			t.Cleanup(func() { _ = r.ws.Close() })
		}
		if r.err != nil {
			if failed++; failed <= 5 {
				t.Errorf("client %d: %v", r.i, r.err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d clients did not recover every missed message once, in order", failed, n)
	}
	if st := b.hub.Stats().Recovery; st.Recovered != n || st.Replayed != n*missed {
		t.Fatalf("B's recovery stats = %+v, want %d recovered and %d replayed", st, n, n*missed)
	}
	// Nothing was replayed twice: the next message is the new one.
	b.hub.To(room).Emit("chat", 21)
	for i, ws := range conns {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil || !strings.Contains(string(data), `"event":"chat","data":21,`) {
			t.Fatalf("client %d after its recovery: %s, %v; want chat 21", i, data, err)
		}
	}
}

// recoverOne reconnects c to url, presents its session and reads the
// session message and the replay: missed messages, chat 1 to 20 in order
// and news once. It is safe to call from any goroutine.
func recoverOne(url string, c *recoverytest.Client, missed int) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.Dial(url+"?rushws_recover=1", c.Header)
	if err != nil {
		return nil, err
	}
	msg, _ := json.Marshal(map[string]any{"event": "recover", "data": map[string]any{"token": c.Token, "positions": c.Positions}})
	if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		return ws, err
	}
	next := func() (recoverytest.Msg, error) {
		var m recoverytest.Msg
		_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := ws.ReadMessage()
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		m.Raw = data
		return m, err
	}
	m, err := next()
	if err != nil {
		return ws, err
	}
	var s recoverytest.Session
	if m.Event != "session" || json.Unmarshal(m.Data, &s) != nil || !s.Recovered || s.Missed != missed || s.ID != c.Session.ID {
		return ws, fmt.Errorf("session message %s, want recovered %s with %d missed", m.Raw, c.Session.ID, missed)
	}
	chat, news := 0, 0
	for range missed {
		m, err := next()
		if err != nil {
			return ws, fmt.Errorf("after chat %d: %w", chat, err)
		}
		switch m.Event {
		case "chat":
			if string(m.Data) != fmt.Sprint(chat+1) {
				return ws, fmt.Errorf("after chat %d got %s", chat, m.Raw)
			}
			chat++
		case "news":
			news++
		default:
			return ws, fmt.Errorf("replayed %s", m.Raw)
		}
	}
	if chat != 20 || news != 1 {
		return ws, fmt.Errorf("replayed %d chat and %d news, want 20 and 1", chat, news)
	}
	return ws, nil
}
