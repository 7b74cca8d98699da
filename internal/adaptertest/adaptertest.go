package adaptertest

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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// The app an adapter builds for the suite: names and values its framework
// middleware and routes use.
const (
	// Prefix is the group every route of the app lives in.
	Prefix = "/api"
	// HeaderRefuse, when present on a request, makes the group's middleware
	// refuse it with RefuseStatus in the framework's own way, before the
	// WebSocket handler runs.
	HeaderRefuse = "X-Refuse"
	// RefuseStatus is the status of a refusal by the framework's middleware.
	RefuseStatus = http.StatusTeapot
	// HeaderGroup is the response header the group's middleware sets, to
	// the value "api".
	HeaderGroup = "X-Group"
	// HeaderRoute is the response header the route's own middleware sets,
	// to the value "ws".
	HeaderRoute = "X-Route"
	// HeaderRefuseRoute, when present on a request, makes the route's own
	// middleware refuse it with RefuseStatus in the framework's own way;
	// routes without that middleware ignore it.
	HeaderRefuseRoute = "X-Refuse-Route"
	// HeaderWriteFirst, when present on a request, makes the group's
	// middleware write the status 200 before the rest of the chain runs
	// (Echo: c.Response().WriteHeader; Gin: c.Writer.WriteHeaderNow).
	HeaderWriteFirst = "X-Write-First"
	// HeaderUser carries the value the group's middleware stores under the
	// key "user" (when the header is present).
	HeaderUser = "X-User"
	// Tenant is the value the group's middleware stores under the key
	// "tenant" on every request.
	Tenant = "acme"
)

// App is what an adapter's Mount builds in its framework:
//
//   - a group at Prefix whose middleware, in this order, refuses requests
//     carrying HeaderRefuse with RefuseStatus, sets the response header
//     HeaderGroup: api, and stores the request's HeaderUser value under
//     "user" (when present) and Tenant under "tenant";
//   - in it, the WebSocket route "/ws/:room/:id" (net/http:
//     "GET /api/ws/{room}/{id}") registered with the adapter's WS helper
//     where it has one, with route middleware that refuses requests
//     carrying HeaderRefuseRoute with RefuseStatus and sets HeaderRoute: ws,
//     the connection middleware Middleware, the route handler Handler, and
//     the keys "user" and "tenant" copied when the adapter needs them named;
//   - outside the group, at the root, "/ws/:room/:id" (net/http:
//     "GET /ws/{room}/{id}") registered with the adapter's WS(router,
//     path, hub, Handler, Middleware...) and nothing else; Mount checks
//     what WS returns (the route it registered, or the router for
//     chaining);
//   - in the same group, "/any/:room/:id" (net/http: "/api/any/{room}/{id}"
//     without a method), the same WebSocket route registered for every
//     method (Echo's Any, Gin's Any) with Handler, the route middleware,
//     Middleware and Handler;
//   - in the same group, the hub's operational endpoints mounted with the
//     framework's wrap helper (echo.WrapHandler, gin.WrapH), as the
//     adapters' package docs show: "/admin/stats" (core.StatsHandler),
//     "/admin/rooms" (core.RoomsHandler), "/admin/livez"
//     (core.LiveHandler) and "/admin/readyz" (core.ReadyHandler), and,
//     when the adapter has them (Deprecated), its own StatsHandler and
//     RoomsHandler at "/admin/old-stats" and "/admin/old-rooms";
//   - client IPs from the peer address, or from X-Forwarded-For sent by a
//     loopback proxy when TrustLoopbackProxy is set.
type App struct {
	// Handler is the route handler. Required.
	Handler core.HandlerFunc
	// Middleware is connection middleware for the route. Optional.
	Middleware []core.MiddlewareFunc
	// Log receives what the framework itself logs: its logger, and its
	// recovery middleware (Echo's Recover, Gin's Recovery), which Mount
	// puts first on the router. Required.
	Log io.Writer
	// OnError, when set, receives the error the framework's chain ended
	// with, as the group's middleware sees it after the rest of the chain
	// (Echo: what next returned; Gin: each of c.Errors). Optional.
	OnError func(error)
	// JWTKey, when set, protects the group with the framework's JWT
	// middleware too (echo-jwt on Echo; on Gin, a bearer-token middleware
	// as Gin apps write one), after the middleware above: it refuses a
	// request without a valid HS256 bearer token signed with JWTKey with
	// 401, and stores the parsed *jwt.Token under "user". Optional.
	JWTKey []byte
	// TrustLoopbackProxy asks the framework to take the client IP from
	// X-Forwarded-For when the peer is a loopback address. Optional.
	TrustLoopbackProxy bool
}

