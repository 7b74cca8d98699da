package metrics_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
)

// TestEventsRefused: refused events are counted by reason, the reasons of
// core.EventRefuseReasons each present and any other under "other", so
// the label set stays fixed whatever the application's reasons.
func TestEventsRefused(t *testing.T) {
	t.Parallel()
	s := newSession(t, core.Config{}, metrics.Config{})
	s.hub.UseEvent(func(next core.EventFunc) core.EventFunc {
		return func(c *core.Conn, data json.RawMessage) (any, error) {
			var reason string
			_ = json.Unmarshal(data, &reason)
			if reason == "" {
				return next(c, data)
			}
			return nil, &core.RefusedError{Reason: reason}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, s.wsURL("/ws/lobby"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for i, reason := range []string{core.RefuseRole, core.RefuseRole, core.RefuseScope, "quota", "quota-2"} {
		msg := `{"event":"echo","ack":` + string(rune('1'+i)) + `,"data":"` + reason + `"}`
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"forbidden"`) {
			t.Fatalf("reply %s, %v; want forbidden", b, err)
		}
	}
	want := `
# HELP rushws_events_refused_total Events refused by event middleware (authorization rules), by reason (core.EventRefuseReasons, else other).
# TYPE rushws_events_refused_total counter
rushws_events_refused_total{reason="claims"} 0
rushws_events_refused_total{reason="forbidden"} 0
rushws_events_refused_total{reason="other"} 2
rushws_events_refused_total{reason="permission"} 0
rushws_events_refused_total{reason="role"} 2
rushws_events_refused_total{reason="scope"} 1
rushws_events_refused_total{reason="unauthenticated"} 0
`
	if err := testutil.CollectAndCompare(s.col, strings.NewReader(want), "rushws_events_refused_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(s.col); err != nil || len(problems) != 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
