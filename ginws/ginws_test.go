package ginws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/ginws"
	"github.com/rushws/rushws/internal/adaptertest"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
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
		route        func(r *gin.Engine, hub *core.Hub)
		req          request
		wantMessage  string // "" skips the body check
		wantRejected string // Stats.Rejected key, "" when the hub never saw it
		wantHeader   [2]string
	}{
		{
			name: "hub middleware refuses with 401",
			route: func(r *gin.Engine, hub *core.Hub) {
				hub.Use(requireToken)
				r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
			},
			req:          request{method: http.MethodGet, upgrade: true, path: "/ws/lobby", wantCode: http.StatusUnauthorized},
			wantMessage:  "token required",
			wantRejected: "unauthorized",
		},
		{
			name:         "middleware that never calls next",
			route:        func(r *gin.Engine, hub *core.Hub) { r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat, swallow)) },
			req:          request{method: http.MethodGet, upgrade: true, path: "/ws/lobby", wantCode: http.StatusForbidden},
			wantMessage:  "connection refused",
			wantRejected: "middleware",
		},
		{
			name:         "POST on a route that takes any method",
			route:        func(r *gin.Engine, hub *core.Hub) { r.Any("/ws/:room", ginws.Handler(hub, adaptertest.Chat)) },
			req:          request{method: http.MethodPost, upgrade: true, path: "/ws/lobby", wantCode: http.StatusMethodNotAllowed},
			wantMessage:  "websocket handshake must use GET",
			wantRejected: "method",
			wantHeader:   [2]string{"Allow", "GET"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			r := gin.New()
			tt.route(r, hub)
			srv, errLog := adaptertest.StartServer(t, r)

			resp, body := handshake(t, srv, tt.req.method, tt.req.path, tt.req.upgrade, tt.req.header)
			if resp.StatusCode != tt.req.wantCode {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.req.wantCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want JSON", ct)
			}
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
			if k, v := tt.wantHeader[0], tt.wantHeader[1]; k != "" && resp.Header.Get(k) != v {
				t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), v)
			}
			st := hub.Stats()
			if st.Rejected[tt.wantRejected] != 1 || len(st.Rejected) != 1 {
				t.Errorf("Stats.Rejected = %v, want %s: 1", st.Rejected, tt.wantRejected)
			}
			if st.Connections != 0 || st.Accepted != 0 {
				t.Errorf("Stats: %d connections, %d accepted, want none", st.Connections, st.Accepted)
			}
			adaptertest.NoHijackNoise(t, errLog, nil)
		})
	}
}

// TestRouterRefusals covers requests Gin's router answers before the
// adapter runs: the hub never sees them.
func TestRouterRefusals(t *testing.T) {
	tests := []struct {
		name             string
		methodNotAllowed bool
		wantCode         int
	}{
		{"POST on a GET route, default router", false, http.StatusNotFound},
		{"POST on a GET route, HandleMethodNotAllowed", true, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			r := gin.New()
			r.HandleMethodNotAllowed = tt.methodNotAllowed
			r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
			srv, _ := adaptertest.StartServer(t, r)

			resp, body := handshake(t, srv, http.MethodPost, "/ws/lobby", true, nil)
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantCode, body)
			}
			if st := hub.Stats(); len(st.Rejected) != 0 || st.Accepted != 0 {
				t.Errorf("Stats: rejected %v accepted %d, want none", st.Rejected, st.Accepted)
			}
		})
	}
}

