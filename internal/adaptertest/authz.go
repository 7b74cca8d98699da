package adaptertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
	"github.com/rushws/rushws/middleware"
)

// The authorization part of the contract: the JWT middleware and the
// authorization rules of package middleware, given to the route as
// connection middleware, behave the same behind every adapter. A refused
// handshake is 403 (401 without claims) before the upgrade, or 4403 after
// it for a route that asks; a refused event is "forbidden", as an error
// event or as the ack's error; every refusal is counted in Stats and in
// the metrics package.

// authzSecret signs the suite's tokens (HS256 wants 32 bytes or more).
var authzSecret = []byte("adaptertest-secret-of-32-bytes!!")

// authzToken returns a token for alice with the given roles and
// permissions, valid for an hour.
func authzToken(t *testing.T, roles, perms []string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "roles": roles, "permissions": perms, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(authzSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authzJWT(t *testing.T) core.MiddlewareFunc {
	t.Helper()
	mw, err := middleware.JWT(middleware.JWTConfig{SigningKey: authzSecret})
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// testAuthorization runs the authorization cases as subtests.
func testAuthorization(t *testing.T, a Adapter) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, a Adapter)
	}{
		{"role refused before the upgrade: 403", testAuthzHandshake403},
		{"no claims refused before the upgrade: 401", testAuthzHandshake401},
		{"role refused after the upgrade: 4403", testAuthzHandshake4403},
		{"event refused: forbidden, ack answered with the error", testAuthzEvents},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, a) })
	}
}

// authzMetric returns the value of a counter with a "reason" label, as the
// metrics package exports it for hub.
func authzMetric(t *testing.T, hub *core.Hub, name, reason string) float64 {
	t.Helper()
	col, err := metrics.NewCollector(hub, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q} among the metrics", name, reason)
	return 0
}

func testAuthzHandshake403(t *testing.T, a Adapter) {
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{authzJWT(t), middleware.RequireRole("admin").Handshake}}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, bearerHeader(authzToken(t, []string{"user"}, nil)))
	e.expectRefusal(t, resp, body, http.StatusForbidden, `role "admin" required`, "forbidden")
	if v := authzMetric(t, e.hub, "rushws_connections_rejected_total", "forbidden"); v != 1 {
		t.Errorf(`rushws_connections_rejected_total{reason="forbidden"} = %v, want 1`, v)
	}
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", bearerHeader(authzToken(t, []string{"admin"}, nil)))
	welcomeOf(t, ws)
}

func testAuthzHandshake401(t *testing.T, a Adapter) {
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{middleware.RequireRole("admin").Handshake}}, nil)
	resp, body := e.handshake(t, Prefix+"/ws/lobby/1", true, nil)
	e.expectRefusal(t, resp, body, http.StatusUnauthorized, "authentication required", "unauthorized")
	if got := resp.Header.Get("Www-Authenticate"); got != "Bearer" {
		t.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
}

func testAuthzHandshake4403(t *testing.T, a Adapter) {
	authz, err := middleware.NewAuthorizer(middleware.AuthzConfig{CloseOnFailure: true})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, a, App{Middleware: []core.MiddlewareFunc{authzJWT(t), authz.RequireRole("admin").Handshake}}, nil)
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", bearerHeader(authzToken(t, []string{"user"}, nil)))
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, b, err := ws.ReadMessage()
		if err == nil {
			if strings.Contains(string(b), `"welcome"`) {
				t.Fatal("the route handler ran for a refused connection")
			}
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != core.CloseForbidden || ce.Text != `role "admin" required` {
			t.Fatalf("read: %v, want close 4403 role \"admin\" required", err)
		}
		return
	}
}

