package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// fanout is the route handler of the fan-out tests: it joins the rooms
// listed in ?rooms= (comma-separated), tells the client its connection ID
// in a "hello" event, and handles "join", "leave" (both take a list of
// rooms and reply once done), "echo" and "chat" ({"rooms":[...],"text":...},
// sent to those rooms except the sender).
func fanout(c *core.Conn) error {
	if rooms := c.Request().URL.Query().Get("rooms"); rooms != "" {
		if err := c.Join(strings.Split(rooms, ",")...); err != nil {
			return err
		}
	}
	rooms := func(data json.RawMessage) []string {
		var rs []string
		_ = json.Unmarshal(data, &rs)
		return rs
	}
	_ = c.On("join", func(c *core.Conn, data json.RawMessage) (any, error) {
		if err := c.Join(rooms(data)...); err != nil {
			return err.Error(), nil
		}
		return "ok", nil
	})
	_ = c.On("echo", func(c *core.Conn, data json.RawMessage) (any, error) {
		return nil, c.Emit("echo", data)
	})
	_ = c.On("leave", func(c *core.Conn, data json.RawMessage) (any, error) {
		c.Leave(rooms(data)...)
		return "ok", nil
	})
	_ = c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
		var msg struct {
			Rooms []string `json:"rooms"`
			Text  string   `json:"text"`
		}
		if err := json.Unmarshal(data, &msg); err != nil {
			return nil, err
		}
		_, err := c.To(msg.Rooms...).Emit("chat", msg.Text)
		return nil, err
	})
	return c.Emit("hello", c.ID())
}

// member is a dialled client and the ID of its connection on the server.
type member struct {
	*wstest.Client
	id string
}

// dialMember connects a client to s, in the given rooms.
func dialMember(t *testing.T, s *server, rooms ...string) member {
	t.Helper()
	c := wstest.Dial(t, s.srv.URL+"/ws/x?rooms="+strings.Join(rooms, ","))
	var id string
	c.ExpectInto("hello", &id)
	return member{c, id}
}

// fence sends a "fence" event to m from hub and waits for it: everything
// hub sent m before has arrived by then, so expectNone can tell a message
// that was not sent from one that is late.
func fence(t *testing.T, hub *core.Hub, m member) {
	t.Helper()
	if _, err := hub.ToIDs(m.id).Emit("fence", nil); err != nil {
		t.Fatal(err)
	}
	m.Expect("fence")
}

// expectNone fails the test if m received event (after a fence).
func expectNone(m member, event string) { m.ExpectNoEvent(event, time.Millisecond) }

// expectOnce checks m got event with data want exactly once, fencing with
// hub.
func expectOnce(t *testing.T, hub *core.Hub, m member, event, want string) {
	t.Helper()
	var got string
	m.ExpectInto(event, &got)
	if got != want {
		t.Fatalf("%s: %q, want %q", event, got, want)
	}
	fence(t, hub, m)
	expectNone(m, event)
}

func TestTargetExcept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		send func(h *core.Hub, a, b, c member) (int, error)
		want []bool // whether a, b and c get the message
	}{
		{"Except a connection", func(h *core.Hub, a, b, c member) (int, error) {
			return h.To("r").Except(h.Conn(b.id)).Emit("m", "x")
		}, []bool{true, false, true}},
		{"Except several connections and nil", func(h *core.Hub, a, b, c member) (int, error) {
			return h.Broadcast().Except(h.Conn(a.id), nil).Except(h.Conn(c.id)).Emit("m", "x")
		}, []bool{false, true, false}},
		{"ExceptIDs", func(h *core.Hub, a, b, c member) (int, error) {
			return h.To("r").ExceptIDs(a.id, "no-such-id").Emit("m", "x")
		}, []bool{false, true, true}},
		{"ExceptIDs, many", func(h *core.Hub, a, b, c member) (int, error) {
			ids := []string{b.id}
			for i := range 20 {
				ids = append(ids, fmt.Sprintf("other.%d", i))
			}
			return h.To("r").ExceptIDs(ids...).Emit("m", "x")
		}, []bool{true, false, true}},
		{"ExceptRooms", func(h *core.Hub, a, b, c member) (int, error) {
			return h.Broadcast().ExceptRooms("vip").Emit("m", "x")
		}, []bool{true, false, false}},
		{"ExceptRooms of a room nobody is in", func(h *core.Hub, a, b, c member) (int, error) {
			return h.To("r").ExceptRooms("empty").Emit("m", "x")
		}, []bool{true, true, true}},
		{"from a connection, with Except", func(h *core.Hub, a, b, c member) (int, error) {
			return h.Conn(a.id).To("r").Except(h.Conn(c.id)).Emit("m", "x")
		}, []bool{false, true, false}},
		{"ToIDs with Except", func(h *core.Hub, a, b, c member) (int, error) {
			return h.ToIDs(a.id, b.id, c.id).ExceptRooms("vip").Emit("m", "x")
		}, []bool{true, false, false}},
		{"ToIDs and a room, each once", func(h *core.Hub, a, b, c member) (int, error) {
			return h.ToIDs(a.id, b.id, a.id).To("vip").Emit("m", "x")
		}, []bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, core.Config{}, fanout)
			a := dialMember(t, s, "r")
			b := dialMember(t, s, "r", "vip")
			c := dialMember(t, s, "r", "vip")
			n, err := tt.send(s.hub, a, b, c)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for i, m := range []member{a, b, c} {
				if tt.want[i] {
					want++
					expectOnce(t, s.hub, m, "m", "x")
				} else {
					fence(t, s.hub, m)
					expectNone(m, "m")
				}
			}
			if n != want {
				t.Fatalf("queued for %d, want %d", n, want)
			}
		})
	}
}

