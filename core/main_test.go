package core_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	switch os.Getenv("RUSHWS_TEST_READ_MODE") {
	case "", "auto":
	case "goroutine":
		testReadMode = core.ReadGoroutine
	default:
		fmt.Fprintln(os.Stderr, "RUSHWS_TEST_READ_MODE must be auto or goroutine")
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}

// testReadMode is the read mode of the hubs newServer starts, unless a test
// sets its own: RUSHWS_TEST_READ_MODE=goroutine runs the suite with a read
// goroutine per connection, as on platforms without the poller.
var testReadMode = core.ReadAuto

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

// server is a hub mounted on net/http at /ws/{room} for a test.
type server struct {
	hub  *core.Hub
	srv  *httptest.Server
	logs *syncBuffer
}

func (s *server) url(room string) string { return s.srv.URL + "/ws/" + room }

// newServer starts a hub with cfg whose route handler is fn. The hub and the
// server are closed when the test ends.
func newServer(t *testing.T, cfg core.Config, fn core.HandlerFunc, mw ...core.MiddlewareFunc) *server {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.ReadMode == core.ReadAuto {
		cfg.ReadMode = testReadMode
	}
	hub, err := core.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(fn, mw...))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		if err := hub.Close(); err != nil {
			t.Error(err)
		}
		srv.Close()
	})
	return &server{hub: hub, srv: srv, logs: logs}
}

// chat is the route handler most tests use: join the room from the URL,
// relay "chat" to the room, echo "echo" back.
func chat(c *core.Conn) error {
	if err := c.Join(c.Param("room")); err != nil {
		return err
	}
	if err := c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
		_, err := c.To(c.Param("room")).Emit("chat", data)
		return nil, err
	}); err != nil {
		return err
	}
	return c.On("echo", func(c *core.Conn, data json.RawMessage) (any, error) {
		return data, c.Emit("echo", data)
	})
}

// eventually polls cond until it holds or the deadline passes: 30s, as
// what a quiet machine does in a moment can take many seconds on a busy one
// running the tests in parallel, and the bound only matters when something
// never happens.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roundTrip checks a client still works: an echo comes back.
func roundTrip(t *testing.T, c *wstest.Client) {
	t.Helper()
	c.Emit("echo", "ping?")
	var got string
	c.ExpectInto("echo", &got)
	if got != "ping?" {
		t.Fatalf("echo = %q, want %q", got, "ping?")
	}
}

// rawRequest sends a plain HTTP request and returns status, headers and
// body.
func rawRequest(t *testing.T, method, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, strings.TrimSpace(string(body))
}

// newHTTPServer serves h for the test and returns its URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
