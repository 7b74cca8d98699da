package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
)

// session is a hub on net/http at /ws/{room}, with its collector on a
// registry of the test's own.
type session struct {
	hub *core.Hub
	srv *httptest.Server
	col *metrics.Collector
	reg *prometheus.Registry
}

func (s *session) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + path
}

// newSession starts a hub with cfg and the chat route handler, and a
// collector configured by mcfg.
func newSession(t *testing.T, cfg core.Config, mcfg metrics.Config, mw ...core.MiddlewareFunc) *session {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hub, err := core.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	col, err := metrics.NewCollector(hub, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(chat, mw...))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return &session{hub: hub, srv: srv, col: col, reg: reg}
}

// chat joins the room named in the URL; "chat" goes to the others in the
// room, "echo" comes back, "kick" closes the sender with 1008.
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
	if err := c.On("echo", func(c *core.Conn, data json.RawMessage) (any, error) {
		return nil, c.Emit("echo", data)
	}); err != nil {
		return err
	}
	return c.On("kick", func(c *core.Conn, _ json.RawMessage) (any, error) {
		return nil, c.Close(core.ClosePolicyViolation, "kicked")
	})
}

// client is a gorilla client whose reads run in the background, so the
// test can count exactly what arrived.
type client struct {
	ws   *websocket.Conn
	done chan struct{}

	mu    sync.Mutex
	msgs  int
	bytes int
	err   error // how the connection ended
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &client{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, data, err := ws.ReadMessage()
			c.mu.Lock()
			if err != nil {
				c.err = err
				c.mu.Unlock()
				return
			}
			c.msgs++
			c.bytes += len(data)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ws.Close()
		<-c.done
	})
	return c
}

// send writes one text message and returns its size.
func (c *client) send(t *testing.T, msg string) int {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	return len(msg)
}

func (c *client) received() (msgs, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs, c.bytes
}