func TestTargetInvalidRooms(t *testing.T) {
	t.Parallel()
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	bad := strings.Repeat("x", 300)
	for _, target := range []core.Target{hub.To(bad), hub.Broadcast().ExceptRooms("a\nb")} {
		_, err := target.Emit("m", nil)
		if !errors.Is(err, core.ErrInvalidRoom) {
			t.Fatalf("Emit to an invalid room: %v, want ErrInvalidRoom", err)
		}
		if _, err := target.Close(4000, ""); !errors.Is(err, core.ErrInvalidRoom) {
			t.Fatalf("Close of an invalid room: %v, want ErrInvalidRoom", err)
		}
	}
	_, err = hub.To(bad).Emit("m", nil)
	if msg := err.Error(); !strings.Contains(msg, `"xxxxxxxx`) || !strings.Contains(msg, "(300 bytes)") || len(msg) > 120 {
		t.Fatalf("error %q should quote the room, cut", msg)
	}
}

func TestJoinErrorsNameTheRoom(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{MaxRoomsPerConn: 1}, fanout)
	m := dialMember(t, s, "first")
	tests := []struct {
		name  string
		rooms []string
		is    error
		want  string
	}{
		{"invalid", []string{"ok", "bad\x01room"}, core.ErrInvalidRoom, `rushws: invalid room name: "bad\x01room"`},
		{"too many", []string{"second"}, core.ErrTooManyRooms, `rushws: too many rooms: joining "second"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			r := m.EmitWithAck("join", tt.rooms)
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("Join(%q) = %q, want it to start with %q", tt.rooms, got, tt.want)
			}
		})
	}
	// errors.Is holds on what Join returns.
	c := s.hub.Conn(m.id)
	for _, tt := range tests {
		if err := c.Join(tt.rooms...); !errors.Is(err, tt.is) {
			t.Fatalf("Join(%q) = %v, want errors.Is %v", tt.rooms, err, tt.is)
		}
	}
}

func TestTargetClose(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, fanout)
	a := dialMember(t, s, "kick")
	b := dialMember(t, s, "kick", "stay")
	c := dialMember(t, s, "stay")
	u1 := dialMember(t, s)
	u2 := dialMember(t, s)

	if _, err := s.hub.To("kick").Close(999, "nope"); !errors.Is(err, core.ErrInvalidCloseCode) {
		t.Fatalf("Close(999) = %v, want ErrInvalidCloseCode", err)
	}
	n, err := s.hub.To("kick").Close(4000, "room closed")
	if err != nil || n != 2 {
		t.Fatalf("kick = %d, %v; want 2 members", n, err)
	}
	for _, m := range []member{a, b} {
		if reason := m.ExpectClose(4000); reason != "room closed" {
			t.Fatalf("reason %q, want %q", reason, "room closed")
		}
	}
	// A user's connections, by ID.
	n, err = s.hub.ToIDs(u1.id, u2.id).Close(4403, "banned")
	if err != nil || n != 2 {
		t.Fatalf("close a user's connections = %d, %v", n, err)
	}
	u1.ExpectClose(4403)
	u2.ExpectClose(4403)
	roundTrip(t, c.Client) // nobody else was touched
	eventually(t, "the kicked room to disappear", func() bool { _, ok := s.hub.Room("kick"); return !ok })
	if got := s.hub.Members("stay", 0); len(got) != 1 || got[0].ID() != c.id {
		t.Fatalf("stay members = %v, want only %s", got, c.id)
	}
}

func TestTargetEmitWithAck(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, fanout)
	a := dialMember(t, s, "q")
	b := dialMember(t, s, "q")
	silent := dialMember(t, s, "q")
	refuses := dialMember(t, s, "q")
	outside := dialMember(t, s, "elsewhere")

	type outcome struct {
		res []core.AckResult
		err error
	}
	done := make(chan outcome, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	go func() {
		res, err := s.hub.To("q").EmitWithAck(ctx, "question", "ready?")
		done <- outcome{res, err}
	}()
	var ids []uint64
	for _, m := range []member{a, b, silent, refuses} {
		ev := m.ExpectEvent("question")
		ids = append(ids, ev.Ack)
		if string(ev.Data) != `"ready?"` {
			t.Fatalf("question data %s", ev.Data)
		}
	}
	if ids[0] != ids[1] || ids[0] != ids[2] {
		t.Fatalf("ack ids %v: one shared frame should carry one id", ids)
	}
	if ids[0] >= 1<<53 {
		t.Fatalf("ack id %d is not exact in JavaScript", ids[0])
	}
	a.Ack(ids[0], "yes from a")
	b.Ack(ids[1], "yes from b")
	refuses.AckError(ids[3], core.CodeForbidden, "no")
	got := <-done
	if got.err != nil {
		t.Fatal(got.err)
	}
	if len(got.res) != 4 {
		t.Fatalf("%d results, want 4 (one per member): %+v", len(got.res), got.res)
	}
	byID := map[string]core.AckResult{}
	for _, r := range got.res {
		byID[r.ConnID] = r
	}
	for _, m := range []member{a, b} {
		r := byID[m.id]
		if r.Err != nil || !strings.HasPrefix(string(r.Data), `"yes from`) {
			t.Fatalf("reply of %s = %s, %v", m.id, r.Data, r.Err)
		}
	}
	if r := byID[silent.id]; !errors.Is(r.Err, context.DeadlineExceeded) {
		t.Fatalf("silent member: %v, want context.DeadlineExceeded", r.Err)
	}
	var ee *core.EventError
	if r := byID[refuses.id]; !errors.As(r.Err, &ee) || ee.Code != core.CodeForbidden {
		t.Fatalf("refusing member: %v, want the forbidden EventError", r.Err)
	}
	fence(t, s.hub, outside)
	expectNone(outside, "question")
	// A late reply is ignored, and the connection is fine.
	silent.Ack(ids[2], "too late")
	roundTrip(t, silent.Client)

	// No member: an empty result at once.
	res, err := s.hub.To("nobody").EmitWithAck(context.Background(), "question", nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("EmitWithAck to an empty room = %v, %v", res, err)
	}
	// A closing member answers with ErrClosed.
	go func() {
		res, err := s.hub.ToIDs(outside.id).EmitWithAck(context.Background(), "question", nil)
		done <- outcome{res, err}
	}()
	outside.ExpectEvent("question")
	outside.Close()
	if got := <-done; got.err != nil || len(got.res) != 1 || !errors.Is(got.res[0].Err, core.ErrClosed) {
		t.Fatalf("closing member: %+v, want ErrClosed", got)
	}
}