// Adapter describes an adapter under test.
type Adapter struct {
	// Name names the adapter in failure messages. Required.
	Name string
	// Mount builds App on a new router of the framework, serving hub.
	// Required.
	Mount func(t *testing.T, hub *core.Hub, app App) http.Handler
	// Pattern is how the framework names the WebSocket route: the hub's
	// logs name it so ("/api/ws/:room/:id"). Required.
	Pattern string
	// PostOnGetStatus is the status the framework's router answers a
	// POST to the GET-only WebSocket route at the root with (405, or
	// Gin's default 404), before the hub sees it. Required.
	PostOnGetStatus int
	// PostOnGetJSON reports that the framework answers that POST with a
	// JSON body (Echo's error handler). Optional.
	PostOnGetJSON bool
	// Recovery reports that Mount puts the framework's recovery
	// middleware in front. Optional. Default false: the panic case checks
	// only the hub's side.
	Recovery bool
	// WriteFirst reports that Mount honours HeaderWriteFirst and
	// App.OnError. Optional. Default false: the case is skipped.
	WriteFirst bool
	// JWT reports that Mount honours App.JWTKey. Optional. Default false:
	// the JWT case is skipped.
	JWT bool
	// DeprecatedHandlers reports that Mount also serves the adapter's own
	// (deprecated) StatsHandler and RoomsHandler. Optional.
	DeprecatedHandlers bool
	// ProxyHeaders reports whether the framework can take the client IP
	// from a trusted proxy's X-Forwarded-For. Optional. Default false: the
	// trusted-proxy case is skipped.
	ProxyHeaders bool
	// Values reports whether the framework's middleware can hand values to
	// the connection. Optional. Default false: the values cases are
	// skipped.
	Values bool
	// EncodedSlashNotFound reports that the router, as configured by
	// Mount, matches routes on the decoded path, so a param holding %2F
	// finds no route (404) rather than arriving decoded. Optional. Default
	// false.
	EncodedSlashNotFound bool
}

// waitTimeout bounds every wait; it is a ceiling, never an expected
// duration.
const waitTimeout = 5 * time.Second

type testCase struct {
	name string
	run  func(t *testing.T, a Adapter)
}

var cases = []testCase{
	{"params", testParams},
	{"escaped params", testEscapedParams},
	{"utf-8 params", testUTF8Params},
	{"client IP ignores X-Forwarded-For by default", testClientIPDirect},
	{"client IP from a trusted proxy", testClientIPProxy},
	{"values from framework middleware", testValues},
	{"values stay each connection's own", testValuesPerConnection},
	{"headers on the 101", testHeaders},
	{"refused by connection middleware", testRefusedByMiddleware},
	{"refused by hub middleware", testRefusedByHubMiddleware},
	{"refused by route middleware", testRefusedByRouteMiddleware},
	{"claims from the framework's JWT group", testJWTGroup},
	{"upgrade after the response was written", testResponseWritten},
	{"middleware that never calls next", testSwallowed},
	{"rate limited with Retry-After", testRateLimited},
	{"handshake with another method", testMethod},
	{"POST on the GET route: the framework's router answers", testPostOnGet},
	{"not a websocket handshake", testNotHandshake},
	{"foreign origin", testForeignOrigin},
	{"refused by framework middleware in front", testRefusedInFront},
	{"hub shutting down", testShuttingDown},
	{"websocket outlives the server's read timeout", testReadTimeout},
	{"route pattern in the hub's logs", testRoutePattern},
	{"panicking route handler behind the framework's recovery", testPanic},
	{"connections at once in one room", testConcurrentRoom},
	{"operational endpoints through the framework's wrap", testOperational},
	{"a refusal in front is not the hub's to count", testRefusedInFrontUncounted},
}

// CaseNames returns the names of the contract's cases, in the order Run
// runs them as subtests.
func CaseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// Run runs every case of the contract against a as subtests of t.
// Every case has a hub and a server of its own, so they run in parallel.
func Run(t *testing.T, a Adapter) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, a)
		})
	}
	t.Run("authorization", func(t *testing.T) { testAuthorization(t, a) }) // authz.go
}

// welcome is what the suite's route handler sends after the upgrade: the
// facts the adapter copied from its framework.
type welcome struct {
	Params map[string]string `json:"params"`
	IP     string            `json:"ip"`
	User   string            `json:"user"`
	Tenant string            `json:"tenant"`
}