// authzReply sends a message and returns the next one received, parsed.
func authzReply(t *testing.T, ws *websocket.Conn, msg string) (event string, ack int, errCode, errMsg string) {
	t.Helper()
	_ = ws.SetWriteDeadline(time.Now().Add(waitTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("waiting for the reply to %s: %v", msg, err)
	}
	var m struct {
		Event string          `json:"event"`
		Ack   int             `json:"ack"`
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %s: %v", b, err)
	}
	if m.Event == "error" {
		var d struct{ Code, Message string }
		_ = json.Unmarshal(m.Data, &d)
		return m.Event, m.Ack, d.Code, d.Message
	}
	if m.Error != nil {
		return m.Event, m.Ack, m.Error.Code, m.Error.Message
	}
	return m.Event, m.Ack, "", ""
}

// testAuthzEvents gives the route event middleware (a permission rule for
// every event) and an event a rule of its own (a role), and checks the
// refusals both ways, the handler not running, and the counts.
func testAuthzEvents(t *testing.T, a Adapter) {
	ran := make(chan string, 8)
	handler := func(c *core.Conn) error {
		if err := c.On("ban", func(*core.Conn, json.RawMessage) (any, error) {
			ran <- "ban"
			return "banned", nil
		}, middleware.RequireRole("moderator").Event); err != nil {
			return err
		}
		return handle(c)
	}
	e := start(t, a, App{Handler: handler, Middleware: []core.MiddlewareFunc{
		authzJWT(t), core.EventMiddleware(middleware.RequirePermission("chat").Event),
	}}, nil)

	// Without the permission: every event of the route is refused.
	ws, _ := e.dial(t, Prefix+"/ws/lobby/1", bearerHeader(authzToken(t, []string{"moderator"}, nil)))
	welcomeOf(t, ws)
	if ev, _, code, msg := authzReply(t, ws, `{"event":"whoami"}`); ev != "error" || code != core.CodeForbidden || msg != `permission "chat" required` {
		t.Errorf("refused event: %s %s %q, want an error event forbidden", ev, code, msg)
	}
	if _, ack, code, _ := authzReply(t, ws, `{"event":"whoami","ack":7}`); ack != 7 || code != core.CodeForbidden {
		t.Errorf("refused event with ack: ack %d code %q, want ack 7 forbidden", ack, code)
	}

	// With it, but not the role the "ban" event needs.
	ws2, _ := e.dial(t, Prefix+"/ws/lobby/2", bearerHeader(authzToken(t, []string{"user"}, []string{"chat"})))
	welcomeOf(t, ws2)
	if _, ack, code, msg := authzReply(t, ws2, `{"event":"ban","ack":1}`); ack != 1 || code != core.CodeForbidden || msg != `role "moderator" required` {
		t.Errorf("ban without the role: ack %d %s %q, want forbidden", ack, code, msg)
	}
	if _, ack, code, _ := authzReply(t, ws2, `{"event":"whoami","ack":2}`); ack != 2 || code != "" {
		t.Errorf("whoami with the permission: ack %d error %q, want a reply", ack, code)
	}

	// With both.
	ws3, _ := e.dial(t, Prefix+"/ws/lobby/3", bearerHeader(authzToken(t, []string{"moderator"}, []string{"chat"})))
	welcomeOf(t, ws3)
	if _, ack, code, _ := authzReply(t, ws3, `{"event":"ban","ack":1}`); ack != 1 || code != "" {
		t.Errorf("ban by a moderator: ack %d error %q, want a reply", ack, code)
	}
	if len(ran) != 1 {
		t.Errorf("the ban handler ran %d times, want once", len(ran))
	}

	st := e.hub.Stats()
	if st.EventsRefused[core.RefusePermission] != 2 || st.EventsRefused[core.RefuseRole] != 1 {
		t.Errorf("Stats.EventsRefused = %v, want permission 2, role 1", st.EventsRefused)
	}
	if v := authzMetric(t, e.hub, "rushws_events_refused_total", core.RefusePermission); v != 2 {
		t.Errorf(`rushws_events_refused_total{reason="permission"} = %v, want 2`, v)
	}
	if v := authzMetric(t, e.hub, "rushws_events_refused_total", core.RefuseRole); v != 1 {
		t.Errorf(`rushws_events_refused_total{reason="role"} = %v, want 1`, v)
	}
}
