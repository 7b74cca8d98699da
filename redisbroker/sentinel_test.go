package redisbroker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

// TestSentinelClient links two brokers through a Redis reached by way of
// Sentinel (redis.NewFailoverClient), as an app with a Sentinel setup has.
func TestSentinelClient(t *testing.T) {
	t.Parallel()
	master := startRedisServer(t)
	port := freePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := "port " + strconv.Itoa(port) + "\nbind 127.0.0.1\ndir " + dir + "\n" +
		"sentinel monitor main 127.0.0.1 " + strconv.Itoa(master.port) + " 1\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sentinel := "127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 5*time.Second, func() bool { return rawPing(sentinel) == nil }, "sentinel did not start")

	start := func(hubID string) (*redisbroker.Broker, *received) {
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "main", SentinelAddrs: []string{sentinel}})
		t.Cleanup(func() { _ = c.Close() })
		b, err := redisbroker.New(c, redisbroker.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		rec := newReceived()
		if err := b.Start(hubID, rec.deliver); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b, rec
	}
	a, _ := start(hubA)
	b, recB := start(hubB)
	b.Subscribe("room")
	waitSubscribed(t, b, 1)
	if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{"room"}, Data: []byte("via sentinel")}); err != nil {
		t.Fatal(err)
	}
	if got := recB.waitLen(t, 1); string(got[0].Data) != "via sentinel" {
		t.Errorf("got %q", got[0].Data)
	}
	if err := b.Healthy(context.Background()); err != nil {
		t.Errorf("Healthy: %v", err)
	}
}