// handle is the suite's route handler: it answers "whoami" with the
// connection's "user" and sends a welcome.
func handle(c *core.Conn) error {
	if err := c.On("whoami", func(c *core.Conn, _ json.RawMessage) (any, error) {
		user, _ := c.Get("user").(string)
		return user, nil
	}); err != nil {
		return err
	}
	w := welcome{Params: map[string]string{}, IP: c.IP()}
	for _, p := range c.Params() {
		w.Params[p.Name] = p.Value
	}
	w.User, _ = c.Get("user").(string)
	w.Tenant, _ = c.Get("tenant").(string)
	return c.Emit("welcome", w)
}

// env is one case's hub and server.
type env struct {
	hub    *core.Hub
	srv    *httptest.Server
	hubLog *wstest.LogBuffer
	srvLog *wstest.LogBuffer
	fwLog  *wstest.LogBuffer // the framework's own logs (App.Log)
	active sync.WaitGroup
	// quietErrors lets a case whose route handler fails on purpose leave
	// errors in the hub's log.
	quietErrors bool
}

// start mounts app on a fresh hub and serves it; configure, when set, may
// change the server before it starts.
func start(t *testing.T, a Adapter, app App, configure func(*http.Server)) *env {
	t.Helper()
	e := &env{hubLog: &wstest.LogBuffer{}, srvLog: &wstest.LogBuffer{}, fwLog: &wstest.LogBuffer{}}
	app.Log = e.fwLog
	hub, err := core.NewHub(core.Config{Logger: slog.New(slog.NewTextHandler(e.hubLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.hub = hub
	if app.Handler == nil {
		app.Handler = handle
	}
	h := a.Mount(t, hub, app)
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.active.Add(1)
		defer e.active.Done()
		h.ServeHTTP(w, r)
	}))
	e.srv.Config.ErrorLog = log.New(e.srvLog, "", 0)
	if configure != nil {
		configure(e.srv.Config)
	}
	e.srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("%s: hub.Shutdown: %v", a.Name, err)
		}
		e.srv.Close()
		e.active.Wait()
		for name, buf := range map[string]*wstest.LogBuffer{"http.Server": e.srvLog, "hub": e.hubLog, "framework": e.fwLog} {
			if s := buf.String(); strings.Contains(s, "hijacked") || !(e.quietErrors && buf == e.hubLog) && strings.Contains(s, "level=ERROR") {
				t.Errorf("%s: %s logged:\n%s", a.Name, name, s)
			}
		}
		if t.Failed() && e.hubLog.String() != "" {
			t.Logf("hub log:\n%s", e.hubLog.String())
		}
	})
	return e
}

func (e *env) url(path string) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
}

// dial opens a WebSocket that the test's cleanup closes.
func (e *env) dial(t *testing.T, path string, h http.Header) (*websocket.Conn, *http.Response) {
	t.Helper()
	ws, resp, err := tryDial(e.url(path), h)
	if err != nil {
		status, body := 0, ""
		if resp != nil {
			status = resp.StatusCode
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		t.Fatalf("dial %s: %v (status %d, body %q)", path, err, status, body)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, resp
}

func tryDial(url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	return websocket.DefaultDialer.DialContext(ctx, url, h)
}

// readEvent reads until the named event arrives.
func readEvent(t *testing.T, ws *websocket.Conn, event string, v any) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	defer func() { _ = ws.SetReadDeadline(time.Time{}) }()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %q: %v", event, err)
		}
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
			Ack   int             `json:"ack"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.Event == event || (event == "ack" && m.Ack != 0) {
			if v != nil {
				if err := json.Unmarshal(m.Data, v); err != nil {
					t.Fatalf("%q data %s: %v", event, m.Data, err)
				}
			}
			return
		}
		if m.Event == "error" {
			t.Fatalf("waiting for %q: error event %s", event, m.Data)
		}
	}
}

func welcomeOf(t *testing.T, ws *websocket.Conn) welcome {
	t.Helper()
	var w welcome
	readEvent(t, ws, "welcome", &w)
	return w
}

// whoami asks the connection for its "user" value and returns the reply.
func whoami(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"event":"whoami","ack":1}`)); err != nil {
		t.Fatal(err)
	}
	var user string
	readEvent(t, ws, "ack", &user)
	return user
}

// handshake sends a GET, a WebSocket handshake when upgrade is set, and
// returns the response with its body read.
func (e *env) handshake(t *testing.T, path string, upgrade bool, h http.Header) (*http.Response, []byte) {
	t.Helper()
	return Handshake(t, e.srv, http.MethodGet, path, upgrade, h)
}

