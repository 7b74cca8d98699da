package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echo5ws"
	"github.com/rushws/rushws/echows"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	goleak.VerifyTestMain(m)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// adapter mounts a route the way an Echo or a Gin user does, with the
// framework's trusted-proxy setting trusting loopback, so tests choose the
// client IP with X-Forwarded-For like a trusted reverse proxy would.
type adapter struct {
	name  string
	mount func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler
}

var adapters = []adapter{
	{"echo", func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler {
		e := echo.New()
		e.IPExtractor = echo.ExtractIPFromXFFHeader() // trusts loopback and private ranges
		e.GET("/ws", echows.Handler(hub, fn, mw...))
		return e
	}},
	{"echo5", func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler {
		e := echo5.New()
		e.Logger = slog.New(slog.DiscardHandler)
		e.IPExtractor = echo5.ExtractIPFromXFFHeader() // trusts loopback and private ranges
		echo5ws.WS(e, "/ws", hub, fn, mw...)
		return e
	}},
	{"gin", func(hub *core.Hub, fn core.HandlerFunc, mw ...core.MiddlewareFunc) http.Handler {
		r := gin.New()
		if err := r.SetTrustedProxies([]string{"127.0.0.1", "::1"}); err != nil {
			panic(err)
		}
		r.GET("/ws", ginws.Handler(hub, fn, mw...))
		return r
	}},
}

// forEachAdapter runs fn as a subtest per adapter; the subtests run in
// parallel, so fn must start a hub of its own.
func forEachAdapter(t *testing.T, fn func(t *testing.T, a adapter)) {
	t.Helper()
	for _, a := range adapters {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			fn(t, a)
		})
	}
}

// server is a hub behind one adapter for one test.
type server struct {
	hub  *core.Hub
	url  string
	logs *syncBuffer
}

// newServer mounts fn with mw on a new hub behind a, at /ws. The hub and
// the server are closed when the test ends.
func newServer(t *testing.T, a adapter, cfg core.Config, fn core.HandlerFunc, mw ...core.MiddlewareFunc) *server {
	t.Helper()
	logs := &syncBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hub, err := core.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.mount(hub, fn, mw...))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = hub.Close() }) // runs before srv.Close
	return &server{hub: hub, url: srv.URL + "/ws", logs: logs}
}

// app is the route handler of most tests: it greets with the "sub" of the
// JWT claims, if any, and echoes "echo" events back as acks.
func app(c *core.Conn) error {
	if err := c.On("echo", func(c *core.Conn, data json.RawMessage) (any, error) { return data, nil }); err != nil {
		return err
	}
	if err := c.On("quit", func(*core.Conn, json.RawMessage) (any, error) {
		return nil, &core.CloseError{Code: core.CloseNormal, Reason: "bye"}
	}); err != nil {
		return err
	}
	sub := ""
	switch v := c.Get("user").(type) {
	case *jwt.Token:
		sub, _ = v.Claims.GetSubject()
	case jwt.Claims:
		sub, _ = v.GetSubject()
	}
	return c.Emit("welcome", sub)
}

// opts builds dial options from headers.
func withHeaders(kv ...string) wstest.Option {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return wstest.WithHeader(h)
}

// fromIP makes the dial look like it came from ip through the trusted
// proxy.
func fromIP(ip string) wstest.Option { return withHeaders("X-Forwarded-For", ip) }

// refused dials url expecting the handshake to be refused, and returns the
// status, the body's message and the response headers.
func refused(t *testing.T, url string, opts ...wstest.Option) (int, string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, resp, err := wstest.TryDial(ctx, url, opts...)
	if err == nil {
		c.Close()
		t.Fatalf("handshake accepted, want it refused")
	}
	if resp == nil {
		t.Fatalf("dial failed without a response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, bodyMessage(body), resp.Header
}

// bodyMessage returns the "message" of a refusal body, as Echo or Gin wrote
// it.
func bodyMessage(body []byte) string {
	var m struct {
		Message any `json:"message"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "unparsable body: " + string(body)
	}
	switch v := m.Message.(type) {
	case string:
		return v
	case map[string]any: // Echo wraps a non-string message
		s, _ := v["message"].(string)
		return s
	}
	return ""
}

// undisturbed checks that a connection opened before a bad input still
// works, and that the hub holds want connections.
func undisturbed(t testing.TB, s *server, good *wstest.Client, want int) {
	t.Helper()
	if r := good.EmitWithAck("echo", "still here"); r.Err != nil || string(r.Data) != `"still here"` {
		t.Fatalf("good connection disturbed: reply %s, error %+v", r.Data, r.Err)
	}
	// A client sees its 101 a moment before the hub registers the
	// connection, and a close a moment before the hub lets it go.
	eventually(t, fmt.Sprintf("the hub to hold %d connections", want), func() bool { return s.hub.Stats().Connections == want })
}

// rejected returns the hub's refusal count for reason.
func rejected(s *server, reason string) uint64 { return s.hub.Stats().Rejected[reason] }

// eventually waits until cond holds, failing t after a generous bound:
// tests run in parallel on machines that may be busy, and the bound only
// matters when something never happens.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// wsURL turns an http URL into a ws one, for gorilla's Dialer.
func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

// rawDial dials with gorilla directly, for clients a test drives by hand.
func rawDial(t *testing.T, url string, h http.Header) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL(url), h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}
