package core_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/internal/recoverytest"
	"github.com/rushws/rushws/middleware"
)

// recoveryLog records what OnRecover saw.
type recoveryLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *recoveryLog) hook(c *core.Conn, ok bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, fmt.Sprintf("%v %s", ok, reason))
}

func (l *recoveryLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return ""
	}
	return l.seen[len(l.seen)-1]
}

// recoveringChat joins the room of the URL unless the connection recovered,
// and records what its handler saw.
func recoveringChat(seen *sync.Map) core.HandlerFunc {
	return func(c *core.Conn) error {
		seen.Store(c.ID(), c.Recovered())
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
}

func wsURL(s *server, room string) string { return "ws" + strings.TrimPrefix(s.url(room), "http") }

func newRecoveryServer(t *testing.T, rc core.RecoveryConfig, log *recoveryLog, seen *sync.Map) *server {
	t.Helper()
	rc.Enabled = true
	if log != nil {
		rc.OnRecover = log.hook
	}
	return newServer(t, core.Config{Recovery: rc}, recoveringChat(seen), recoverytest.AsUser)
}

func userHeader(u string) http.Header { return http.Header{"X-User": {u}} }

func TestRecoveryMemoryReplaysMissedInOrder(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	log := &recoveryLog{}
	s := newRecoveryServer(t, core.RecoveryConfig{}, log, &seen)
	c := recoverytest.Dial(t, wsURL(s, "lobby"), userHeader("alice"))
	if c.Session.Recovered || c.Session.Reason != "" || c.Session.Missed != 0 {
		t.Fatalf("first session = %+v", c.Session)
	}
	for _, k := range []string{"conn", "all"} {
		if c.Positions[k] == "" {
			t.Fatalf("no position for %q at connect: %v", k, c.Positions)
		}
	}
	id := c.Session.ID
	eventually(t, "the join", func() bool { r, ok := s.hub.Room("lobby"); return ok && r.Members == 1 })
	s.hub.To("lobby").Emit("chat", 0)
	if m := c.Expect(t, "chat"); string(m.Data) != "0" || m.Pos["room:lobby"] == "" {
		t.Fatalf("live message = %s", m.Raw)
	}
	c.Drop()
	for i := 1; i <= 10; i++ {
		if _, err := s.hub.To("lobby").Emit("chat", i); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			s.hub.ToIDs(id).Emit("direct", i)
		}
	}
	s.hub.Broadcast().Emit("news", "all")
	s.hub.To("lobby").Volatile().Emit("typing", "x") // not kept
	n := c.Recover(t, wsURL(s, "lobby"))
	if !n.Session.Recovered || n.Session.ID != id || n.Session.Missed != 14 || n.Session.Token == c.Token {
		t.Fatalf("recovered session = %+v (id %s)", n.Session, id)
	}
	var got []string
	for range n.Session.Missed {
		m := n.Next(t)
		got = append(got, m.Event+":"+string(m.Data))
	}
	want := "chat:1 chat:2 chat:3 direct:3 chat:4 chat:5 chat:6 direct:6 chat:7 chat:8 chat:9 direct:9 chat:10 news:\"all\""
	if strings.Join(got, " ") != want {
		t.Fatalf("replay =\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	n.Emit(t, "whoami", nil)
	me := n.Expect(t, "me")
	if !strings.Contains(string(me.Data), `"rooms":["lobby"]`) || !strings.Contains(string(me.Data), `"nick":"n-lobby"`) || !strings.Contains(string(me.Data), id) {
		t.Fatalf("after recovery: %s", me.Data)
	}
	eventually(t, "the route handler", func() bool { r, _ := seen.Load(id); return r == true })
	s.hub.To("lobby").Emit("chat", 11)
	if m := n.Expect(t, "chat"); string(m.Data) != "11" {
		t.Fatalf("new message = %s", m.Raw)
	}
	if log.last() != "true " {
		t.Fatalf("OnRecover saw %q", log.last())
	}
	st := s.hub.Stats().Recovery
	if st == nil || st.Recovered != 1 || st.Replayed != 14 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRecoveryNothingReceivedBeforeDrop(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	s := newRecoveryServer(t, core.RecoveryConfig{}, nil, &seen)
	c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("bob"))
	c.Drop()
	n := c.Recover(t, wsURL(s, "r"))
	if !n.Session.Recovered || n.Session.Missed != 0 || n.Session.ID != c.Session.ID {
		t.Fatalf("session = %+v", n.Session)
	}
}

func TestRecoveryFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cfg    core.RecoveryConfig
		prep   func(t *testing.T, s *server, c *recoverytest.Client) (token string, user string)
		reason string
	}{
		{"expired", core.RecoveryConfig{Window: time.Second}, func(t *testing.T, s *server, c *recoverytest.Client) (string, string) {
			eventually(t, "the drop", func() bool { return s.hub.Len() == 0 })
			// The window passing is what is tested; the session store
			// marks its expiry by no event a test could wait on. The
			// session is reported expired from the end of the window
			// for one more window (then unknown): the middle of that,
			// with half a window of slack either side for a busy machine.
			time.Sleep(1500 * time.Millisecond)
			return c.Token, "carol"
		}, core.RecoverExpired},
		{"too_far_behind", core.RecoveryConfig{HistorySize: 3}, func(t *testing.T, s *server, c *recoverytest.Client) (string, string) {
			for i := range 5 {
				s.hub.To("r").Emit("chat", i)
			}
			return c.Token, "carol"
		}, core.RecoverTooFarBehind},
		{"forged", core.RecoveryConfig{}, func(t *testing.T, s *server, c *recoverytest.Client) (string, string) {
			return strings.Repeat("A", len(c.Token)), "carol"
		}, core.RecoverUnknown},
		{"malformed", core.RecoveryConfig{}, func(t *testing.T, s *server, c *recoverytest.Client) (string, string) {
			return "not-a-token", "carol"
		}, core.RecoverUnknown},
		{"another user", core.RecoveryConfig{}, func(t *testing.T, s *server, c *recoverytest.Client) (string, string) {
			return c.Token, "mallory"
		}, core.RecoverForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen sync.Map
			log := &recoveryLog{}
			s := newRecoveryServer(t, tc.cfg, log, &seen)
			c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("carol"))
			eventually(t, "the join", func() bool { r, ok := s.hub.Room("r"); return ok && r.Members == 1 })
			c.Drop()
			token, user := tc.prep(t, s, c)
			n := c.RecoverWith(t, wsURL(s, "r"), token, userHeader(user))
			if n.Session.Recovered || n.Session.Reason != tc.reason || n.Session.ID == c.Session.ID || n.Session.Missed != 0 {
				t.Fatalf("session = %+v, want reason %q and a new ID", n.Session, tc.reason)
			}
			if got := log.last(); got != "false "+tc.reason {
				t.Fatalf("OnRecover saw %q", got)
			}
			eventually(t, "the route handler", func() bool { r, ok := seen.Load(n.Session.ID); return ok && r == false })
			st := s.hub.Stats().Recovery
			if st.Failed[tc.reason] != 1 || st.Recovered != 0 {
				t.Fatalf("stats = %+v", st)
			}
			// It continues as a new connection: in its room, with new messages.
			eventually(t, "the join", func() bool { r, ok := s.hub.Room("r"); return ok && r.Members == 1 })
			s.hub.To("r").Emit("chat", "fresh")
			if m := n.Expect(t, "chat"); string(m.Data) != `"fresh"` {
				t.Fatalf("got %s", m.Raw)
			}
		})
	}
}