// expectRefusal checks a refused handshake: the status, a JSON body
// {"status":...,"message":...} when message is set, and the hub's counters.
func (e *env) expectRefusal(t *testing.T, resp *http.Response, body []byte, status int, message, reason string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if message != "" {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q, want JSON", ct)
		}
		// Every adapter writes the same bytes (core.ErrorBody).
		if want := fmt.Sprintf(`{"message":%q,"status":%d}`, message, status); string(bytes.TrimSpace(body)) != want {
			t.Errorf("body = %s, want %s", bytes.TrimSpace(body), want)
		}
		var got struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if got.Status != status || got.Message != message {
			t.Errorf("body = %s, want status %d message %q", bytes.TrimSpace(body), status, message)
		}
	}
	st := e.hub.Stats()
	if reason != "" && st.Rejected[reason] != 1 {
		t.Errorf("Stats.Rejected = %v, want %s: 1", st.Rejected, reason)
	}
	if reason == "" && len(st.Rejected) != 0 {
		t.Errorf("Stats.Rejected = %v, want none: the hub never saw the request", st.Rejected)
	}
	if st.Accepted != 0 || st.Connections != 0 {
		t.Errorf("Stats: %d accepted, %d connections, want none", st.Accepted, st.Connections)
	}
}

func expectParams(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("params = %q, want %q", got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("param %q = %q, want %q", k, got[k], v)
		}
	}
}

func testParams(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/7", nil)
	expectParams(t, welcomeOf(t, ws).Params, map[string]string{"room": "lobby", "id": "7"})
}

func testEscapedParams(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	path := Prefix + "/ws/a%2Fb/100%25"
	if a.EncodedSlashNotFound {
		resp, body := e.handshake(t, path, true, nil)
		e.expectRefusal(t, resp, body, http.StatusNotFound, "", "")
		// Without the slash, an escaped percent still decodes.
		ws, _ := e.dial(t, Prefix+"/ws/a%20b/100%25", nil)
		expectParams(t, welcomeOf(t, ws).Params, map[string]string{"room": "a b", "id": "100%"})
		return
	}
	ws, _ := e.dial(t, path, nil)
	expectParams(t, welcomeOf(t, ws).Params, map[string]string{"room": "a/b", "id": "100%"})
}

func testUTF8Params(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/caf%C3%A9/%E2%9C%93", nil)
	expectParams(t, welcomeOf(t, ws).Params, map[string]string{"room": "café", "id": "✓"})
}

func testClientIPDirect(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if ip := welcomeOf(t, ws).IP; ip != "127.0.0.1" {
		t.Errorf("c.IP() = %q, want the peer 127.0.0.1: X-Forwarded-For is not trusted by default", ip)
	}
}

func testClientIPProxy(t *testing.T, a Adapter) {
	if !a.ProxyHeaders {
		t.Skipf("%s has no trusted-proxy setting: c.IP() is the peer address", a.Name)
	}
	e := start(t, a, App{TrustLoopbackProxy: true}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{"X-Forwarded-For": {"203.0.113.7"}})
	if ip := welcomeOf(t, ws).IP; ip != "203.0.113.7" {
		t.Errorf("c.IP() = %q, want 203.0.113.7 from the trusted loopback proxy", ip)
	}
}

func testValues(t *testing.T, a Adapter) {
	if !a.Values {
		t.Skipf("%s has no framework values", a.Name)
	}
	seen := make(chan string, 1)
	mw := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			user, _ := c.Get("user").(string)
			seen <- user // what rushws middleware sees, before the upgrade
			return next(c)
		}
	}
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{mw}}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{HeaderUser: {"alice"}})
	w := welcomeOf(t, ws)
	if w.User != "alice" || w.Tenant != Tenant {
		t.Errorf("route handler saw user %q tenant %q, want alice %s", w.User, w.Tenant, Tenant)
	}
	if got := <-seen; got != "alice" {
		t.Errorf("connection middleware saw user %q, want alice", got)
	}
	if got := whoami(t, ws); got != "alice" {
		t.Errorf("event handler saw user %q, want alice", got)
	}
}

func testValuesPerConnection(t *testing.T, a Adapter) {
	if !a.Values {
		t.Skipf("%s has no framework values", a.Name)
	}
	const n = 30
	e := start(t, a, App{}, nil)
	conns := make([]*websocket.Conn, n)
	for i := range conns { // one after another: each reuses the framework's pooled context
		conns[i], _ = e.dial(t, Prefix+"/ws/lobby/1", http.Header{HeaderUser: {fmt.Sprintf("user-%d", i)}})
		if w := welcomeOf(t, conns[i]); w.User != fmt.Sprintf("user-%d", i) {
			t.Fatalf("connection %d: welcome user %q", i, w.User)
		}
	}
	// A plain request without the header reuses the context once more.
	if resp, _ := e.handshake(t, Prefix+"/ws/lobby/1", false, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET: status %d, want 400", resp.StatusCode)
	}
	for i, ws := range conns {
		if got, want := whoami(t, ws), fmt.Sprintf("user-%d", i); got != want {
			t.Errorf("connection %d: user %q after later requests, want %q", i, got, want)
		}
	}
}