func TestTargetEmitWithAckFuncFromHandler(t *testing.T) {
	t.Parallel()
	// A handler polls its room without blocking its own read loop, and
	// reports the answers to the asker.
	poll := func(c *core.Conn) error {
		if err := fanout(c); err != nil {
			return err
		}
		return c.On("poll", func(c *core.Conn, data json.RawMessage) (any, error) {
			_, err := c.To("team").EmitWithAckFunc("vote", nil, 200*time.Millisecond, func(rs []core.AckResult) {
				var votes []string
				for _, r := range rs {
					if r.Err != nil {
						votes = append(votes, "timeout")
						continue
					}
					var v string
					_ = json.Unmarshal(r.Data, &v)
					votes = append(votes, v)
				}
				slices.Sort(votes)
				_ = c.Emit("poll-result", votes)
			})
			return nil, err
		})
	}
	s := newServer(t, core.Config{}, poll)
	asker := dialMember(t, s, "team")
	yes := dialMember(t, s, "team")
	no := dialMember(t, s, "team")
	silent := dialMember(t, s, "team")
	asker.Emit("poll", nil)
	yes.Ack(yes.ExpectEvent("vote").Ack, "yes")
	no.Ack(no.ExpectEvent("vote").Ack, "no")
	silent.ExpectEvent("vote")
	var votes []string
	asker.ExpectInto("poll-result", &votes)
	if want := []string{"no", "timeout", "yes"}; !slices.Equal(votes, want) {
		t.Fatalf("votes %q, want %q", votes, want)
	}
	fence(t, s.hub, asker)
	expectNone(asker, "vote") // the sender is not asked
	roundTrip(t, asker.Client)
}