func TestRecoveryForbiddenKeepsTheSession(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	s := newRecoveryServer(t, core.RecoveryConfig{}, nil, &seen)
	c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("dave"))
	c.Drop()
	if n := c.RecoverWith(t, wsURL(s, "r"), c.Token, userHeader("eve")); n.Session.Reason != core.RecoverForbidden {
		t.Fatalf("eve: %+v", n.Session)
	}
	if n := c.Recover(t, wsURL(s, "r")); !n.Session.Recovered {
		t.Fatalf("dave after eve's attempt: %+v", n.Session)
	}
}

func TestRecoveryTakesOverALiveConnection(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	s := newRecoveryServer(t, core.RecoveryConfig{}, nil, &seen)
	c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("frank"))
	eventually(t, "the join", func() bool { r, ok := s.hub.Room("r"); return ok && r.Members == 1 })
	s.hub.To("r").Emit("chat", 1)
	c.Expect(t, "chat")
	s.hub.To("r").Emit("chat", 2) // not read on the old connection: the client "lost" it
	// The old connection is still open on the server.
	n := c.Recover(t, wsURL(s, "r"))
	if !n.Session.Recovered || n.Session.Missed != 1 {
		t.Fatalf("session = %+v", n.Session)
	}
	if m := n.Expect(t, "chat"); string(m.Data) != "2" {
		t.Fatalf("replay = %s", m.Raw)
	}
	// The old connection was closed with 4409, after what it had queued.
	for {
		_ = c.WS.SetReadDeadline(time.Now().Add(recoverytest.Timeout))
		_, b, err := c.WS.ReadMessage()
		if err != nil {
			if !strings.Contains(err.Error(), "4409") {
				t.Fatalf("old connection ended with %v, want 4409", err)
			}
			break
		}
		if strings.Contains(string(b), `"data":3`) {
			t.Fatalf("old connection got a message sent after the takeover: %s", b)
		}
	}
	eventually(t, "one connection", func() bool { return s.hub.Len() == 1 })
	s.hub.To("r").Emit("chat", 3)
	if m := n.Expect(t, "chat"); string(m.Data) != "3" {
		t.Fatalf("new message = %s", m.Raw)
	}
	n.ExpectNothing(t, 100*time.Millisecond)
	if r, _ := s.hub.Room("r"); r.Members != 1 {
		t.Fatalf("room has %d members", r.Members)
	}
	if st := s.hub.Stats().Recovery; st.TakenOver != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRecoveryNonRecoverFirstMessageIsHandled(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	log := &recoveryLog{}
	s := newRecoveryServer(t, core.RecoveryConfig{}, log, &seen)
	c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("gina"))
	c.Drop()
	// A first message that is not a recover message: reason unknown, and the
	// message is handled once the route handler has run.
	ws := dialFirst(t, wsURL(s, "r")+"?rushws_recover=1", userHeader("gina"), `{"event":"whoami"}`)
	var sess struct {
		Event string
		Data  recoverytest.Session
	}
	if err := ws.ReadJSON(&sess); err != nil || sess.Event != "session" || sess.Data.Reason != core.RecoverUnknown {
		t.Fatalf("session = %+v, %v", sess, err)
	}
	var me struct{ Event string }
	if err := ws.ReadJSON(&me); err != nil || me.Event != "me" {
		t.Fatalf("reply to the first message = %+v, %v", me, err)
	}
}