func testHeaders(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	ws, resp := e.dial(t, Prefix+"/ws/lobby/1", nil)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status = %d, want 101", resp.StatusCode)
	}
	for k, want := range map[string]string{HeaderGroup: "api", HeaderRoute: "ws", "Upgrade": "websocket"} {
		if got := resp.Header.Get(k); !strings.EqualFold(got, want) {
			t.Errorf("101 header %s = %q, want %q", k, got, want)
		}
	}
	welcomeOf(t, ws)
}

func testRefusedByMiddleware(t *testing.T, a Adapter) {
	deny := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			return &core.HTTPError{Status: http.StatusUnauthorized, Message: "who are you?",
				Header: http.Header{"Www-Authenticate": {"Bearer"}}}
		}
	}
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{deny}}, nil)
	ws, resp, err := tryDial(e.url(Prefix+"/ws/lobby/1"), nil)
	if err == nil {
		_ = ws.Close()
		t.Fatal("dial succeeded, want 401")
	}
	if resp == nil {
		t.Fatalf("dial: %v, want an HTTP 401", err)
	}
	body, _ := io.ReadAll(resp.Body)
	e.expectRefusal(t, resp, body, http.StatusUnauthorized, "who are you?", "unauthorized")
	for k, want := range map[string]string{"Www-Authenticate": "Bearer", HeaderGroup: "api"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("refusal header %s = %q, want %q", k, got, want)
		}
	}
}

func testRefusedByHubMiddleware(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	e.hub.Use(func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if c.Request().Header.Get("X-Token") != "open-sesame" {
				return core.NewHTTPError(http.StatusUnauthorized, "token required")
			}
			return next(c)
		}
	})
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, http.StatusUnauthorized, "token required", core.RejectUnauthorized)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{"X-Token": {"open-sesame"}})
	welcomeOf(t, ws)
}

func testRefusedByRouteMiddleware(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	refuse := http.Header{HeaderRefuseRoute: {"1"}}
	paths := []string{Prefix + "/ws/lobby/1", Prefix + "/any/lobby/1"} // WSWithConfig, HandlerWithConfig
	for _, path := range paths {
		resp, body := e.handshake(t, path, true, refuse)
		e.expectRefusal(t, resp, body, RefuseStatus, "", "")
		if !json.Valid(body) {
			t.Errorf("%s: body %q, want the framework's JSON", path, body)
		}
	}
	for _, path := range paths {
		ws, resp := e.dial(t, path, nil)
		if got := resp.Header.Get(HeaderRoute); got != "ws" {
			t.Errorf("%s: 101 header %s = %q, want ws from the route middleware", path, HeaderRoute, got)
		}
		welcomeOf(t, ws)
	}
	ws, _ := e.dial(t, "/ws/lobby/1", refuse) // a route without that middleware
	welcomeOf(t, ws)
}

// jwtKey signs the tokens of the JWT case.
var jwtKey = []byte("test-secret-key")

