package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait; a ceiling, never an expected duration.
const waitTimeout = 10 * time.Second

// app is the example served as main serves it, on a free port.
type app struct {
	base string
	stop context.CancelFunc
	done chan error
}

func startApp(t *testing.T) *app {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key, err := signingKey("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	a := &app{base: "http://" + ln.Addr().String(), stop: stop, done: make(chan error, 1)}
	go func() { a.done <- run(ctx, ln, key, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-a.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("run did not return after the signal")
		}
	})
	return a
}

// token asks the app for a demo user's token.
func (a *app) token(t *testing.T, user string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: waitTimeout}).Get(a.base + "/api/token?user=" + user)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("token for %s: %v (status %d)", user, err, resp.StatusCode)
	}
	return out.Token
}

// dial connects as user ("" for no token), as a program would.
func (a *app) dial(t *testing.T, path, user string) *wstest.Client {
	t.Helper()
	opts := []wstest.Option{wstest.WithTimeout(waitTimeout)}
	if user != "" {
		opts = append(opts, wstest.WithHeader(http.Header{"Authorization": {"Bearer " + a.token(t, user)}}))
	}
	return wstest.Dial(t, a.base+path, opts...)
}

func (a *app) stats(t *testing.T) core.Stats {
	t.Helper()
	resp, err := (&http.Client{Timeout: waitTimeout}).Get(a.base + "/api/ws/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st core.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats %s: %v", b, err)
	}
	return st
}

// TestAdminRoute: only admins and moderators open the admin route; the
// others are closed with 4403 (4401 without a token), which a browser can
// read.
func TestAdminRoute(t *testing.T) {
	a := startApp(t)
	for _, user := range []string{"alice", "mia"} {
		c := a.dial(t, "/admin/ws/monitor", user)
		var w struct {
			User        string   `json:"user"`
			Permissions []string `json:"permissions"`
		}
		c.ExpectInto("admin-welcome", &w)
		if w.User != user || len(w.Permissions) == 0 {
			t.Errorf("%s: admin-welcome %+v", user, w)
		}
		c.Expect("admin-stats")
	}
	if reason := a.dial(t, "/admin/ws/monitor", "bob").ExpectClose(core.CloseForbidden); reason != `one of the roles "admin", "moderator" required` {
		t.Errorf("bob: close reason %q", reason)
	}
	if reason := a.dial(t, "/admin/ws/monitor", "").ExpectClose(core.CloseUnauthorized); reason != "missing token" {
		t.Errorf("no token: close reason %q", reason)
	}
}

// TestPermissions: moderating needs the "moderate" permission and
// broadcasting the "broadcast" one; bob gets forbidden for both, and
// nobody sees anything happen.
func TestPermissions(t *testing.T) {
	a := startApp(t)
	alice := a.dial(t, "/ws/chat", "alice")
	mia := a.dial(t, "/ws/chat", "mia")
	bob := a.dial(t, "/ws/chat", "bob")
	for _, c := range []*wstest.Client{alice, mia, bob} {
		c.Expect("welcome")
	}

	r := bob.EmitWithAck("chat", map[string]string{"text": "buy my stuff"})
	if r.Err != nil {
		t.Fatalf("bob's chat: %+v", r.Err)
	}
	var sent struct{ ID string }
	_ = json.Unmarshal(r.Data, &sent)
	for _, c := range []*wstest.Client{alice, mia, bob} {
		c.Expect("chat")
	}

	// bob may not moderate or broadcast: forbidden, as an ack error and as
	// an error event.
	if r := bob.EmitWithAck("moderate", map[string]string{"id": sent.ID, "action": "delete"}); r.Err == nil || r.Err.Code != core.CodeForbidden {
		t.Errorf("bob moderating: %s %+v, want forbidden", r.Data, r.Err)
	}
	bob.Emit("admin-broadcast", map[string]string{"text": "I am admin now"})
	if e := bob.ExpectError(core.CodeForbidden); e.Message != `permission "broadcast" required` {
		t.Errorf("bob broadcasting: %q", e.Message)
	}

	// mia moderates; alice broadcasts.
	if r := mia.EmitWithAck("moderate", map[string]string{"id": sent.ID, "action": "delete"}); r.Err != nil {
		t.Fatalf("mia moderating: %+v", r.Err)
	}
	// Messages to a client leave in order: had bob's requests gone
	// through, his deletion would arrive first.
	for _, c := range []*wstest.Client{alice, mia, bob} {
		var d struct{ By string }
		c.ExpectInto("message-deleted", &d)
		if d.By != "mia" {
			t.Errorf("message deleted by %q, want mia", d.By)
		}
	}
	if r := mia.EmitWithAck("admin-broadcast", map[string]string{"text": "hi"}); r.Err == nil || r.Err.Code != core.CodeForbidden {
		t.Errorf("mia broadcasting: %s %+v, want forbidden", r.Data, r.Err)
	}
	if r := alice.EmitWithAck("admin-broadcast", map[string]string{"text": "maintenance at noon"}); r.Err != nil {
		t.Fatalf("alice broadcasting: %+v", r.Err)
	}
	for _, c := range []*wstest.Client{alice, mia, bob} {
		var ann struct{ From string }
		c.ExpectInto("admin-announcement", &ann)
		if ann.From != "alice" {
			t.Errorf("announcement from %q, want alice", ann.From)
		}
	}

	if st := a.stats(t); st.EventsRefused[core.RefusePermission] != 3 {
		t.Errorf("stats: events refused %v, want permission 3", st.EventsRefused)
	}
}

// TestShutdown: on the signal, connections are closed with 1001 and run
// returns.
func TestShutdown(t *testing.T) {
	a := startApp(t)
	c := a.dial(t, "/ws/chat", "alice")
	c.Expect("welcome")
	a.stop()
	c.ExpectClose(core.CloseGoingAway)
}