func TestRecoveryOffByDefault(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	ws := dialFirst(t, wsURL(s, "r"), nil, `{"event":"echo","data":1}`)
	var m struct{ Event string }
	if err := ws.ReadJSON(&m); err != nil || m.Event != "echo" {
		t.Fatalf("first message = %+v, %v", m, err)
	}
	if s.hub.Stats().Recovery != nil {
		t.Fatal("recovery stats on a hub without recovery")
	}
}

// dialFirst dials with gorilla and sends first.
func dialFirst(t *testing.T, url string, h http.Header, first string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(first)); err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestRecoveryNoSessionForAConnectionMiddlewareClosed(t *testing.T) {
	t.Parallel()
	closing := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			_ = c.Close(4401, "token expired")
			return next(c)
		}
	}
	s := newServer(t, core.Config{Recovery: core.RecoveryConfig{Enabled: true}}, chat, closing)
	ws, _, err := websocket.DefaultDialer.Dial(wsURL(s, "r")+"?rushws_recover=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	if err == nil || !strings.Contains(err.Error(), "4401") {
		t.Fatalf("got %s, %v; want close 4401 and no session message", b, err)
	}
}

// TestRecoveryWithTheJWTMiddleware checks the default identity against the
// real JWT middleware: a session belongs to its token's subject, and
// another subject's token gets forbidden.
func TestRecoveryWithTheJWTMiddleware(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	mw, err := middleware.JWT(middleware.JWTConfig{SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(sub string) http.Header {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
			Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Authorization": {"Bearer " + tok}}
	}
	var seen sync.Map
	log := &recoveryLog{}
	s := newServer(t, core.Config{Recovery: core.RecoveryConfig{Enabled: true, OnRecover: log.hook}}, recoveringChat(&seen), mw)
	c := recoverytest.Dial(t, wsURL(s, "r"), bearer("alice"))
	eventually(t, "the join", func() bool { r, ok := s.hub.Room("r"); return ok && r.Members == 1 })
	c.Drop()
	if n := c.RecoverWith(t, wsURL(s, "r"), c.Token, bearer("bob")); n.Session.Reason != core.RecoverForbidden {
		t.Fatalf("bob: %+v", n.Session)
	}
	if n := c.RecoverWith(t, wsURL(s, "r"), c.Token, bearer("alice")); !n.Session.Recovered || n.Session.ID != c.Session.ID {
		t.Fatalf("alice: %+v", n.Session)
	}
	if got := log.last(); got != "true " {
		t.Fatalf("OnRecover saw %q", got)
	}
	if st := s.hub.Stats().Recovery; st.Failed[core.RecoverForbidden] != 1 || st.Recovered != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRecoveryTokenWorksOnce(t *testing.T) {
	t.Parallel()
	var seen sync.Map
	s := newRecoveryServer(t, core.RecoveryConfig{}, nil, &seen)
	c := recoverytest.Dial(t, wsURL(s, "r"), userHeader("hank"))
	eventually(t, "the join", func() bool { r, ok := s.hub.Room("r"); return ok && r.Members == 1 })
	n := c.Recover(t, wsURL(s, "r")) // the old connection is still open: taken over
	if !n.Session.Recovered {
		t.Fatalf("first recovery: %+v", n.Session)
	}
	again := c.Recover(t, wsURL(s, "r")) // the same, spent, token
	if again.Session.Recovered || again.Session.Reason != core.RecoverUnknown {
		t.Fatalf("second recovery with the same token: %+v", again.Session)
	}
	// The first recovered connection is untouched.
	n.Emit(t, "whoami", nil)
	if me := n.Expect(t, "me"); !strings.Contains(string(me.Data), c.Session.ID) {
		t.Fatalf("whoami = %s", me.Data)
	}
}