// SignToken returns an HS256 token for sub, valid for an hour, signed with
// key.
func SignToken(t *testing.T, key []byte, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub,
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// whoHandler reads the framework's JWT with c.Get("user"), as the
// framework's own handlers would, greets with the subject, and answers
// "whoami" with it from then on.
func whoHandler(c *core.Conn) error {
	token, ok := c.Get("user").(*jwt.Token)
	if !ok {
		return fmt.Errorf("no token in c.Get(\"user\"): %T", c.Get("user"))
	}
	sub, err := token.Claims.GetSubject()
	if err != nil {
		return err
	}
	if err := c.On("whoami", func(c *core.Conn, _ json.RawMessage) (any, error) {
		token, _ := c.Get("user").(*jwt.Token)
		sub, _ := token.Claims.GetSubject()
		return nil, c.Emit("me", sub)
	}); err != nil {
		return err
	}
	return c.Emit("welcome", sub)
}

// testJWTGroup is an existing app adding a WebSocket route in one line
// inside a group protected by the framework's JWT middleware: the route
// handler reads the claims with c.Get("user"), every connection keeps its
// own after the framework reuses its pooled context, and requests without
// a valid token are refused by the group before the hub sees them.
func testJWTGroup(t *testing.T, a Adapter) {
	if !a.JWT {
		t.Skipf("%s has no JWT middleware of its framework", a.Name)
	}
	e := start(t, a, App{Handler: whoHandler, JWTKey: jwtKey}, nil)
	const users = 12
	conns := make([]*websocket.Conn, users)
	for i := range conns {
		sub := fmt.Sprintf("user-%d", i)
		ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{"Authorization": {"Bearer " + SignToken(t, jwtKey, sub)}})
		var got string
		ExpectEvent(t, ws, "welcome", &got)
		if got != sub {
			t.Fatalf("connection %d: welcome %q, want %q", i, got, sub)
		}
		conns[i] = ws
	}
	for i, ws := range conns {
		MustEmit(t, ws, "whoami", nil)
		var got string
		ExpectEvent(t, ws, "me", &got)
		if want := fmt.Sprintf("user-%d", i); got != want {
			t.Errorf("connection %d: c.Get(\"user\") is %q after later requests, want %q", i, got, want)
		}
	}
	for name, h := range map[string]http.Header{
		"no token":  nil,
		"bad token": {"Authorization": {"Bearer " + SignToken(t, jwtKey, "mallory") + "x"}},
	} {
		_, resp, err := tryDial(e.url(Prefix+"/ws/lobby/1"), h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: dial error %v, want 401 from the group", name, err)
		}
	}
	if st := e.hub.Stats(); len(st.Rejected) != 0 || st.Accepted != users {
		t.Errorf("Stats: rejected %v accepted %d, want none and %d: the group refuses before the hub", st.Rejected, st.Accepted, users)
	}
	for _, ws := range conns {
		CloseClient(ws)
	}
	WaitNoConnections(t, e.hub)
}

// testResponseWritten: once a middleware has written the response status,
// no upgrade can follow. The handshake fails for the client with that
// status, the hub counts no connection, and the error the framework's
// loggers see names the route and the cause.
func testResponseWritten(t *testing.T, a Adapter) {
	if !a.WriteFirst {
		t.Skipf("%s: no framework chain to write first", a.Name)
	}
	errs := make(chan string, 8)
	e := start(t, a, App{OnError: func(err error) { errs <- err.Error() }}, nil)
	ws, resp, err := tryDial(e.url(Prefix+"/ws/lobby/1"), http.Header{HeaderWriteFirst: {"1"}})
	if err == nil {
		_ = ws.Close()
		t.Fatal("dial succeeded after the response was written, want a failed handshake")
	}
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("dial: %v, want the 200 the middleware wrote", err)
	}
	want := a.Name + `: cannot upgrade "` + a.Pattern + `" to a WebSocket: an earlier handler already wrote the response (status 200)`
	select {
	case got := <-errs:
		if got != want {
			t.Errorf("error:\n got %s\nwant %s", got, want)
		}
	case <-time.After(waitTimeout):
		t.Errorf("no error reached the framework, want %s", want)
	}
	e.active.Wait() // the handler has returned: every error is in
	if n := len(errs); n != 0 {
		t.Errorf("%d more errors reached the framework, want one", n)
	}
	if st := e.hub.Stats(); st.Accepted != 0 || st.Connections != 0 || len(st.Rejected) != 0 {
		t.Errorf("Stats: accepted %d connections %d rejected %v, want none", st.Accepted, st.Connections, st.Rejected)
	}
}

func testSwallowed(t *testing.T, a Adapter) {
	swallow := func(core.HandlerFunc) core.HandlerFunc { return func(*core.Conn) error { return nil } }
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{swallow}}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, http.StatusForbidden, "connection refused", core.RejectMiddleware)
}

func testRateLimited(t *testing.T, a Adapter) {
	limit := func(core.HandlerFunc) core.HandlerFunc {
		return func(*core.Conn) error {
			return &core.HTTPError{Status: http.StatusTooManyRequests, Message: "slow down", Header: http.Header{"Retry-After": {"7"}}}
		}
	}
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{limit}}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, http.StatusTooManyRequests, "slow down", core.RejectRateLimited)
	if got := resp.Header.Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After = %q, want 7", got)
	}
}

