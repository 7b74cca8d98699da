package core_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

func upgradeHeader() http.Header {
	return http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
}

func TestBadHandshakes(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	bystander := wstest.Dial(t, s.url("lobby"))
	roundTrip(t, bystander)

	with := func(mod func(h http.Header)) http.Header {
		h := upgradeHeader()
		mod(h)
		return h
	}
	tests := []struct {
		name   string
		method string
		header http.Header
		status int
		reason string
	}{
		{"plain GET", http.MethodGet, nil, 400, "bad_handshake"},
		{"POST", http.MethodPost, upgradeHeader(), 405, "method"},
		{"version 8", http.MethodGet, with(func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }), 400, "bad_handshake"},
		{"no key", http.MethodGet, with(func(h http.Header) { h.Del("Sec-Websocket-Key") }), 400, "bad_handshake"},
		{"short key", http.MethodGet, with(func(h http.Header) { h.Set("Sec-Websocket-Key", "c2hvcnQ=") }), 400, "bad_handshake"},
		{"no upgrade token", http.MethodGet, with(func(h http.Header) { h.Set("Connection", "keep-alive") }), 400, "bad_handshake"},
		{"foreign origin", http.MethodGet, with(func(h http.Header) { h.Set("Origin", "https://evil.example") }), 403, "origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.hub.Stats().Rejected[tt.reason]
			status, _, body := rawRequest(t, tt.method, s.url("lobby"), tt.header)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (body %s)", status, tt.status, body)
			}
			var got struct {
				Status  int    `json:"status"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.Status != tt.status || got.Message == "" {
				t.Fatalf("body = %s, want JSON with status and message", body)
			}
			if after := s.hub.Stats().Rejected[tt.reason]; after != before+1 {
				t.Fatalf("Rejected[%q] = %d, want %d", tt.reason, after, before+1)
			}
		})
	}
	roundTrip(t, bystander)
	if n := s.hub.Stats().Connections; n != 1 {
		t.Fatalf("Connections = %d, want 1", n)
	}
}

func TestSameOriginAllowed(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	origin := s.srv.URL // same scheme and host:port as the request's Host
	c := wstest.Dial(t, s.url("lobby"), wstest.WithOrigin(origin))
	roundTrip(t, c)
}

func TestHubFull(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{MaxConnections: 2}, chat)
	a := wstest.Dial(t, s.url("lobby"))
	b := wstest.Dial(t, s.url("lobby"))
	_, res, err := wstest.TryDial(context.Background(), s.url("lobby"))
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third dial: err %v, response %v; want 503", err, res)
	}
	if got := s.hub.Stats().Rejected["full"]; got != 1 {
		t.Fatalf("Rejected[full] = %d, want 1", got)
	}
	roundTrip(t, a)
	b.Close()
	// The client sees the 101 before the hub has registered the
	// connection: wait for both to be accepted and one to be gone.
	eventually(t, "a slot to free up", func() bool { st := s.hub.Stats(); return st.Accepted == 2 && st.Connections == 1 })
	c := wstest.Dial(t, s.url("lobby"))
	roundTrip(t, c)
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var order []string
	mark := func(name string) core.MiddlewareFunc {
		return func(next core.HandlerFunc) core.HandlerFunc {
			return func(c *core.Conn) error {
				order = append(order, name)
				c.Set(name, true)
				return next(c)
			}
		}
	}
	deny := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if c.Request().URL.Query().Get("token") != "good" {
				return &core.HTTPError{Status: http.StatusUnauthorized, Message: "missing token", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
			}
			c.Set("user", "ann")
			return next(c)
		}
	}
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		if c.Get("hub") != true || c.Get("route") != true {
			return &core.CloseError{Code: 4000, Reason: "middleware values missing"}
		}
		return c.Emit("hello", c.Get("user"))
	}, mark("route"), deny)
	s.hub.Use(mark("hub"))

	_, res, err := wstest.TryDial(context.Background(), s.url("x"))
	if err == nil || res.StatusCode != http.StatusUnauthorized || res.Header.Get("Www-Authenticate") != "Bearer" {
		t.Fatalf("without token: %v %v, want 401 with WWW-Authenticate", err, res)
	}
	if got := s.hub.Stats().Rejected["unauthorized"]; got != 1 {
		t.Fatalf("Rejected[unauthorized] = %d", got)
	}
	c := wstest.Dial(t, s.url("x")+"?token=good")
	var user string
	c.ExpectInto("hello", &user)
	if user != "ann" {
		t.Fatalf("user = %q", user)
	}
	if strings.Join(order, ",") != "hub,route,hub,route" {
		t.Fatalf("middleware order = %v, want hub before route", order)
	}
}

func TestCloseErrorAfterUpgrade(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, func(c *core.Conn) error {
		return &core.CloseError{Code: 4000, Reason: "go away"}
	})
	c := wstest.Dial(t, s.url("x"))
	if reason := c.ExpectClose(4000); reason != "go away" {
		t.Fatalf("reason = %q", reason)
	}
	eventually(t, "the hub to forget it", func() bool { return s.hub.Stats().Connections == 0 })
}

func TestRefusedAfterShutdown(t *testing.T) {
	t.Parallel()
	s := newServer(t, core.Config{}, chat)
	c := wstest.Dial(t, s.url("lobby"))
	if err := s.hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.ExpectClose(core.CloseGoingAway)
	_, res, err := wstest.TryDial(context.Background(), s.url("lobby"))
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v %v, want 503", err, res)
	}
	if got := s.hub.Stats().Rejected["shutdown"]; got != 1 {
		t.Fatalf("Rejected[shutdown] = %d", got)
	}
	if _, err := s.hub.Broadcast().Emit("x", 1); err != core.ErrHubClosed {
		t.Fatalf("Broadcast after shutdown: %v, want ErrHubClosed", err)
	}
}

func TestConnFacts(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	got := make(chan map[string]any, 1)
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	mux := http.NewServeMux()
	ws := hub.Handler(func(c *core.Conn) error {
		got <- map[string]any{
			"room": c.Param("room"), "ua": c.UserAgent(), "q": c.Request().URL.Query().Get("q"),
			"ip": c.IP(), "value": c.Context().Value(ctxKey{}), "id": len(c.ID()),
		}
		return nil
	})
	mux.Handle("GET /ws/{room}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "kept")))
	}))
	srv := newHTTPServer(t, mux)
	c := wstest.Dial(t, srv+"/ws/blue?q=1", wstest.WithHeader(http.Header{"User-Agent": {"probe/1"}}))
	facts := <-got
	want := map[string]any{"room": "blue", "ua": "probe/1", "q": "1", "ip": "127.0.0.1", "value": "kept", "id": 34}
	for k, v := range want {
		if facts[k] != v {
			t.Errorf("%s = %v, want %v", k, facts[k], v)
		}
	}
	c.Close()
}

func TestRefusedAfterJoinLeavesNoGhost(t *testing.T) {
	t.Parallel()
	joinThenRefuse := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if err := c.Join("lobby"); err != nil {
				return err
			}
			if c.Request().URL.Query().Get("ok") == "" {
				return core.NewHTTPError(http.StatusForbidden, "no")
			}
			return next(c)
		}
	}
	s := newServer(t, core.Config{}, chat, joinThenRefuse)
	if _, res, err := wstest.TryDial(context.Background(), s.url("lobby")); err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("dial: %v %v, want 403", err, res)
	}
	if r, ok := s.hub.Room("lobby"); ok {
		t.Fatalf("room lobby = %+v after a refused handshake, want none", r)
	}
	c := wstest.Dial(t, s.url("lobby")+"?ok=1")
	roundTrip(t, c)
	if r, _ := s.hub.Room("lobby"); r.Members != 1 {
		t.Fatalf("lobby members = %d, want 1", r.Members)
	}
}