// closeCode waits for the connection to end and returns the close code the
// client saw (1006 without a close frame).
func (c *client) closeCode(t *testing.T) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after 5s")
	}
	if ce, ok := c.err.(*websocket.CloseError); ok {
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lint fails the test for every problem promlint finds.
func lint(t *testing.T, c prometheus.Collector) {
	t.Helper()
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsLintFresh(t *testing.T) {
	t.Parallel()
	s := newSession(t, core.Config{}, metrics.Config{ConstLabels: prometheus.Labels{"hub": "chat"}})
	lint(t, s.col)
	// Every reason and class is there from the start, at zero.
	if n := testutil.CollectAndCount(s.col, "rushws_connections_rejected_total"); n != len(metrics.RejectReasons())+1 {
		t.Errorf("rejected series = %d, want %d (every reason and other)", n, len(metrics.RejectReasons())+1)
	}
	if n := testutil.CollectAndCount(s.col, "rushws_connections_closed_total"); n != len(core.CloseClasses()) {
		t.Errorf("closed series = %d, want %d", n, len(core.CloseClasses()))
	}
	// Without a broker, no broker series.
	if n := testutil.CollectAndCount(s.col, "rushws_broker_connected", "rushws_broker_published_total"); n != 0 {
		t.Errorf("broker series without a broker = %d, want 0", n)
	}
	// The registry gathers (pedantic checks included).
	if _, err := s.reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsScriptedSession runs a session with real clients and checks
// that every counter says exactly what happened.
func TestMetricsScriptedSession(t *testing.T) {
	t.Parallel()
	s := newSession(t, core.Config{PingInterval: -1}, metrics.Config{})
	url := s.wsURL("/ws/lobby")

	// Four clients join the lobby.
	a, b, c, d := dial(t, url), dial(t, url), dial(t, url), dial(t, url)
	eventually(t, "4 members in the lobby", func() bool {
		r, ok := s.hub.Room("lobby")
		return ok && r.Members == 4
	})

	// Refused handshakes: not an upgrade, wrong method, a foreign origin.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, s.srv.URL+"/ws/lobby", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	_, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, status %v, want 403", err, res)
	}

	// a says three things to the room (3 others each), b asks for two
	// echoes, c gets itself kicked.
	in := 0
	for i := range 3 {
		in += a.send(t, fmt.Sprintf(`{"event":"chat","data":"message %d"}`, i))
	}
	for i := range 2 {
		in += b.send(t, fmt.Sprintf(`{"event":"echo","data":{"n":%d}}`, i))
	}
	eventually(t, "every message delivered", func() bool {
		na, _ := a.received()
		nb, _ := b.received()
		nc, _ := c.received()
		nd, _ := d.received()
		return na == 0 && nb == 5 && nc == 3 && nd == 3
	})
	in += c.send(t, `{"event":"kick"}`)
	if code := c.closeCode(t); code != core.ClosePolicyViolation {
		t.Fatalf("kicked client saw close %d, want 1008", code)
	}

	// a says goodbye (1000), b closes with an app code, d vanishes.
	for _, cl := range []struct {
		c    *client
		code int
	}{{a, websocket.CloseNormalClosure}, {b, 4000}} {
		_ = cl.c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(cl.code, ""), time.Now().Add(time.Second))
		if got := cl.c.closeCode(t); got != cl.code {
			t.Fatalf("client closing with %d saw %d echoed", cl.code, got)
		}
	}
	_ = d.ws.NetConn().Close()
	eventually(t, "every connection finished", func() bool { return s.hub.Stats().Connections == 0 })

	out := 0
	for _, cl := range []*client{a, b, c, d} {
		_, n := cl.received()
		out += n
	}
	want := fmt.Sprintf(`
# HELP rushws_connections WebSocket connections open now.
# TYPE rushws_connections gauge
rushws_connections 0
# HELP rushws_rooms Rooms that exist now (with at least one local member).
# TYPE rushws_rooms gauge
rushws_rooms 0
# HELP rushws_connections_accepted_total WebSocket handshakes accepted (upgraded connections).
# TYPE rushws_connections_accepted_total counter
rushws_connections_accepted_total 4
# HELP rushws_connections_rejected_total WebSocket handshakes refused before the upgrade, by reason.
# TYPE rushws_connections_rejected_total counter
rushws_connections_rejected_total{reason="bad_handshake"} 1
rushws_connections_rejected_total{reason="forbidden"} 0
rushws_connections_rejected_total{reason="full"} 0
rushws_connections_rejected_total{reason="hijack"} 0
rushws_connections_rejected_total{reason="internal"} 0
rushws_connections_rejected_total{reason="method"} 1
rushws_connections_rejected_total{reason="middleware"} 0
rushws_connections_rejected_total{reason="origin"} 1
rushws_connections_rejected_total{reason="other"} 0
rushws_connections_rejected_total{reason="rate_limited"} 0
rushws_connections_rejected_total{reason="shutdown"} 0
rushws_connections_rejected_total{reason="subprotocol"} 0
rushws_connections_rejected_total{reason="too_many_connections"} 0
rushws_connections_rejected_total{reason="unauthorized"} 0
rushws_connections_rejected_total{reason="unavailable"} 0
# HELP rushws_connections_closed_total Connections ended, by the class of their close code.
# TYPE rushws_connections_closed_total counter
rushws_connections_closed_total{class="abnormal"} 1
rushws_connections_closed_total{class="app"} 1
rushws_connections_closed_total{class="going_away"} 0
rushws_connections_closed_total{class="internal"} 0
rushws_connections_closed_total{class="normal"} 1
rushws_connections_closed_total{class="other"} 0
rushws_connections_closed_total{class="policy"} 1
rushws_connections_closed_total{class="protocol"} 0
rushws_connections_closed_total{class="too_big"} 0
# HELP rushws_messages_received_total Messages received from clients.
# TYPE rushws_messages_received_total counter
rushws_messages_received_total 6
# HELP rushws_received_bytes_total Payload bytes of the messages received from clients.
# TYPE rushws_received_bytes_total counter
rushws_received_bytes_total %d
# HELP rushws_messages_sent_total Messages written to clients, one per recipient.
# TYPE rushws_messages_sent_total counter
rushws_messages_sent_total 11
# HELP rushws_sent_bytes_total Payload bytes of the messages written to clients, counted per recipient.
# TYPE rushws_sent_bytes_total counter
rushws_sent_bytes_total %d
# HELP rushws_errors_total Handler errors and panics, invalid input that closed a connection, and failed handshakes.
# TYPE rushws_errors_total counter
rushws_errors_total 0
# HELP rushws_slow_consumer_closes_total Connections closed because their send queue stayed full (SlowClose policy).
# TYPE rushws_slow_consumer_closes_total counter
rushws_slow_consumer_closes_total 0
# HELP rushws_dropped_messages_total Messages dropped for a connection whose send queue was full (SlowDrop policy).
# TYPE rushws_dropped_messages_total counter
rushws_dropped_messages_total 0
# HELP rushws_heartbeat_timeouts_total Connections closed because the peer stayed silent past the pong timeout.
# TYPE rushws_heartbeat_timeouts_total counter
rushws_heartbeat_timeouts_total 0
# HELP rushws_ping_rtt_seconds Round trip of the hub's heartbeat pings.
# TYPE rushws_ping_rtt_seconds histogram
rushws_ping_rtt_seconds_bucket{le="0.0005"} 0
rushws_ping_rtt_seconds_bucket{le="0.001"} 0
rushws_ping_rtt_seconds_bucket{le="0.0025"} 0
rushws_ping_rtt_seconds_bucket{le="0.005"} 0
rushws_ping_rtt_seconds_bucket{le="0.01"} 0
rushws_ping_rtt_seconds_bucket{le="0.025"} 0
rushws_ping_rtt_seconds_bucket{le="0.05"} 0
rushws_ping_rtt_seconds_bucket{le="0.1"} 0
rushws_ping_rtt_seconds_bucket{le="0.25"} 0
rushws_ping_rtt_seconds_bucket{le="0.5"} 0
rushws_ping_rtt_seconds_bucket{le="1"} 0
rushws_ping_rtt_seconds_bucket{le="2.5"} 0
rushws_ping_rtt_seconds_bucket{le="5"} 0
rushws_ping_rtt_seconds_bucket{le="+Inf"} 0
rushws_ping_rtt_seconds_sum 0
rushws_ping_rtt_seconds_count 0
`, in, out)
	if err := testutil.CollectAndCompare(s.col, strings.NewReader(want),
		"rushws_connections", "rushws_rooms", "rushws_connections_accepted_total",
		"rushws_connections_rejected_total", "rushws_connections_closed_total",
		"rushws_messages_received_total", "rushws_received_bytes_total",
		"rushws_messages_sent_total", "rushws_sent_bytes_total", "rushws_errors_total",
		"rushws_slow_consumer_closes_total", "rushws_dropped_messages_total",
		"rushws_heartbeat_timeouts_total", "rushws_ping_rtt_seconds",
	); err != nil {
		t.Error(err)
	}
	if out == 0 || in == 0 {
		t.Fatalf("the session moved no bytes (in %d, out %d)", in, out)
	}

	// The writers woke up at least once and saw at most what was sent.
	q := s.hub.Stats().SendQueueHistogram
	if q.Count == 0 || q.Sum <= 0 {
		t.Errorf("send-queue histogram = %+v, want observations", q)
	}
	lint(t, s.col)
}

func TestMetricsPingRTT(t *testing.T) {
	t.Parallel()
	s := newSession(t, core.Config{PingInterval: 20 * time.Millisecond, PongTimeout: 5 * time.Second}, metrics.Config{})
	dial(t, s.wsURL("/ws/lobby")) // its reads answer pings with pongs
	eventually(t, "three pongs", func() bool { return s.hub.Stats().PingRTTHistogram.Count >= 3 })

	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rushws_ping_rtt_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() < 3 || h.GetSampleSum() <= 0 {
			t.Errorf("ping histogram count %d sum %v, want at least 3 round trips", h.GetSampleCount(), h.GetSampleSum())
		}
		prev := uint64(0)
		for _, b := range h.GetBucket() {
			if b.GetCumulativeCount() < prev || b.GetCumulativeCount() > h.GetSampleCount() {
				t.Errorf("bucket le=%v holds %d after %d (count %d): not cumulative", b.GetUpperBound(), b.GetCumulativeCount(), prev, h.GetSampleCount())
			}
			prev = b.GetCumulativeCount()
		}
		lint(t, s.col)
		return
	}
	t.Fatal("rushws_ping_rtt_seconds not gathered")
}

