package adaptertest

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// The kit below serves the framework-specific tests beside each adapter,
// so that they share one copy of their plumbing and differ only in what
// their framework does.

// WaitTimeout bounds every wait of the suite and the kit; it is a ceiling,
// never an expected duration.
const WaitTimeout = waitTimeout

// NewHub returns a hub logging into the returned buffer, closed when the
// test ends. The log is shown when the test fails.
func NewHub(t *testing.T, cfg core.Config) (*core.Hub, *wstest.LogBuffer) {
	t.Helper()
	logs := &wstest.LogBuffer{}
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

// ServerLog is a test server's error log (where net/http reports writes
// on hijacked connections) and a count of the HTTP handlers still running:
// access logs and writes after the hijack happen when the handler returns,
// which may be after the client has seen its connection close.
type ServerLog struct {
	wstest.LogBuffer
	active atomic.Int64
}

// WaitIdle waits until every HTTP handler of the server has returned.
func (s *ServerLog) WaitIdle(t *testing.T) {
	t.Helper()
	WaitFor(t, "HTTP handlers to return", func() bool { return s.active.Load() == 0 })
}

// StartServer starts a real HTTP server for h, closed when the test ends,
// whose error log goes into the returned ServerLog.
func StartServer(t *testing.T, h http.Handler) (*httptest.Server, *ServerLog) {
	t.Helper()
	sl := &ServerLog{}
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

// WSURL is the ws:// URL of path on srv.
func WSURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

// TryDial attempts a handshake and returns the response, whose body holds
// the start of a refusal's body.
func TryDial(url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	return tryDial(url, h)
}

// Handshake sends one request to srv, with WebSocket handshake headers
// when upgrade is set, and returns the response with its body read.
func Handshake(t *testing.T, srv *httptest.Server, method, path string, upgrade bool, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if upgrade {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, body
}

// Dial opens a WebSocket connection that the test's cleanup closes.
func Dial(t *testing.T, url string, h http.Header) (*websocket.Conn, *http.Response) {
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

// Emit sends the event message {"event":event,"data":data}.
func Emit(ws *websocket.Conn, event string, data any) error {
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		return err
	}
	_ = ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	return ws.WriteMessage(websocket.TextMessage, b)
}

// MustEmit is Emit, failing t on error.
func MustEmit(t *testing.T, ws *websocket.Conn, event string, data any) {
	t.Helper()
	if err := Emit(ws, event, data); err != nil {
		t.Fatalf("emit %q: %v", event, err)
	}
}

// ReadEvent reads until the named event arrives and returns its data; an
// "error" event or a closed connection ends the wait with an error.
func ReadEvent(ws *websocket.Conn, event string) (json.RawMessage, error) {
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("waiting for %q: %w", event, err)
		}
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if mt != websocket.TextMessage || json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Event == event {
			_ = ws.SetReadDeadline(time.Time{})
			return m.Data, nil
		}
		if m.Event == "error" {
			return nil, fmt.Errorf("waiting for %q: got error event %s", event, m.Data)
		}
	}
}

// ExpectEvent reads until the named event arrives and decodes its data
// into v (unless v is nil), failing t otherwise.
func ExpectEvent(t *testing.T, ws *websocket.Conn, event string, v any) {
	t.Helper()
	data, err := ReadEvent(ws, event)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("decode %q data %s: %v", event, data, err)
		}
	}
}

// CloseClient says goodbye with 1000 and waits for the server's close
// frame, so the server side has ended its read loop when it returns.
func CloseClient(ws *websocket.Conn) {
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

// WaitFor polls cond until it holds, failing t after WaitTimeout.
func WaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// WaitNoConnections waits until hub has no live connection and no room.
func WaitNoConnections(t *testing.T, hub *core.Hub) {
	t.Helper()
	WaitFor(t, "no live connections and no rooms", func() bool {
		return hub.Stats().Connections == 0 && len(hub.Rooms()) == 0
	})
}

// NoHijackNoise waits for the server's handlers to return, then fails when
// its error log or another log mentions a write on a hijacked connection.
func NoHijackNoise(t *testing.T, srvLog *ServerLog, others map[string]*wstest.LogBuffer) {
	t.Helper()
	srvLog.WaitIdle(t)
	logs := map[string]string{"http.Server": srvLog.String()}
	for name, buf := range others {
		logs[name] = buf.String()
	}
	for name, s := range logs {
		if strings.Contains(s, "hijacked") {
			t.Errorf("%s logged hijack noise:\n%s", name, s)
		}
	}
}

// Welcome is what Chat sends after the upgrade: the facts the adapter
// copied from its framework.
type Welcome struct {
	Params map[string]string `json:"params"`
	IP     string            `json:"ip"`
}

// Chat is the route handler of the adapters' own tests: it joins the room
// named by the :room param (when there is one), answers "chat" by emitting
// the same data back, and sends a Welcome.
func Chat(c *core.Conn) error {
	if room := c.Param("room"); room != "" {
		if err := c.Join(room); err != nil {
			return err
		}
	}
	if err := c.On("chat", func(c *core.Conn, data json.RawMessage) (any, error) {
		if err := c.Context().Err(); err != nil {
			return nil, fmt.Errorf("connection context ended early: %w", err)
		}
		return nil, c.Emit("chat", data)
	}); err != nil {
		return err
	}
	params := make(map[string]string)
	for _, p := range c.Params() {
		params[p.Name] = p.Value
	}
	return c.Emit("welcome", Welcome{Params: params, IP: c.IP()})
}

// Exchange sends a chat event and expects it back.
func Exchange(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	MustEmit(t, ws, "chat", map[string]string{"text": "hello"})
	var got map[string]string
	ExpectEvent(t, ws, "chat", &got)
	if got["text"] != "hello" {
		t.Fatalf("chat echo = %v, want text hello", got)
	}
}

// ValuesCase is one way of mounting a route, for RunValues.
type ValuesCase struct {
	// Name names the subtest. Required.
	Name string
	// Mount returns a router of the framework whose middleware stores
	// "user": "alice", "tenant": "acme" and "unset": nil on every request,
	// and the route "/ws" serving fn, mounted as the case says. Required.
	Mount func(t *testing.T, hub *core.Hub, fn core.HandlerFunc) http.Handler
	// Want is what the connection must hold of "user", "tenant" and
	// "unset" (a nil value is never copied).
	Want map[string]any
}

// RunValues runs each case as a parallel subtest: the route handler
// reports which of the framework's values reached the connection.
func RunValues(t *testing.T, cases []ValuesCase) {
	t.Helper()
	for _, vc := range cases {
		t.Run(vc.Name, func(t *testing.T) {
			t.Parallel()
			hub, _ := NewHub(t, core.Config{})
			router := vc.Mount(t, hub, func(c *core.Conn) error {
				got := map[string]any{}
				for _, k := range []string{"user", "tenant", "unset"} {
					if v := c.Get(k); v != nil {
						got[k] = v
					}
				}
				return c.Emit("values", got)
			})
			srv, _ := StartServer(t, router)
			ws, _ := Dial(t, WSURL(srv, "/ws"), nil)
			var got map[string]any
			ExpectEvent(t, ws, "values", &got)
			if fmt.Sprint(got) != fmt.Sprint(vc.Want) {
				t.Errorf("connection values = %v, want %v", got, vc.Want)
			}
			CloseClient(ws)
			WaitNoConnections(t, hub)
		})
	}
}
