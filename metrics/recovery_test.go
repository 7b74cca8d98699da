package metrics_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
)

// TestMetricsRecovery checks the recovery series: a failure counted under
// its reason, every reason of core.RecoverReasons present (so the lists
// cannot drift), and no recovery series on a hub without recovery.
func TestMetricsRecovery(t *testing.T) {
	t.Parallel()
	hub, err := core.NewHub(core.Config{Recovery: core.RecoveryConfig{Enabled: true}, PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub.Handler(func(*core.Conn) error { return nil }))
	t.Cleanup(func() { _ = hub.Close(); srv.Close() })
	col, err := metrics.NewCollector(hub, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"?rushws_recover=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	forged := `{"event":"recover","data":{"token":"` + strings.Repeat("A", 43) + `","positions":{}}}`
	if err := ws.WriteMessage(websocket.TextMessage, []byte(forged)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"reason":"unknown"`) {
		t.Fatalf("session message %s, %v", b, err)
	}
	want := "# HELP rushws_recovery_failures_total Recovery attempts that failed, by reason (core.RecoverReasons).\n# TYPE rushws_recovery_failures_total counter\n"
	for _, r := range []string{"expired", "forbidden", "history_lost", "too_far_behind", "unknown"} {
		n := "0"
		if r == core.RecoverUnknown {
			n = "1"
		}
		want += `rushws_recovery_failures_total{reason="` + r + `"} ` + n + "\n"
	}
	if len(core.RecoverReasons()) != 5 {
		t.Fatalf("core has reasons %v; update this test", core.RecoverReasons())
	}
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), "rushws_recovery_failures_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(col, "rushws_recoveries_total"); n != 1 {
		t.Fatalf("rushws_recoveries_total series: %d", n)
	}

	plain, err := core.NewHub(core.Config{PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plain.Close() })
	pcol, _ := metrics.NewCollector(plain, metrics.Config{})
	if n := testutil.CollectAndCount(pcol, "rushws_recoveries_total", "rushws_recovery_failures_total"); n != 0 {
		t.Fatalf("recovery series on a hub without recovery: %d", n)
	}
}
