package chattest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/wstest"
)

// NewAppFunc builds an app and its hub without listening. The handler must
// serve the page at "/", the JS client (client.Handler) at
// [chat.ClientPath], [chat.Handle] behind [chat.ValidRoom] at "/ws/:room",
// and the hub's stats and rooms at "/api/ws/stats" and "/api/ws/rooms".
// The caller owns the hub.
type NewAppFunc func(logger *slog.Logger) (http.Handler, *core.Hub, error)

// Run runs the suite as subtests of t, each against a fresh app from newApp:
// a chat in two rooms, from joining through shutdown; the same chat seen by
// a second WebSocket implementation (github.com/coder/websocket); a
// refused room name; a refused foreign origin; the page with its JS
// client; and two guests who get different names.
func Run(t *testing.T, newApp NewAppFunc) {
	t.Helper()
	t.Run("Chat", func(t *testing.T) { testChat(t, newApp) })
	t.Run("SecondImplementation", func(t *testing.T) { testCoderClient(t, newApp) })
	t.Run("InvalidRoom", func(t *testing.T) { testInvalidRoom(t, newApp) })
	t.Run("ForeignOrigin", func(t *testing.T) { testForeignOrigin(t, newApp) })
	t.Run("Page", func(t *testing.T) { testPage(t, newApp) })
	t.Run("Guests", func(t *testing.T) { testGuests(t, newApp) })
}

// startApp serves newApp on an httptest server. The hub is shut down and
// the server closed when the test ends.
func startApp(t *testing.T, newApp NewAppFunc) (*httptest.Server, *core.Hub) {
	t.Helper()
	handler, hub, err := newApp(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub.Shutdown: %v", err)
		}
		srv.Close()
	})
	return srv, hub
}

func expectPresence(t *testing.T, c *wstest.Client, event string, want chat.Presence) {
	t.Helper()
	var got chat.Presence
	c.ExpectInto(event, &got)
	if got != want {
		t.Fatalf("%s = %+v, want %+v", event, got, want)
	}
}

func expectChat(t *testing.T, c *wstest.Client, name, text string) {
	t.Helper()
	var got chat.Message
	c.ExpectInto("chat", &got)
	if got.Name != name || got.Text != text {
		t.Fatalf("chat = {name %q, text %q}, want {name %q, text %q}", got.Name, got.Text, name, text)
	}
	if got.At.IsZero() || time.Since(got.At) > time.Minute {
		t.Fatalf("chat.at = %v, want the time it was sent", got.At)
	}
}

