package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/client"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// startDemo serves the demo on httptest with its own origin allowed.
func startDemo(t *testing.T, ttl time.Duration, now func() time.Time) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	e, hub, err := newApp(Config{
		Origins:  allowedOrigins(srv.Listener.Addr(), ""),
		Key:      testKey,
		TokenTTL: ttl,
		Logger:   slog.New(slog.DiscardHandler),
		now:      now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub.Shutdown: %v", err)
		}
		srv.Close()
	})
	return srv
}

func post(t *testing.T, srv *httptest.Server, contentType, body string) (int, []byte) {
	t.Helper()
	resp, err := srv.Client().Post(srv.URL+"/api/token", contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// signIn returns a token for name from the demo's endpoint.
func signIn(t *testing.T, srv *httptest.Server, name string) string {
	t.Helper()
	status, body := post(t, srv, "application/json", fmt.Sprintf(`{"name":%q}`, name))
	if status != http.StatusOK {
		t.Fatalf("POST /api/token %q: %d %s", name, status, body)
	}
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	return r.Token
}

func dialAs(t *testing.T, srv *httptest.Server, token string) *wstest.Client {
	t.Helper()
	protos := []string{Subprotocol}
	if token != "" {
		protos = append(protos, "bearer."+token)
	}
	return wstest.Dial(t, srv.URL+"/ws", wstest.WithOrigin(srv.URL), wstest.WithSubprotocols(protos...))
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, time.Minute, nil)
	tests := []struct {
		name, contentType, body string
		status                  int
	}{
		{"ok", "application/json", `{"name":"  ada "}`, http.StatusOK},
		{"empty name", "application/json", `{"name":"   "}`, http.StatusBadRequest},
		{"long name", "application/json", `{"name":"` + strings.Repeat("x", 25) + `"}`, http.StatusBadRequest},
		{"control character", "application/json", `{"name":"a\u0007b"}`, http.StatusBadRequest},
		{"not JSON", "application/json", `name=ada`, http.StatusBadRequest},
		{"form post", "application/x-www-form-urlencoded", `name=ada`, http.StatusUnsupportedMediaType},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, srv, tt.contentType, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if status == http.StatusOK {
				var r tokenResponse
				if err := json.Unmarshal(body, &r); err != nil || r.Name != "ada" || r.Token == "" || time.Until(r.ExpiresAt) > time.Minute {
					t.Fatalf("response %s, want a token for ada valid for a minute", body)
				}
			}
		})
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, time.Minute, nil)
	ada := dialAs(t, srv, signIn(t, srv, "ada"))
	if got := string(ada.Expect("hello")); !strings.Contains(got, `"name":"ada"`) {
		t.Fatalf("hello = %s, want name ada", got)
	}
	if r := ada.EmitWithAck("join", map[string]string{"room": "lobby"}); r.Err != nil || string(r.Data) != `{"room":"lobby","members":["ada"]}` {
		t.Fatalf("join: %s %+v", r.Data, r.Err)
	}
	ada.Expect("joined")

	bob := dialAs(t, srv, signIn(t, srv, "bob"))
	bob.Expect("hello")
	r := bob.EmitWithAck("join", map[string]string{"room": "lobby"})
	if r.Err != nil || !strings.Contains(string(r.Data), `"ada"`) || !strings.Contains(string(r.Data), `"bob"`) {
		t.Fatalf("join: %s %+v, want ada and bob", r.Data, r.Err)
	}
	var p Presence
	ada.ExpectInto("joined", &p)
	if p != (Presence{Name: "bob", Room: "lobby", Members: 2}) {
		t.Fatalf("joined = %+v", p)
	}

	// Typing goes to the others only.
	bob.Emit("typing", map[string]bool{"typing": true})
	if got := string(ada.Expect("typing")); got != `{"name":"bob","room":"lobby","typing":true}` {
		t.Fatalf("typing = %s", got)
	}
	bob.ExpectNoEvent("typing", 100*time.Millisecond)

	// A chat reaches the whole room, sender included.
	bob.Emit("chat", map[string]string{"text": " hi <b>ada</b> "})
	for _, c := range []*wstest.Client{ada, bob} {
		var m Message
		c.ExpectInto("chat", &m)
		if m.Name != "bob" || m.Text != "hi <b>ada</b>" || m.Room != "lobby" || m.At.IsZero() {
			t.Fatalf("chat = %+v", m)
		}
	}
	bob.Emit("chat", map[string]string{"text": strings.Repeat("é", maxTextRunes+1)})
	bob.ExpectError(core.CodeBadRequest)

	// Moving rooms is announced to the old room.
	bob.EmitWithAck("join", map[string]string{"room": "other"})
	ada.ExpectInto("left", &p)
	if p != (Presence{Name: "bob", Room: "lobby", Members: 1}) {
		t.Fatalf("left = %+v", p)
	}
	bob.Close()
	ada.ExpectNoEvent("left", 100*time.Millisecond)
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, time.Minute, nil)
	c := dialAs(t, srv, "")
	if got := string(c.Expect("hello")); strings.Contains(got, `"name"`) {
		t.Fatalf("hello = %s, want no name", got)
	}
	if r := c.EmitWithAck("echo", "ping"); r.Err != nil || string(r.Data) != `"ping"` {
		t.Fatalf("echo: %s %+v", r.Data, r.Err)
	}
	tests := []struct {
		event string
		data  any
	}{
		{"join", map[string]string{"room": "lobby"}},
		{"chat", map[string]string{"text": "hi"}},
		{"typing", map[string]bool{"typing": true}},
	}
	for _, tt := range tests {
		t.Run(tt.event, func(t *testing.T) {
			if r := c.EmitWithAck(tt.event, tt.data); r.Err == nil || r.Err.Code != core.CodeForbidden {
				t.Fatalf("%s: %s %+v, want forbidden", tt.event, r.Data, r.Err)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	srv := startDemo(t, time.Minute, past) // tokens issued an hour ago, expired
	expired := signIn(t, srv, "ada")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("foreign origin", func(t *testing.T) {
		_, resp, err := wstest.TryDial(ctx, srv.URL+"/ws", wstest.WithOrigin("http://evil.example"), wstest.WithSubprotocols(Subprotocol))
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from a foreign origin: %v, want 403", err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		c := dialAs(t, srv, expired)
		if reason := c.ExpectClose(core.CloseUnauthorized); reason != "token expired" {
			t.Fatalf("close reason %q, want token expired", reason)
		}
	})
	t.Run("forged token", func(t *testing.T) {
		c := dialAs(t, srv, expired[:len(expired)-2]+"AA")
		if reason := c.ExpectClose(core.CloseUnauthorized); reason != "invalid token" {
			t.Fatalf("close reason %q, want invalid token", reason)
		}
	})
}

func TestPage(t *testing.T) {
	t.Parallel()
	srv := startDemo(t, time.Minute, nil)
	tests := []struct {
		path, contentType, want string
	}{
		{"/", "text/html", `src="/demo.js?v=` + client.Version() + `"`},
		{"/demo.js", "text/javascript", `from "/rushws.js?v=` + client.Version() + `"`},
		{"/rushws.js", "text/javascript", "export function connect("},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Fatalf("GET %s: %s %q", tt.path, resp.Status, resp.Header.Get("Content-Type"))
			}
			if !bytes.Contains(body, []byte(tt.want)) || bytes.Contains(body, []byte("{{")) {
				t.Fatalf("GET %s: body has no %q (or an unfilled template)", tt.path, tt.want)
			}
			if bytes.Contains(body, []byte("innerHTML")) {
				t.Fatalf("GET %s uses innerHTML; untrusted text must go through textContent", tt.path)
			}
		})
	}
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addr, extra string
		want              []string
	}{
		{"loopback", "127.0.0.1:8080", "", []string{"http://127.0.0.1:8080", "http://localhost:8080"}},
		{"any address", "0.0.0.0:9000", "", []string{"http://localhost:9000", "http://127.0.0.1:9000"}},
		{"host with extras", "10.1.2.3:80", " https://demo.example.com ,https://b.example.com", []string{"http://10.1.2.3:80", "https://demo.example.com", "https://b.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, err := net.ResolveTCPAddr("tcp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := allowedOrigins(addr, tt.extra); strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("allowedOrigins(%s, %q) = %v, want %v", tt.addr, tt.extra, got, tt.want)
			}
		})
	}
}