func TestMetricsRejectReasons(t *testing.T) {
	t.Parallel()
	banned := func(next core.HandlerFunc) core.HandlerFunc {
		return func(c *core.Conn) error {
			if c.Request().URL.Query().Has("banned") {
				return &core.HTTPError{Status: http.StatusForbidden, Reason: "banned"}
			}
			if c.Request().URL.Query().Has("teapot") {
				return core.NewHTTPError(http.StatusTeapot, "no")
			}
			return next(c)
		}
	}
	tests := []struct {
		name    string
		reasons []string
		want    string
	}{
		{"unlisted reasons count as other", nil, `
rushws_connections_rejected_total{reason="other"} 3
`},
		{"listed reasons have their own series", []string{"banned", "other"}, `
rushws_connections_rejected_total{reason="banned"} 2
rushws_connections_rejected_total{reason="other"} 1
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, core.Config{}, metrics.Config{RejectReasons: tt.reasons}, banned)
			for _, q := range []string{"?banned", "?banned", "?teapot"} {
				_, res, err := websocket.DefaultDialer.Dial(s.wsURL("/ws/lobby"+q), nil)
				if err == nil {
					t.Fatalf("%s: handshake accepted", q)
				}
				res.Body.Close()
			}
			mfs, err := s.reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, mf := range mfs {
				if mf.GetName() == "rushws_connections_rejected_total" {
					for _, m := range mf.GetMetric() {
						if v := m.GetCounter().GetValue(); v != 0 {
							got[m.GetLabel()[0].GetValue()] = v
						}
					}
				}
			}
			var lines []string
			for _, r := range append(metrics.RejectReasons(), "banned", "other") {
				if v, ok := got[r]; ok {
					lines = append(lines, fmt.Sprintf(`rushws_connections_rejected_total{reason=%q} %v`, r, v))
				}
			}
			if g := "\n" + strings.Join(lines, "\n") + "\n"; g != tt.want {
				t.Errorf("non-zero series:%s\nwant:%s", g, tt.want)
			}
			lint(t, s.col)
		})
	}
}

// staticBroker is a Broker that links to nothing and reports fixed
// counters: enough to check how the collector reports a broker's figures.
// The real broker (package redisbroker) is tested against Redis in its
// own package.
type staticBroker struct{ stats core.BrokerStats }

func (b *staticBroker) Start(string, func(core.BrokerMessage)) error      { return nil }
func (b *staticBroker) Publish(context.Context, core.BrokerMessage) error { return nil }
func (b *staticBroker) Subscribe(string)                                  {}
func (b *staticBroker) Unsubscribe(string)                                {}
func (b *staticBroker) Stats() core.BrokerStats                           { return b.stats }
func (b *staticBroker) Close() error                                      { return nil }

func TestMetricsBroker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stats core.BrokerStats
		want  string
	}{
		{"connected", core.BrokerStats{Published: 7, Received: 5, PublishErrors: 2, Drops: 1, Resubscribes: 3, Subscriptions: 4, Connected: true}, `
# HELP rushws_broker_published_total Messages published to other hubs through the broker.
# TYPE rushws_broker_published_total counter
rushws_broker_published_total 7
# HELP rushws_broker_received_total Messages received from other hubs through the broker.
# TYPE rushws_broker_received_total counter
rushws_broker_received_total 5
# HELP rushws_broker_publish_errors_total Publishes to the broker that failed or timed out; those messages reached no other hub.
# TYPE rushws_broker_publish_errors_total counter
rushws_broker_publish_errors_total 2
# HELP rushws_broker_dropped_messages_total Messages from other hubs dropped because the hub's delivery buffer was full.
# TYPE rushws_broker_dropped_messages_total counter
rushws_broker_dropped_messages_total 1
# HELP rushws_broker_resubscribes_total Reconnections to the broker after which the subscriptions were restored.
# TYPE rushws_broker_resubscribes_total counter
rushws_broker_resubscribes_total 3
# HELP rushws_broker_subscriptions Room channels subscribed on the broker now.
# TYPE rushws_broker_subscriptions gauge
rushws_broker_subscriptions 4
# HELP rushws_broker_connected 1 while the broker's subscriber is connected, 0 otherwise.
# TYPE rushws_broker_connected gauge
rushws_broker_connected 1
`},
		{"disconnected", core.BrokerStats{LastError: "dial tcp: refused"}, `
# HELP rushws_broker_connected 1 while the broker's subscriber is connected, 0 otherwise.
# TYPE rushws_broker_connected gauge
rushws_broker_connected 0
# HELP rushws_broker_published_total Messages published to other hubs through the broker.
# TYPE rushws_broker_published_total counter
rushws_broker_published_total 0
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := core.NewHub(core.Config{Broker: &staticBroker{tt.stats}})
			if err != nil {
				t.Fatal(err)
			}
			defer hub.Close()
			col, err := metrics.NewCollector(hub, metrics.Config{})
			if err != nil {
				t.Fatal(err)
			}
			names := []string{}
			for line := range strings.SplitSeq(tt.want, "\n") {
				if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
					names = append(names, strings.Fields(name)[0])
				}
			}
			if err := testutil.CollectAndCompare(col, strings.NewReader(tt.want), names...); err != nil {
				t.Error(err)
			}
			lint(t, col)
		})
	}
}

