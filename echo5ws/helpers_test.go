package echo5ws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v5"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitTimeout bounds every wait in these tests; it is a ceiling, never an
// expected duration.
const waitTimeout = 5 * time.Second

// syncBuffer is a bytes.Buffer safe for the concurrent writes of loggers.
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

// newHub returns a hub logging into the returned buffer, closed when the
// test ends. The log is shown when the test fails.
func newHub(t *testing.T, cfg core.Config) (*core.Hub, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	hub, err := core.NewHub(cfg)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() {
		if err := hub.Close(); err != nil {
			t.Errorf("hub.Close: %v", err)
		}
		if t.Failed() && logs.String() != "" {
			t.Logf("hub log:\n%s", logs.String())
		}
	})
	return hub, logs
}

// newEcho returns an Echo v5 app whose logger writes into the returned
// buffer rather than to stdout.
func newEcho(t *testing.T) (*echo.Echo, *syncBuffer) {
	t.Helper()
	e := echo.New()
	logs := &syncBuffer{}
	e.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return e, logs
}

// serverLog is a test server's error log and a count of the HTTP handlers
// still running.
type serverLog struct {
	syncBuffer
	active atomic.Int64
}

// waitIdle waits until every HTTP handler of the server has returned.
func (s *serverLog) waitIdle(t *testing.T) {
	t.Helper()
	waitFor(t, "HTTP handlers to return", func() bool { return s.active.Load() == 0 })
}

// startServer starts a real HTTP server for h whose error log goes into
// the returned serverLog.
func startServer(t *testing.T, h http.Handler) (*httptest.Server, *serverLog) {
	t.Helper()
	sl := &serverLog{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sl.active.Add(1)
		defer sl.active.Add(-1)
		h.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(sl, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, sl
}

func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

func tryDial(url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return websocket.DefaultDialer.DialContext(ctx, url, h)
}

// dial opens a WebSocket connection that the test's cleanup closes.
func dial(t *testing.T, url string, h http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	ws, resp, err := tryDial(url, h)
	if err != nil {
		status := 0
		var body []byte
		if resp != nil {
			status = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("dial %s: %v (status %d, body %q)", url, err, status, body)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, resp
}

func mustEmit(t *testing.T, ws *websocket.Conn, event string, data any) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("emit %q: %v", event, err)
	}
}

// readEvent reads until the named event arrives; an "error" event or a
// closed connection ends the wait with an error.
func readEvent(ws *websocket.Conn, event string) (json.RawMessage, error) {
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	defer func() { _ = ws.SetReadDeadline(time.Time{}) }()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("waiting for %q: %w", event, err)
		}
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Event == event {
			return m.Data, nil
		}
		if m.Event == "error" {
			return nil, fmt.Errorf("waiting for %q: got error event %s", event, m.Data)
		}
	}
}

func expectEvent(t *testing.T, ws *websocket.Conn, event string, v any) {
	t.Helper()
	data, err := readEvent(ws, event)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("decode %q data %s: %v", event, data, err)
		}
	}
}

// closeClient says goodbye with 1000 and waits for the server's close
// frame.
func closeClient(ws *websocket.Conn) {
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(waitTimeout))
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, _, err := ws.NextReader(); err != nil {
			break
		}
	}
	_ = ws.Close()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitNoConnections(t *testing.T, hub *core.Hub) {
	t.Helper()
	waitFor(t, "no live connections and no rooms", func() bool {
		return hub.Stats().Connections == 0 && len(hub.Rooms()) == 0
	})
}

// noHijackNoise waits for the server's handlers to return, then fails when
// a log mentions a write on a hijacked connection or Echo's "response
// already written".
func noHijackNoise(t *testing.T, srvLog *serverLog, others map[string]*syncBuffer) {
	t.Helper()
	srvLog.waitIdle(t)
	logs := map[string]string{"http.Server": srvLog.String()}
	for name, buf := range others {
		logs[name] = buf.String()
	}
	for name, s := range logs {
		if strings.Contains(s, "hijacked") || strings.Contains(s, "already written") {
			t.Errorf("%s logged noise after the upgrade:\n%s", name, s)
		}
	}
}

// chat is the route handler used throughout: it joins the :room param
// (when there is one) and answers "chat" by emitting the same data back.
func chat(c *core.Conn) error {
	if room := c.Param("room"); room != "" {
		if err := c.Join(room); err != nil {
			return err
		}
	}
	if err := c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
		return nil, c.Emit("chat", data)
	}); err != nil {
		return err
	}
	return c.Emit("welcome", c.Param("room"))
}

// exchange sends a chat event and expects it back.
func exchange(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	mustEmit(t, ws, "chat", map[string]string{"text": "hello"})
	var got map[string]string
	expectEvent(t, ws, "chat", &got)
	if got["text"] != "hello" {
		t.Fatalf("chat echo = %v, want text hello", got)
	}
}
