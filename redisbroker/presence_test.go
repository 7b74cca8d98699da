package redisbroker_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/rushws/rushws/redisbroker"
)

func TestPresenceCountsEveryHub(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	cfg := redisbroker.Config{Prefix: uniquePrefix(t), PresenceTTL: 300 * time.Millisecond}
	nodes := startNodes(t, addr, 2, cfg)
	for _, n := range nodes {
		if err := n.broker.TrackPresence(n.hub); err != nil {
			t.Fatal(err)
		}
	}
	_ = nodes[0].join(t, 1, "r")
	_ = nodes[0].join(t, 1, "r")
	b := nodes[1].join(t, 1, "r")
	presence := func() int {
		n, err := nodes[0].broker.Presence(context.Background(), "r")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	eventually(t, 5*time.Second, func() bool { return presence() == 3 }, "presence %d, want 3", presence())

	b.Close()
	eventually(t, 5*time.Second, func() bool { return presence() == 2 }, "presence %d after a leave, want 2", presence())

	// A hub that stopped refreshing (crashed) ages out after the TTL.
	raw := newClient(t, addr)
	key := cfg.Prefix + ":p:" + base64.RawURLEncoding.EncodeToString([]byte("r"))
	// Fresh for 2s: time enough to count it, even on a busy machine.
	exp := time.Now().Add(2 * time.Second).UnixMilli()
	if err := raw.HSet(context.Background(), key, "crashedhub", "10:"+strconv.FormatInt(exp, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if n := presence(); n != 12 {
		t.Errorf("presence with a fresh entry of another hub = %d, want 12", n)
	}
	eventually(t, 5*time.Second, func() bool { return presence() == 2 }, "a crashed hub's members did not age out: %d", presence())

	// A hub that shuts down removes its own entries at once.
	_ = nodes[1].hub.Close()
	_ = nodes[0].hub.Close()
	if n, err := nodes[1].broker.Presence(context.Background(), "r"); err != nil || n != 0 {
		t.Errorf("presence after both hubs closed = %d, %v", n, err)
	}
	if _, err := nodes[0].broker.Presence(context.Background(), "\x00"); err == nil {
		t.Error("Presence of an invalid room name succeeded")
	}
}