func TestMetricsConfigErrors(t *testing.T) {
	t.Parallel()
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	tests := []struct {
		name string
		hub  *core.Hub
		cfg  metrics.Config
		want string
	}{
		{"nil hub", nil, metrics.Config{}, "needs a hub"},
		{"reserved const label name", hub, metrics.Config{ConstLabels: prometheus.Labels{"__name__": "x"}}, `Config.ConstLabels: descriptor`},
		{"const label shadowing a label", hub, metrics.Config{ConstLabels: prometheus.Labels{"reason": "x"}}, "duplicate label names"},
		{"const label value not UTF-8", hub, metrics.Config{ConstLabels: prometheus.Labels{"hub": "\xff"}}, "not valid UTF-8"},
		{"empty reason", hub, metrics.Config{RejectReasons: []string{""}}, `"" is not a valid label value`},
		{"invalid UTF-8 reason", hub, metrics.Config{RejectReasons: []string{"\xff"}}, "not a valid label value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metrics.NewCollector(tt.hub, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestMetricsRegister(t *testing.T) {
	t.Parallel()
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	if err := metrics.Register(nil, hub); err == nil || !strings.Contains(err.Error(), "Registerer") {
		t.Fatalf("Register(nil) = %v, want an error naming the Registerer", err)
	}
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, hub); err != nil {
		t.Fatal(err)
	}
	// A second collector for the same hub collides; a const label tells
	// two hubs apart.
	var are prometheus.AlreadyRegisteredError
	if err := metrics.Register(reg, hub); !errors.As(err, &are) {
		t.Fatalf("second Register = %v, want AlreadyRegisteredError", err)
	}
	// Two hubs share a registry when each has its const label.
	hub2, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hub2.Close()
	reg2 := prometheus.NewPedanticRegistry()
	for name, h := range map[string]*core.Hub{"chat": hub, "admin": hub2} {
		c, err := metrics.NewCollector(h, metrics.Config{ConstLabels: prometheus.Labels{"hub": name}})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg2.Register(c); err != nil {
			t.Fatalf("hub %q: %v", name, err)
		}
	}
	if n, err := testutil.GatherAndCount(reg2, "rushws_connections"); err != nil || n != 2 {
		t.Fatalf("rushws_connections series = %d (%v), want 2", n, err)
	}
	// Nothing went to the global registry.
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "rushws_") {
			t.Fatalf("%s found in the global registry", mf.GetName())
		}
	}
}

func TestMetricsIsWebSocket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"browser handshake", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}, true},
		{"any case", http.Header{"Connection": {"upgrade"}, "Upgrade": {"WebSocket"}}, true},
		{"plain request", http.Header{"Connection": {"keep-alive"}}, false},
		{"h2c upgrade", http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}}, false},
		{"upgrade without connection", http.Header{"Upgrade": {"websocket"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ws", nil)
			r.Header = tt.header
			if got := metrics.IsWebSocket(r); got != tt.want {
				t.Fatalf("IsWebSocket = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMetricsMethodLabel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, want string
	}{
		{"GET", http.MethodGet, http.MethodGet},
		{"DELETE", http.MethodDelete, http.MethodDelete},
		{"invented method", "BREW", "other"},
		{"lower case", "get", "other"},
		{"empty", "", "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metrics.MethodLabel(tt.method); got != tt.want {
				t.Fatalf("MethodLabel(%q) = %q, want %q", tt.method, got, tt.want)
			}
		})
	}
}