func testMethod(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	resp, body := Handshake(t, e.srv, http.MethodPost, Prefix+"/any/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, http.StatusMethodNotAllowed, "websocket handshake must use GET", core.RejectMethod)
	if got := resp.Header.Get("Allow"); got != "GET" {
		t.Errorf("Allow = %q, want GET", got)
	}
	ws, _ := e.dial(t, Prefix+"/any/lobby/1", nil) // the same route upgrades a GET
	welcomeOf(t, ws)
}

func testPostOnGet(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	resp, body := Handshake(t, e.srv, http.MethodPost, "/ws/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, a.PostOnGetStatus, "", "")
	if ct := resp.Header.Get("Content-Type"); a.PostOnGetJSON && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want the framework's JSON", ct)
	}
	ws, _ := e.dial(t, "/ws/lobby/1", nil) // mounted by hand, the route upgrades a GET
	if w := welcomeOf(t, ws); w.Params["room"] != "lobby" {
		t.Errorf("params = %v, want room lobby", w.Params)
	}
}

func testNotHandshake(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", false, nil)
	e.expectRefusal(t, resp, body, http.StatusBadRequest, "not a websocket handshake", "bad_handshake")
	if got := resp.Header.Get("Upgrade"); got != "websocket" {
		t.Errorf("Upgrade header = %q, want websocket", got)
	}
}

func testForeignOrigin(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, http.Header{"Origin": {"https://evil.example"}})
	e.expectRefusal(t, resp, body, http.StatusForbidden, "origin not allowed", "origin")
}

func testRefusedInFront(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, http.Header{HeaderRefuse: {"1"}})
	e.expectRefusal(t, resp, body, RefuseStatus, "", "")
}

func testShuttingDown(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	if err := e.hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 (body %s)", resp.StatusCode, body)
	}
	if !slices.Contains([]string{"application/json; charset=utf-8", "application/json"}, resp.Header.Get("Content-Type")) {
		t.Errorf("Content-Type = %q, want JSON", resp.Header.Get("Content-Type"))
	}
}

func testReadTimeout(t *testing.T, a Adapter) {
	const timeout = 100 * time.Millisecond
	e := start(t, a, App{}, func(s *http.Server) {
		s.ReadTimeout = timeout
		s.WriteTimeout = timeout
		s.IdleTimeout = timeout
		s.ReadHeaderTimeout = timeout
	})
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", http.Header{HeaderUser: {"alice"}})
	welcomeOf(t, ws)
	// Idle past every server timeout: a connection that sends nothing is
	// dropped after ReadHeaderTimeout, and one left idle after a request
	// after IdleTimeout, which began after the WebSocket's handshake, so
	// its ReadTimeout and WriteTimeout have passed too.
	for _, req := range []string{"", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"} {
		nc, err := net.Dial("tcp", e.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write([]byte(req))
		_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
		_, err = io.Copy(io.Discard, nc) // until the server closes it
		_ = nc.Close()
		if err != nil {
			t.Fatalf("the server did not close an idle connection after its timeouts: %v", err)
		}
	}
	if got := whoami(t, ws); a.Values && got != "alice" {
		t.Errorf("whoami after the server's timeouts = %q, want alice", got)
	}
}

func testPanic(t *testing.T, a Adapter) {
	e := start(t, a, App{Handler: func(*core.Conn) error { panic("boom") }}, nil)
	e.quietErrors = true
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", nil)
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, core.CloseInternal) {
		t.Errorf("read after a panicking handler: %v, want close 1011", err)
	}
	_ = ws.Close()
	WaitNoConnections(t, e.hub)
	e.active.Wait()
	if !strings.Contains(e.hubLog.String(), "boom") {
		t.Errorf("the hub did not log the panic:\n%s", e.hubLog.String())
	}
	if s := e.fwLog.String(); a.Recovery && strings.Contains(s, "boom") {
		t.Errorf("the framework's recovery saw the panic, which the hub recovers:\n%s", s)
	}
}

func testRoutePattern(t *testing.T, a Adapter) {
	failed := func(c *core.Conn) error { return fmt.Errorf("no such game %q", c.Param("id")) }
	e := start(t, a, App{Handler: failed}, nil)
	e.quietErrors = true
	ws, _ := e.dial(t, Prefix+"/ws/lobby/42", nil)
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, core.CloseInternal) {
				t.Fatalf("read: %v, want close %d", err, core.CloseInternal)
			}
			break
		}
	}
	logs := e.hubLog.String()
	if !strings.Contains(logs, "route handler error") || !strings.Contains(logs, "route="+a.Pattern+" ") {
		t.Errorf("the hub's log does not name the route %s:\n%s", a.Pattern, logs)
	}
}