// handshake sends one request, with WebSocket handshake headers when
// upgrade is set, and returns the response and its body.
func handshake(t *testing.T, srv *httptest.Server, method, path string, upgrade bool, header http.Header) (*http.Response, []byte) {
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
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
	r.GET("/admin/ws/stats", ginws.StatsHandler(hub))
	r.GET("/admin/ws/rooms", ginws.RoomsHandler(hub))
	r.GET("/admin/ws/stats-core", gin.WrapH(core.StatsHandler(hub)))
	srv, _ := adaptertest.StartServer(t, r)

	for _, path := range []string{"/admin/ws/stats", "/admin/ws/stats-core"} {
		if got := getStats(t, srv.URL+path)["connections"]; got != float64(0) {
			t.Errorf("%s before any connection: connections = %v, want 0", path, got)
		}
	}

	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws/lobby"), nil)
	adaptertest.ExpectEvent(t, ws, "welcome", nil)
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

	adaptertest.CloseClient(ws)
	adaptertest.WaitNoConnections(t, hub)
	if got := getStats(t, srv.URL+"/admin/ws/stats")["connections"]; got != float64(0) {
		t.Errorf("after close: connections = %v, want 0", got)
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

func TestGinMiddleware(t *testing.T) {
	lowercase := &websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &lowercaseUpgrade{Conn: c}, nil
		},
	}
	tests := []struct {
		name   string
		setup  func(r *gin.Engine, mwLog io.Writer)
		header http.Header
		dialer *websocket.Dialer
		check  func(t *testing.T, resp *http.Response, mwLog string)
	}{
		{
			name:  "Logger",
			setup: func(r *gin.Engine, w io.Writer) { r.Use(gin.LoggerWithWriter(w)) },
			check: func(t *testing.T, _ *http.Response, log string) {
				if !strings.Contains(log, `"/ws/lobby"`) {
					t.Errorf("Logger did not log the handshake:\n%s", log)
				}
			},
		},
		{
			name:  "Recovery",
			setup: func(r *gin.Engine, w io.Writer) { r.Use(gin.RecoveryWithWriter(w)) },
		},
		{
			name: "Logger and Recovery, as gin.Default",
			setup: func(r *gin.Engine, w io.Writer) {
				r.Use(gin.LoggerWithWriter(w), gin.RecoveryWithWriter(w))
			},
		},
		{
			name:   "gzip",
			setup:  func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
		{
			name:   "gzip, lowercase Connection header",
			setup:  func(r *gin.Engine, _ io.Writer) { r.Use(gzip.Gzip(gzip.DefaultCompression)) },
			header: http.Header{"Accept-Encoding": {"gzip, deflate, br"}},
			dialer: lowercase,
			check: func(t *testing.T, resp *http.Response, _ string) {
				if got := resp.Header.Get("Content-Encoding"); got != "" {
					t.Errorf("Content-Encoding on the 101 = %q, want none", got)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, _ := adaptertest.NewHub(t, core.Config{})
			r := gin.New()
			mwLog := &wstest.LogBuffer{}
			tt.setup(r, mwLog)
			r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
			srv, errLog := adaptertest.StartServer(t, r)

			d := websocket.DefaultDialer
			if tt.dialer != nil {
				d = tt.dialer
			}
			ctx, cancel := context.WithTimeout(context.Background(), adaptertest.WaitTimeout)
			defer cancel()
			ws, resp, err := d.DialContext(ctx, adaptertest.WSURL(srv, "/ws/lobby"), tt.header)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			adaptertest.ExpectEvent(t, ws, "welcome", nil)
			adaptertest.Exchange(t, ws)
			adaptertest.CloseClient(ws)
			adaptertest.WaitNoConnections(t, hub)

			errLog.WaitIdle(t) // access logs are written when the handler returns
			if tt.check != nil {
				tt.check(t, resp, mwLog.String())
			}
			if s := mwLog.String(); strings.Contains(s, "panic") {
				t.Errorf("middleware logged a panic:\n%s", s)
			}
			adaptertest.NoHijackNoise(t, errLog, map[string]*wstest.LogBuffer{"middleware log": mwLog})
		})
	}
}

// TestLoggerRecordsSwitchingProtocols checks that Gin's access log and any
// middleware after c.Next see the 101 that went out, as Echo's do.
func TestLoggerRecordsSwitchingProtocols(t *testing.T) {
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	ginLog := &wstest.LogBuffer{}
	var mu sync.Mutex
	status := 0
	r.Use(gin.LoggerWithWriter(ginLog), func(c *gin.Context) {
		c.Next()
		mu.Lock()
		status = c.Writer.Status()
		mu.Unlock()
	})
	r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
	srv, errLog := adaptertest.StartServer(t, r)

	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws/lobby"), nil)
	adaptertest.ExpectEvent(t, ws, "welcome", nil)
	adaptertest.CloseClient(ws)
	adaptertest.WaitNoConnections(t, hub)
	errLog.WaitIdle(t)
	mu.Lock()
	defer mu.Unlock()
	if status != http.StatusSwitchingProtocols {
		t.Errorf("c.Writer.Status() after the upgrade = %d, want 101", status)
	}
	if log := ginLog.String(); !strings.Contains(log, "| 101 |") {
		t.Errorf("Gin's Logger did not log status 101:\n%s", log)
	}
}

// TestRecoveryAfterUpgrade checks that a panicking route handler is
// recovered by the hub (close 1011), not by Gin's Recovery, which would
// write a 500 on the hijacked connection.
func TestRecoveryAfterUpgrade(t *testing.T) {
	hub, hubLog := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	ginLog := &wstest.LogBuffer{}
	r.Use(gin.RecoveryWithWriter(ginLog))
	r.GET("/ws/:room", ginws.Handler(hub, func(c *core.Conn) error { panic("boom") }))
	srv, errLog := adaptertest.StartServer(t, r)

	ws, _ := adaptertest.Dial(t, adaptertest.WSURL(srv, "/ws/lobby"), nil)
	_ = ws.SetReadDeadline(time.Now().Add(adaptertest.WaitTimeout))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInternalServerErr {
		t.Errorf("read after a panicking handler: %v, want close 1011", err)
	}
	_ = ws.Close()
	adaptertest.WaitNoConnections(t, hub)
	errLog.WaitIdle(t)
	if !strings.Contains(hubLog.String(), "boom") {
		t.Errorf("hub did not log the panic:\n%s", hubLog.String())
	}
	if s := ginLog.String(); s != "" {
		t.Errorf("Gin's Recovery saw the panic:\n%s", s)
	}
	adaptertest.NoHijackNoise(t, errLog, nil)
}

func TestConcurrentRoom(t *testing.T) {
	const clients = 20
	hub, _ := adaptertest.NewHub(t, core.Config{})
	r := gin.New()
	r.GET("/ws/:room", ginws.Handler(hub, adaptertest.Chat))
	srv, errLog := adaptertest.StartServer(t, r)

	conns := make([]*websocket.Conn, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			ws, _, err := adaptertest.TryDial(adaptertest.WSURL(srv, "/ws/party"), nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %w", i, err)
				return
			}
			conns[i] = ws
			if _, err := adaptertest.ReadEvent(ws, "welcome"); err != nil {
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
			data, err := adaptertest.ReadEvent(ws, "news")
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if string(data) != `{"n":1}` {
				errs <- fmt.Errorf("client %d: news data %s", i, data)
			}
			adaptertest.CloseClient(ws)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	adaptertest.WaitNoConnections(t, hub)
	if st := hub.Stats(); st.Accepted != clients || st.Rooms != 0 {
		t.Errorf("Stats: accepted %d rooms %d, want %d 0", st.Accepted, st.Rooms, clients)
	}
	adaptertest.NoHijackNoise(t, errLog, nil)
}