func getJSON(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want JSON", path, ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func testChat(t *testing.T, newApp NewAppFunc) {
	srv, hub := startApp(t, newApp)

	alice := wstest.Dial(t, srv.URL+"/ws/lobby?name=alice")
	expectPresence(t, alice, "joined", chat.Presence{Name: "alice", Room: "lobby", Members: 1})

	bob := wstest.Dial(t, srv.URL+"/ws/lobby?name=%20bob%20") // trimmed
	expectPresence(t, alice, "joined", chat.Presence{Name: "bob", Room: "lobby", Members: 2})
	expectPresence(t, bob, "joined", chat.Presence{Name: "bob", Room: "lobby", Members: 2})

	other := wstest.Dial(t, srv.URL+"/ws/other") // no name: a guest
	var guest chat.Presence
	other.ExpectInto("joined", &guest)
	if !strings.HasPrefix(guest.Name, "guest-") || guest.Room != "other" || guest.Members != 1 {
		t.Fatalf("joined = %+v, want a guest alone in other", guest)
	}

	// A chat is relayed to the whole room, sender included, and acked.
	reply := alice.EmitWithAck("chat", map[string]string{"text": "  hello <b>lobby</b>  "})
	if reply.Err != nil || string(reply.Data) != `{"ok":true}` {
		t.Fatalf("ack = %s %+v, want {\"ok\":true}", reply.Data, reply.Err)
	}
	expectChat(t, alice, "alice", "hello <b>lobby</b>")
	expectChat(t, bob, "alice", "hello <b>lobby</b>")
	other.ExpectNoEvent("chat", 200*time.Millisecond)

	// Without an ack request there is no reply, only the relay.
	bob.Emit("chat", map[string]string{"text": "hi alice"})
	expectChat(t, alice, "bob", "hi alice")
	expectChat(t, bob, "bob", "hi alice")

	// Bad chats get an error and the connection stays.
	bob.Emit("chat", map[string]string{"text": "   "})
	bob.ExpectError(core.CodeBadRequest)
	bob.Emit("chat", map[string]string{"text": strings.Repeat("é", chat.MaxTextRunes+1)})
	bob.ExpectError(core.CodeBadRequest)
	bob.Emit("chat", "not an object")
	bob.ExpectError(core.CodeBadRequest)
	reply = bob.EmitWithAck("chat", map[string]int{"text": 5})
	if reply.Err == nil || reply.Err.Code != core.CodeBadRequest {
		t.Fatalf("ack for wrong data type = %s %+v, want a bad_request error", reply.Data, reply.Err)
	}
	alice.ExpectNoEvent("chat", 100*time.Millisecond)
	bob.Emit("chat", map[string]string{"text": strings.Repeat("é", chat.MaxTextRunes)})
	expectChat(t, alice, "bob", strings.Repeat("é", chat.MaxTextRunes))
	expectChat(t, bob, "bob", strings.Repeat("é", chat.MaxTextRunes))

	var stats struct {
		Connections int `json:"connections"`
		Accepted    int `json:"accepted"`
		Rooms       int `json:"rooms"`
	}
	getJSON(t, srv, "/api/ws/stats", &stats)
	if stats.Connections != 3 || stats.Accepted != 3 || stats.Rooms != 2 {
		t.Fatalf("stats = %+v, want 3 connections, 3 accepted, 2 rooms", stats)
	}
	var rooms []core.RoomInfo
	getJSON(t, srv, "/api/ws/rooms", &rooms)
	if len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[0].Members != 2 || rooms[1].Name != "other" || rooms[1].Members != 1 {
		t.Fatalf("rooms = %+v, want lobby with 2 members and other with 1", rooms)
	}

	// Leaving is announced to the room, with the members that remain.
	bob.Close()
	expectPresence(t, alice, "left", chat.Presence{Name: "bob", Room: "lobby", Members: 1})
	other.ExpectNoEvent("left", 100*time.Millisecond)

	// Shutdown closes the remaining connections with 1001, and returns once
	// the clients have answered the close frame.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	shutdown := make(chan error, 1)
	go func() { shutdown <- hub.Shutdown(ctx) }()
	alice.ExpectClose(core.CloseGoingAway)
	other.ExpectClose(core.CloseGoingAway)
	if err := <-shutdown; err != nil {
		t.Fatalf("hub.Shutdown: %v", err)
	}
	if _, resp, err := wstest.TryDial(ctx, srv.URL+"/ws/lobby"); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v, want 503", err)
	}
}

func testInvalidRoom(t *testing.T, newApp NewAppFunc) {
	srv, hub := startApp(t, newApp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := wstest.TryDial(ctx, srv.URL+"/ws/a%01b")
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("dial with a control character in the room: %v, want 400", err)
	}
	if n := hub.Stats().Rejected["bad_handshake"]; n != 1 {
		t.Fatalf("rejected bad_handshake = %d, want 1", n)
	}
}

func testForeignOrigin(t *testing.T, newApp NewAppFunc) {
	srv, _ := startApp(t, newApp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := wstest.TryDial(ctx, srv.URL+"/ws/lobby", wstest.WithOrigin("https://evil.example"))
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: %v, want 403", err)
	}
	// The page's own origin is accepted.
	c := wstest.Dial(t, srv.URL+"/ws/lobby", wstest.WithOrigin(srv.URL))
	c.Expect("joined")
}

func testPage(t *testing.T, newApp NewAppFunc) {
	srv, _ := startApp(t, newApp)
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %s %q, want 200 text/html", resp.Status, resp.Header.Get("Content-Type"))
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("GET /: X-Content-Type-Options %q, want nosniff", got)
	}
	page := string(body)
	if want := chat.ClientPath + "?v=" + client.Version(); !strings.Contains(page, want) {
		t.Errorf("page does not import the client from %s", want)
	}
	resp, err = srv.Client().Get(srv.URL + chat.ClientPath + "?v=" + client.Version())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	script, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(script, client.Script()) || resp.Header.Get("ETag") == "" {
		t.Errorf("GET %s = %s with %d bytes and ETag %q, want 200 with the client and an ETag", chat.ClientPath, resp.Status, len(script), resp.Header.Get("ETag"))
	}
	for _, id := range []string{"room", "name", "connect", "status", "messages", "text", "send"} {
		if !strings.Contains(page, `id="`+id+`"`) {
			t.Errorf("page has no element with id %q", id)
		}
	}
	if strings.Contains(page, "innerHTML") {
		t.Error("page uses innerHTML; untrusted text must go through textContent")
	}
}