func TestHubMembers(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, fanout)
	a := dialMember(t, s, "r")
	b := dialMember(t, s, "r")
	if got := s.hub.Members("none", 0); got != nil {
		t.Fatalf("Members of a missing room = %v, want nil", got)
	}
	ids := func(cs []*core.Conn) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID())
		}
		slices.Sort(out)
		return out
	}
	want := []string{a.id, b.id}
	slices.Sort(want)
	if got := ids(s.hub.Members("r", 0)); !slices.Equal(got, want) {
		t.Fatalf("Members = %v, want %v", got, want)
	}
	if got := s.hub.Members("r", 1); len(got) != 1 {
		t.Fatalf("Members with limit 1 = %d conns", len(got))
	}

	// Members join and leave, on their own read goroutines, while the room
	// is listed.
	const churners, rounds = 4, 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			list := s.hub.Members("r", 3)
			if len(list) > 3 {
				t.Errorf("Members(limit 3) returned %d", len(list))
				return
			}
			for _, c := range list {
				if c == nil || c.ID() == "" {
					t.Errorf("Members returned an empty connection")
					return
				}
			}
		}
	}()
	var ms []member
	for range churners {
		ms = append(ms, dialMember(t, s))
	}
	for range rounds {
		for _, m := range ms {
			m.Emit("join", []string{"r"})
			m.Emit("leave", []string{"r"})
		}
	}
	for _, m := range ms {
		roundTrip(t, m.Client) // every join and leave before it is done
	}
	close(stop)
	wg.Wait()
	if got := ids(s.hub.Members("r", 0)); !slices.Equal(got, want) {
		t.Fatalf("after churn, Members = %v, want %v", got, want)
	}
}

func TestRoomsHandler(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, fanout)
	a := dialMember(t, s, "lobby")
	dialMember(t, s, "lobby")
	dialMember(t, s, "other")
	url := newHTTPServer(t, core.RoomsHandler(s.hub))

	type room struct {
		Name    string `json:"name"`
		Members int    `json:"members"`
		Conns   []struct {
			ID    string   `json:"id"`
			Rooms []string `json:"rooms"`
		} `json:"conns"`
	}
	status, _, body := rawRequest(t, http.MethodGet, url, nil)
	var rooms []room
	if err := json.Unmarshal([]byte(body), &rooms); status != http.StatusOK || err != nil {
		t.Fatalf("GET rooms: %d %s (%v)", status, body, err)
	}
	if len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[0].Members != 2 || rooms[0].Conns != nil {
		t.Fatalf("rooms without members: %s", body)
	}

	status, _, body = rawRequest(t, http.MethodGet, url+"?members=1&limit=1", nil)
	rooms = nil
	if err := json.Unmarshal([]byte(body), &rooms); status != http.StatusOK || err != nil {
		t.Fatalf("GET rooms with members: %d %s (%v)", status, body, err)
	}
	if len(rooms[0].Conns) != 1 || rooms[0].Members != 2 || len(rooms[1].Conns) != 1 {
		t.Fatalf("members=1&limit=1: %s", body)
	}

	status, _, body = rawRequest(t, http.MethodGet, url+"?room=lobby&members=true", nil)
	var one room
	if err := json.Unmarshal([]byte(body), &one); status != http.StatusOK || err != nil {
		t.Fatalf("GET one room: %d %s (%v)", status, body, err)
	}
	found := false
	for _, c := range one.Conns {
		found = found || c.ID == a.id && slices.Equal(c.Rooms, []string{"lobby"})
	}
	if one.Name != "lobby" || len(one.Conns) != 2 || !found {
		t.Fatalf("one room with members: %s", body)
	}

	for _, tt := range []struct {
		name, query string
		status      int
		want        string
	}{
		{"missing room", "?room=nope", http.StatusNotFound, `no room \"nope\"`},
		{"bad limit", "?members=1&limit=lots", http.StatusBadRequest, `limit: \"lots\"`},
		{"limit too high", "?members=1&limit=100000", http.StatusBadRequest, "from 1 to 10000"},
		{"bad members", "?members=maybe", http.StatusBadRequest, `members: \"maybe\"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := rawRequest(t, http.MethodGet, url+tt.query, nil)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("%s: %d %s, want %d and %s", tt.query, status, body, tt.status, tt.want)
			}
		})
	}
}