// Not parallel: t.Setenv changes the whole process.
func TestSigningKey(t *testing.T) {
	t.Setenv("DEMO_TEST_KEY", "short")
	if _, err := signingKey("DEMO_TEST_KEY"); err == nil || !strings.Contains(err.Error(), "DEMO_TEST_KEY holds 5 bytes") {
		t.Fatalf("short key: %v, want an error naming the variable", err)
	}
	t.Setenv("DEMO_TEST_KEY", string(testKey))
	if k, err := signingKey("DEMO_TEST_KEY"); err != nil || !bytes.Equal(k, testKey) {
		t.Fatalf("key from env: %q %v", k, err)
	}
	a, _ := signingKey("DEMO_TEST_UNSET")
	b, _ := signingKey("DEMO_TEST_UNSET")
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatal("without the variable, each call must give a fresh random 32-byte key")
	}
}

// TestRun checks what an operator relies on: oversized headers are refused,
// and the signal closes WebSockets with 1001 before run returns nil and
// the port closes.
func TestRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, sendSignal := context.WithCancel(context.Background())
	defer sendSignal()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, ln, options{TokenTTL: time.Minute}, slog.New(slog.DiscardHandler))
	}()

	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	req.Header.Set("X-Filler", strings.Repeat("x", 32<<10))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("32 KiB of headers: %s, want 431 (MaxHeaderBytes)", resp.Status)
	}

	c := wstest.Dial(t, "ws"+strings.TrimPrefix(base, "http")+"/ws", wstest.WithOrigin(base), wstest.WithSubprotocols(Subprotocol))
	c.Expect("hello")
	sendSignal()
	c.ExpectClose(core.CloseGoingAway)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after the signal: %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
		conn.Close()
		t.Error("the port still accepts connections after run returned")
	}
}

// TestProtocolFileUpToDate fails when static/protocol.d.ts is not what
// rushws-ts writes from protocol.go: run go generate ./examples/demo.
func TestProtocolFileUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/rushws-ts")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command in PATH")
	}
	out, err := exec.Command(gobin, "run", "../../cmd/rushws-ts", "-check", "-o", "static/protocol.d.ts", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