func testConcurrentRoom(t *testing.T, a Adapter) {
	const clients = 20
	e := start(t, a, App{Handler: Chat}, nil)
	conns := make([]*websocket.Conn, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			ws, _, err := tryDial(e.url(Prefix+"/ws/party/1"), nil)
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %w", i, err)
				return
			}
			conns[i] = ws
			if _, err := ReadEvent(ws, "welcome"); err != nil {
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
	if info, ok := e.hub.Room("party"); !ok || info.Members != clients {
		t.Fatalf("room party = %+v (exists %v), want %d members", info, ok, clients)
	}
	n, err := e.hub.To("party").Emit("news", map[string]int{"n": 1})
	if err != nil || n != clients {
		t.Fatalf("Emit = %d, %v; want %d, nil", n, err, clients)
	}
	errs = make(chan error, clients)
	for i, ws := range conns {
		wg.Go(func() {
			data, err := ReadEvent(ws, "news")
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			if string(data) != `{"n":1}` {
				errs <- fmt.Errorf("client %d: news data %s", i, data)
			}
			CloseClient(ws)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	WaitNoConnections(t, e.hub)
	if st := e.hub.Stats(); st.Accepted != clients || st.Rooms != 0 {
		t.Errorf("Stats: accepted %d rooms %d, want %d 0", st.Accepted, st.Rooms, clients)
	}
}

func testOperational(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	get := func(path string, status int, v any) {
		t.Helper()
		resp, body := e.handshake(t, Prefix+path, false, nil)
		if resp.StatusCode != status {
			t.Fatalf("GET %s: status %d, want %d (body %s)", path, resp.StatusCode, status, body)
		}
		if cc := resp.Header.Get("Cache-Control"); path != "/admin/livez" && path != "/admin/readyz" && cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, cc)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	var st map[string]any
	get("/admin/stats", http.StatusOK, &st)
	if st["connections"] != float64(0) {
		t.Errorf("stats before any connection: connections = %v, want 0", st["connections"])
	}
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", nil)
	welcomeOf(t, ws)
	if err := e.hub.Connections()[0].Join("lobby"); err != nil {
		t.Fatal(err)
	}
	get("/admin/stats", http.StatusOK, &st)
	if st["connections"] != float64(1) || st["accepted"] != float64(1) || st["rooms"] != float64(1) {
		t.Errorf("stats: connections %v accepted %v rooms %v, want 1 1 1", st["connections"], st["accepted"], st["rooms"])
	}
	roomsPaths := []string{"/admin/rooms"}
	if a.DeprecatedHandlers {
		roomsPaths = append(roomsPaths, "/admin/old-rooms")
		var old map[string]any
		get("/admin/old-stats", http.StatusOK, &old)
		if old["connections"] != float64(1) || old["accepted"] != float64(1) || old["rooms"] != float64(1) {
			t.Errorf("deprecated StatsHandler: connections %v accepted %v rooms %v, want 1 1 1", old["connections"], old["accepted"], old["rooms"])
		}
	}
	for _, path := range roomsPaths {
		var rooms []core.RoomInfo
		get(path, http.StatusOK, &rooms)
		if len(rooms) != 1 || rooms[0].Name != "lobby" || rooms[0].Members != 1 {
			t.Errorf("%s = %+v, want lobby with 1 member", path, rooms)
		}
	}
	var room struct {
		Name    string            `json:"name"`
		Members int               `json:"members"`
		Conns   []json.RawMessage `json:"conns"`
	}
	get("/admin/rooms?room=lobby&members=1&limit=1", http.StatusOK, &room)
	if room.Name != "lobby" || room.Members != 1 || len(room.Conns) != 1 {
		t.Errorf("?room=lobby&members=1: %+v, want lobby with its 1 member listed", room)
	}
	var refusal map[string]any
	get("/admin/rooms?room=nowhere", http.StatusNotFound, &refusal)
	var health map[string]any
	get("/admin/livez", http.StatusOK, &health)
	get("/admin/readyz", http.StatusOK, &health)
	_ = ws.Close()
	WaitFor(t, "no connection left", func() bool { return e.hub.Len() == 0 })
	get("/admin/stats", http.StatusOK, &st)
	if st["connections"] != float64(0) {
		t.Errorf("after close: connections = %v, want 0", st["connections"])
	}
	if err := e.hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	get("/admin/readyz", http.StatusServiceUnavailable, &health)
	get("/admin/livez", http.StatusServiceUnavailable, &health) // Shutdown has returned: closed
}

// testRefusedInFrontUncounted states the limit every adapter documents: a
// request refused by the framework's middleware before the route handler
// runs never reaches the hub, so neither Stats.Rejected nor the metrics
// built on it count it; the framework's logger does.
func testRefusedInFrontUncounted(t *testing.T, a Adapter) {
	e := start(t, a, App{}, nil)
	for range 3 {
		resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, http.Header{HeaderRefuse: {"1"}})
		e.expectRefusal(t, resp, body, RefuseStatus, "", "")
	}
	if st := e.hub.Stats(); len(st.Rejected) != 0 || st.Errors != 0 {
		t.Errorf("Stats: rejected %v, errors %d after refusals in front, want none: the hub never saw them", st.Rejected, st.Errors)
	}
}
