package echows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/echows"
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

// newEcho returns an Echo app whose own logger writes into the returned
// buffer rather than to stdout.
func newEcho(t *testing.T) (*echo.Echo, *syncBuffer) {
	t.Helper()
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	logs := &syncBuffer{}
	e.Logger.SetOutput(logs)
	return e, logs
}

// serverLog is a test server's error log (where net/http reports writes
// on hijacked connections) and a count of the HTTP handlers still running:
// access logs and writes after the hijack happen when the handler returns,
// which may be after the client has seen its connection close.
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

// tryDial attempts a handshake and returns the response, whose body holds
// the start of a refusal's body.
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

// wire is an event message as the client reads it.
type wire struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func emit(ws *websocket.Conn, event string, data any) error {
	b, err := json.Marshal(map[string]any{"event": event, "data": data})
	if err != nil {
		return err
	}
	_ = ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	return ws.WriteMessage(websocket.TextMessage, b)
}

// readEvent reads until the named event arrives; an "error" event or a
// closed connection ends the wait with an error.
func readEvent(ws *websocket.Conn, event string) (json.RawMessage, error) {
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("waiting for %q: %w", event, err)
		}
		var m wire
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

func mustEmit(t *testing.T, ws *websocket.Conn, event string, data any) {
	t.Helper()
	if err := emit(ws, event, data); err != nil {
		t.Fatalf("emit %q: %v", event, err)
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
// frame, so the server side has ended its read loop when it returns.
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
// its error log or another log mentions a write on a hijacked connection.
func noHijackNoise(t *testing.T, srvLog *serverLog, others map[string]*syncBuffer) {
	t.Helper()
	srvLog.waitIdle(t)
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

// welcome is what route handlers in these tests send after the upgrade:
// the facts the adapter copied from Echo.
type welcome struct {
	Params map[string]string `json:"params"`
	IP     string            `json:"ip"`
}

// chat is the route handler used throughout: it joins the room named by the
// :room param (when there is one), answers "chat" by emitting the same data
// back, and sends a welcome.
func chat(c *core.Conn) error {
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
	return c.Emit("welcome", welcome{Params: params, IP: c.IP()})
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

func TestHandlerRefusals(t *testing.T) {
	requireToken := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if c.Request().Header.Get("X-Token") != "open-sesame" {
				return core.NewHTTPError(http.StatusUnauthorized, "token required")
			}
			return next(c)
		}
	}
	type request struct {
		method   string
		upgrade  bool
		path     string
		header   http.Header
		wantCode int
	}
	tests := []struct {
		name         string
		route        func(e *echo.Echo, hub *core.Hub)
		req          request
		wantMessage  string // "" skips the body check
		wantRejected string // Stats.Rejected key, "" when the hub never saw it
		wantHeader   [2]string
	}{
		{
			name: "hub middleware refuses with 401",
			route: func(e *echo.Echo, hub *core.Hub) {
				hub.Use(requireToken)
				e.GET("/ws/:room", echows.Handler(hub, chat))
			},
			req:          request{method: http.MethodGet, upgrade: true, path: "/ws/lobby", wantCode: http.StatusUnauthorized},
			wantMessage:  "token required",
			wantRejected: "unauthorized",
		},
		{
			name:         "middleware that never calls next",
			route:        func(e *echo.Echo, hub *core.Hub) { e.GET("/ws/:room", echows.Handler(hub, chat, swallow)) },
			req:          request{method: http.MethodGet, upgrade: true, path: "/ws/lobby", wantCode: http.StatusForbidden},
			wantMessage:  "connection refused",
			wantRejected: "middleware",
		},
		{
			name:         "POST on a route that takes any method",
			route:        func(e *echo.Echo, hub *core.Hub) { e.Any("/ws/:room", echows.Handler(hub, chat)) },
			req:          request{method: http.MethodPost, upgrade: true, path: "/ws/lobby", wantCode: http.StatusMethodNotAllowed},
			wantMessage:  "websocket handshake must use GET",
			wantRejected: "method",
			wantHeader:   [2]string{"Allow", "GET"},
		},
		{
			name:       "POST on a GET route is refused by Echo's router",
			route:      func(e *echo.Echo, hub *core.Hub) { e.GET("/ws/:room", echows.Handler(hub, chat)) },
			req:        request{method: http.MethodPost, upgrade: true, path: "/ws/lobby", wantCode: http.StatusMethodNotAllowed},
			wantHeader: [2]string{"Allow", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := newHub(t, core.Config{})
			e, _ := newEcho(t)
			tt.route(e, hub)
			srv, errLog := startServer(t, e)

			req, err := http.NewRequest(tt.req.method, srv.URL+tt.req.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.req.header {
				req.Header[k] = vs
			}
			if tt.req.upgrade {
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
			if resp.StatusCode != tt.req.wantCode {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.req.wantCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
			if tt.wantMessage != "" {
				var got struct {
					Status  int    `json:"status"`
					Message string `json:"message"`
				}
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				if got.Status != tt.req.wantCode || got.Message != tt.wantMessage {
					t.Errorf("body = %s, want status %d message %q", body, tt.req.wantCode, tt.wantMessage)
				}
			}
			if k, v := tt.wantHeader[0], tt.wantHeader[1]; k != "" && v != "" && resp.Header.Get(k) != v {
				t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), v)
			}
			st := hub.Stats()
			if tt.wantRejected != "" && st.Rejected[tt.wantRejected] != 1 {
				t.Errorf("Stats.Rejected = %v, want %s: 1", st.Rejected, tt.wantRejected)
			}
			if tt.wantRejected == "" && len(st.Rejected) != 0 {
				t.Errorf("Stats.Rejected = %v, want none", st.Rejected)
			}
			if st.Connections != 0 || st.Accepted != 0 {
				t.Errorf("Stats: %d connections, %d accepted, want none", st.Connections, st.Accepted)
			}
			noHijackNoise(t, errLog, nil)
		})
	}
}

// swallow is a middleware that neither upgrades nor refuses.
func swallow(core.HandlerFunc) core.HandlerFunc {
	return func(*core.Conn) error { return nil }
}

func getStats(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q, want JSON", url, ct)
	}
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}

func TestStatsHandler(t *testing.T) {
	hub, _ := newHub(t, core.Config{})
	e, _ := newEcho(t)
	e.GET("/ws/:room", echows.Handler(hub, chat))
	e.GET("/admin/ws/stats", echows.StatsHandler(hub))
	e.GET("/admin/ws/rooms", echows.RoomsHandler(hub))
	e.GET("/admin/ws/stats-core", echo.WrapHandler(core.StatsHandler(hub)))
	srv, _ := startServer(t, e)

	for _, path := range []string{"/admin/ws/stats", "/admin/ws/stats-core"} {
		if got := getStats(t, srv.URL+path)["connections"]; got != float64(0) {
			t.Errorf("%s before any connection: connections = %v, want 0", path, got)
		}
	}

	ws, _ := dial(t, wsURL(srv, "/ws/lobby"), nil)
	expectEvent(t, ws, "welcome", nil)
	for _, path := range []string{"/admin/ws/stats", "/admin/ws/stats-core"} {
		m := getStats(t, srv.URL+path)
		if m["connections"] != float64(1) || m["accepted"] != float64(1) || m["rooms"] != float64(1) {
			t.Errorf("%s: connections %v accepted %v rooms %v, want 1 1 1", path, m["connections"], m["accepted"], m["rooms"])
		}
	}

	resp, err := http.Get(srv.URL + "/admin/ws/rooms")
	if err != nil {
		t.Fatal(err)
	}
	var rooms []core.RoomInfo
	err = json.NewDecoder(resp.Body).Decode(&rooms)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rooms) != 1 || rooms[0].Name != "lobby" || rooms[0].Members != 1 {
		t.Errorf("rooms = %+v, want lobby with 1 member", rooms)
	}

	closeClient(ws)
	waitNoConnections(t, hub)
	if got := getStats(t, srv.URL+"/admin/ws/stats")["connections"]; got != float64(0) {
		t.Errorf("after close: connections = %v, want 0", got)
	}
}

func TestEchoMiddleware(t *testing.T) {
	key := []byte("test-secret-key")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// setup installs the middleware; mwLog collects what it logs.
		setup  func(e *echo.Echo, mwLog io.Writer)
		header http.Header
		// dialer, when set, replaces websocket.DefaultDialer.
		dialer *websocket.Dialer
		// check inspects the 101 response and the middleware's log.
		check func(t *testing.T, resp *http.Response, mwLog string)
		// refused, when set, is a request the middleware must refuse.
		refused *refusal
	}{
		{
			name: "Logger",
			setup: func(e *echo.Echo, w io.Writer) {
				//lint:ignore SA1019 users still mount the classic Logger; it must coexist.
				e.Use(middleware.LoggerWithConfig(middleware.LoggerConfig{Output: w}))
			},
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"status":101`) {
					t.Errorf("Logger did not log status 101:\n%s", log)
				}
			},
		},
		{
			name: "RequestLogger",
			setup: func(e *echo.Echo, w io.Writer) {
				e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
					LogStatus: true,
					LogURI:    true,
					LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
						_, err := fmt.Fprintf(w, "uri=%s status=%d\n", v.URI, v.Status)
						return err
					},
				}))
			},
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, "status=101") {
					t.Errorf("RequestLogger did not log status 101:\n%s", log)
				}
			},
		},
		{
			name:  "Recover",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Recover()) },
		},
		{
			name:  "RequestID",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.RequestID()) },
			check: func(t *testing.T, resp *http.Response, _ string) {
				if resp.Header.Get(echo.HeaderXRequestID) == "" {
					t.Error("no X-Request-Id on the 101")
				}
			},
		},
		{
			name:   "CORS",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.CORS()) },
			header: http.Header{"Origin": {"SAME-ORIGIN"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get(echo.HeaderAccessControlAllowOrigin); got != "*" {
					t.Errorf("Access-Control-Allow-Origin on the 101 = %q, want *", got)
				}
			},
		},
		{
			name:   "Gzip",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:   "Gzip, lowercase Connection header",
			setup:  func(e *echo.Echo, _ io.Writer) { e.Use(middleware.Gzip()) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			dialer: lowercaseDialer(),
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:  "ContextTimeout",
			setup: func(e *echo.Echo, _ io.Writer) { e.Use(middleware.ContextTimeout(2 * time.Second)) },
		},
		{
			name: "echo-jwt",
			setup: func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			},
			header:  http.Header{"Authorization": {"Bearer " + token}},
			refused: &refusal{header: nil, status: http.StatusUnauthorized, message: "missing or malformed jwt"},
		},
		{
			name: "echo-jwt bad token",
			setup: func(e *echo.Echo, _ io.Writer) {
				e.Use(echojwt.WithConfig(echojwt.Config{SigningKey: key}))
			},
			header: http.Header{"Authorization": {"Bearer " + token}},
			refused: &refusal{header: http.Header{"Authorization": {"Bearer " + token[:len(token)-2] + "xx"}},
				status: http.StatusUnauthorized, message: "invalid or expired jwt"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := newHub(t, core.Config{})
			e, echoLog := newEcho(t)
			mwLog := &syncBuffer{}
			tt.setup(e, mwLog)
			e.GET("/ws/:room", echows.Handler(hub, chat))
			srv, errLog := startServer(t, e)

			h := http.Header{}
			for k, vs := range tt.header {
				h[k] = vs
			}
			if h.Get("Origin") == "SAME-ORIGIN" {
				h.Set("Origin", srv.URL)
			}
			d := websocket.DefaultDialer
			if tt.dialer != nil {
				d = tt.dialer
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, wsURL(srv, "/ws/lobby"), h)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			expectEvent(t, ws, "welcome", nil)
			exchange(t, ws)
			closeClient(ws)
			waitNoConnections(t, hub)

			if tt.refused != nil {
				_, resp, err := tryDial(wsURL(srv, "/ws/lobby"), tt.refused.header)
				if err == nil || resp == nil {
					t.Fatalf("dial without a valid token: err %v, want refused", err)
				}
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tt.refused.status || !strings.Contains(string(body), tt.refused.message) {
					t.Errorf("refused dial: status %d body %s, want %d %q", resp.StatusCode, body, tt.refused.status, tt.refused.message)
				}
				if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != 1 {
					t.Errorf("Stats after a refusal by Echo middleware: rejected %v accepted %d, want none and 1", st.Rejected, st.Accepted)
				}
			}
			errLog.waitIdle(t) // access logs are written when the handler returns
			if tt.check != nil {
				tt.check(t, resp, mwLog.String())
			}
			noHijackNoise(t, errLog, map[string]*syncBuffer{"Echo logger": echoLog, "middleware log": mwLog})
		})
	}
}

// lowercaseUpgrade rewrites the client's "Connection: Upgrade" to the
// equally valid "Connection: upgrade" (header values are case-insensitive),
// as nginx's usual WebSocket proxy configuration sends it.
type lowercaseUpgrade struct {
	net.Conn
	once sync.Once
}

func (c *lowercaseUpgrade) Write(p []byte) (int, error) {
	n := len(p)
	c.once.Do(func() {
		p = bytes.Replace(p, []byte("Connection: Upgrade\r\n"), []byte("Connection: upgrade\r\n"), 1)
	})
	if _, err := c.Conn.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// lowercaseDialer dials through lowercaseUpgrade.
func lowercaseDialer() *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lowercaseUpgrade{Conn: c}, nil
		},
	}
}

type refusal struct {
	header  http.Header
	status  int
	message string
}

func TestTimeoutMiddlewareHidesHijacker(t *testing.T) {
	hub, hubLog := newHub(t, core.Config{})
	e, echoLog := newEcho(t)
	//lint:ignore SA1019 the deprecated Timeout is what hides http.Hijacker; this is the case under test.
	e.Use(middleware.TimeoutWithConfig(middleware.TimeoutConfig{Timeout: 3 * time.Second}))
	e.GET("/ws/:room", echows.Handler(hub, chat))
	srv, errLog := startServer(t, e)

	ws, resp, err := tryDial(wsURL(srv, "/ws/lobby"), nil)
	if err == nil {
		_ = ws.Close()
		t.Fatal("handshake succeeded behind Timeout, want 500")
	}
	if resp == nil {
		t.Fatalf("dial error %v with no response, want HTTP 500", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500 (body %s)", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Errorf("body %q is not JSON: %v", body, err)
	} else if got["status"] != float64(500) {
		t.Errorf("body = %v, want status 500", got)
	}
	errLog.waitIdle(t)
	if logs := hubLog.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "hijack") {
		t.Errorf("hub log does not name the hijack problem:\n%s", logs)
	}
	if n := hub.Stats().Rejected["hijack"]; n != 1 {
		t.Errorf("Rejected = %v, want hijack: 1", hub.Stats().Rejected)
	}
	if st := hub.Stats(); st.Connections != 0 || st.Accepted != 0 {
		t.Errorf("Stats: %d connections, %d accepted, want none", st.Connections, st.Accepted)
	}
	for name, buf := range map[string]fmt.Stringer{"http.Server": errLog, "Echo logger": echoLog, "hub": hubLog} {
		if s := buf.String(); strings.Contains(s, "hijacked connection") {
			t.Errorf("%s logged hijack noise:\n%s", name, s)
		}
	}
}

func TestConcurrentRoom(t *testing.T) {
	const clients = 20
	hub, _ := newHub(t, core.Config{})
	e, _ := newEcho(t)
	e.GET("/ws/:room", echows.Handler(hub, chat))
	srv, errLog := startServer(t, e)

	conns := make([]*websocket.Conn, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			ws, _, err := tryDial(wsURL(srv, "/ws/party"), nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %w", i, err)
				return
			}
			conns[i] = ws
			if _, err := readEvent(ws, "welcome"); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range conns {
			if ws != nil {
				_ = ws.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	if info, ok := hub.Room("party"); !ok || info.Members != clients {
		t.Fatalf("room party = %+v (exists %v), want %d members", info, ok, clients)
	}
	n, err := hub.To("party").Emit("news", map[string]int{"n": 1})
	if err != nil || n != clients {
		t.Fatalf("Emit = %d, %v; want %d, nil", n, err, clients)
	}

	errs = make(chan error, clients)
	for i, ws := range conns {
		wg.Go(func() {
			data, err := readEvent(ws, "news")
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if string(data) != `{"n":1}` {
				errs <- fmt.Errorf("client %d: news data %s", i, data)
			}
			closeClient(ws)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	waitNoConnections(t, hub)
	if st := hub.Stats(); st.Accepted != clients || st.Rooms != 0 {
		t.Errorf("Stats: accepted %d rooms %d, want %d 0", st.Accepted, st.Rooms, clients)
	}
	noHijackNoise(t, errLog, nil)
}
