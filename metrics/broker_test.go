package metrics_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
	"github.com/rushws/rushws/redisbroker"
)

// redisAddr returns the Redis of the tests: RUSHWS_REDIS_ADDR, by default
// 127.0.0.1:6379. The test is skipped when none answers, or fails when
// RUSHWS_REQUIRE_REDIS=1 (as CI sets it).
func redisAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("RUSHWS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		if os.Getenv("RUSHWS_REQUIRE_REDIS") == "1" {
			t.Fatalf("RUSHWS_REQUIRE_REDIS=1 but no Redis answers at %s: %v", addr, err)
		}
		t.Skipf("no Redis answers at %s (set RUSHWS_REDIS_ADDR): %v", addr, err)
	}
	_ = c.Close()
	return addr
}

// redisHub starts a hub linked to Redis through redisbroker, on channels
// named by prefix, with the chat route on /ws/{room}.
func redisHub(t *testing.T, addr, prefix string) (*core.Hub, string, *metrics.Collector) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	b, err := redisbroker.New(client, redisbroker.Config{Prefix: prefix, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := core.NewHub(core.Config{Broker: b, Logger: quiet, PingInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	col, err := metrics.NewCollector(hub, metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/{room}", hub.Handler(chat))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return hub, "ws" + strings.TrimPrefix(srv.URL, "http"), col
}

// TestMetricsRedisBroker sends one chat message from a client of one hub
// to a client of another, through Redis, and reads the broker's metrics of
// both hubs.
func TestMetricsRedisBroker(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	var p [6]byte
	_, _ = rand.Read(p[:])
	prefix := "metricstest-" + hex.EncodeToString(p[:])
	hub1, url1, col1 := redisHub(t, addr, prefix)
	hub2, url2, col2 := redisHub(t, addr, prefix)

	a := dial(t, url1+"/ws/lobby")
	b := dial(t, url2+"/ws/lobby")
	for _, h := range []*core.Hub{hub1, hub2} {
		eventually(t, "the lobby subscribed on Redis", func() bool {
			s := h.Stats().Broker
			return s != nil && s.Connected && s.Subscriptions == 1
		})
	}
	a.send(t, `{"event":"chat","data":"across hubs"}`)
	eventually(t, "the message on the other hub", func() bool {
		n, _ := b.received()
		return n == 1
	})

	for _, tt := range []struct {
		name string
		col  *metrics.Collector
		pub  int
		recv int
	}{{"sending hub", col1, 1, 0}, {"receiving hub", col2, 0, 1}} {
		want := fmt.Sprintf(`
# HELP rushws_broker_published_total Messages published to other hubs through the broker.
# TYPE rushws_broker_published_total counter
rushws_broker_published_total %d
# HELP rushws_broker_received_total Messages received from other hubs through the broker.
# TYPE rushws_broker_received_total counter
rushws_broker_received_total %d
# HELP rushws_broker_publish_errors_total Publishes to the broker that failed or timed out; those messages reached no other hub.
# TYPE rushws_broker_publish_errors_total counter
rushws_broker_publish_errors_total 0
# HELP rushws_broker_dropped_messages_total Messages from other hubs dropped because the hub's delivery buffer was full.
# TYPE rushws_broker_dropped_messages_total counter
rushws_broker_dropped_messages_total 0
# HELP rushws_broker_resubscribes_total Reconnections to the broker after which the subscriptions were restored.
# TYPE rushws_broker_resubscribes_total counter
rushws_broker_resubscribes_total 0
# HELP rushws_broker_subscriptions Room channels subscribed on the broker now.
# TYPE rushws_broker_subscriptions gauge
rushws_broker_subscriptions 1
# HELP rushws_broker_connected 1 while the broker's subscriber is connected, 0 otherwise.
# TYPE rushws_broker_connected gauge
rushws_broker_connected 1
`, tt.pub, tt.recv)
		if err := testutil.CollectAndCompare(tt.col, strings.NewReader(want),
			"rushws_broker_published_total", "rushws_broker_received_total", "rushws_broker_publish_errors_total",
			"rushws_broker_dropped_messages_total", "rushws_broker_resubscribes_total",
			"rushws_broker_subscriptions", "rushws_broker_connected"); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		lint(t, tt.col)
	}
}
