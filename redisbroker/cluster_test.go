package redisbroker_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

// clusterPort returns a port whose cluster bus port (+10000) is free too.
func clusterPort(t *testing.T) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(20000)
		ok := true
		for _, q := range []int{p, p + 10000} {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(q))
			if err != nil {
				ok = false
				break
			}
			_ = ln.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// startCluster starts a three-shard Redis Cluster (no replicas) of private
// redis-server processes and returns the node addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		noRedis(t, "redis-cli is not installed")
	}
	var addrs []string
	var nodes []*redisServer
	for range 3 {
		if _, err := exec.LookPath("redis-server"); err != nil {
			noRedis(t, "redis-server is not installed (apt-get install -y redis-server)")
		}
		s := &redisServer{t: t, port: clusterPort(t), dir: t.TempDir(),
			args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}}
		s.start()
		t.Cleanup(s.stop)
		nodes = append(nodes, s)
		addrs = append(addrs, s.addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		eventually(t, 20*time.Second, func() bool {
			return strings.Contains(n.cli("cluster", "info"), "cluster_state:ok")
		}, "cluster node %s not ok", n.addr())
	}
	return addrs
}

func TestClusterUsesShardedPubSub(t *testing.T) {
	t.Parallel()
	addrs := startCluster(t)
	newCluster := func() *redis.ClusterClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	cfg := redisbroker.Config{Logger: quiet, ClusterSlots: 8}
	start := func(hubID string) (*redisbroker.Broker, *received) {
		b, err := redisbroker.New(newCluster(), cfg)
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
	const rooms = 24
	for i := range rooms {
		b.Subscribe(fmt.Sprintf("room-%d", i))
	}
	waitSubscribed(t, b, rooms)

	calls := func(cmd string) (total int, perNode []int) {
		for _, addr := range addrs {
			c := redis.NewClient(&redis.Options{Addr: addr})
			n := commandCalls(t, c, cmd)
			_ = c.Close()
			perNode = append(perNode, n)
			total += n
		}
		return total, perNode
	}
	spub0, _ := calls("spublish")
	pub0, _ := calls("publish")
	for i := range rooms {
		if err := a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{fmt.Sprintf("room-%d", i)}, Data: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Publish(context.Background(), core.BrokerMessage{All: true, Data: []byte("all")}); err != nil {
		t.Fatal(err)
	}
	got := recB.waitLen(t, rooms+1)
	seen := map[string]bool{}
	for _, m := range got {
		seen[string(m.Data)] = true
	}
	for i := range rooms {
		if !seen[strconv.Itoa(i)] {
			t.Errorf("room-%d message not delivered", i)
		}
	}
	spub, perNode := calls("spublish")
	pub, _ := calls("publish")
	spub -= spub0
	pub -= pub0
	shards := 0
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		list, err := c.PubSubShardChannels(context.Background(), "*").Result()
		_ = c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			shards++
		}
	}
	t.Logf("cluster of 3 shards: %d room messages went out as %d SPUBLISH (per node, cumulative: %v) and the everyone message as %d PUBLISH; sharded channels subscribed on %d shards; receiver stats %+v",
		rooms, spub, perNode, pub, shards, b.Stats())
	if spub != rooms || pub != 1 {
		t.Errorf("SPUBLISH %d (want %d), PUBLISH %d (want 1)", spub, rooms, pub)
	}
	if shards < 2 {
		t.Errorf("room channels on %d shards; 8 slot buckets should spread over more", shards)
	}

	b.Unsubscribe("room-0")
	waitSubscribed(t, b, rooms-1)

	// Resharding: move the slot of one subscribed room to another shard.
	// Redis drops the shard channels of a slot that leaves a node; the
	// broker subscribes them again on the new owner.
	room, slot, from, to := pickSlotToMove(t, addrs)
	ids := make([]string, len(addrs))
	for i, addr := range addrs {
		ids[i] = nodeCLI(t, addr, "cluster", "myid")
	}
	nodeCLI(t, addrs[to], "cluster", "setslot", slot, "importing", ids[from])
	nodeCLI(t, addrs[from], "cluster", "setslot", slot, "migrating", ids[to])
	for _, addr := range addrs {
		nodeCLI(t, addr, "cluster", "setslot", slot, "node", ids[to])
	}
	moved := time.Now()
	eventually(t, 10*time.Second, func() bool {
		n := recB.len()
		_ = a.Publish(context.Background(), core.BrokerMessage{Rooms: []string{room}, Data: []byte("after resharding")})
		time.Sleep(50 * time.Millisecond) // poll: give the probe time to arrive, then look
		return recB.len() > n
	}, "room %q not delivered after its slot %s moved: %+v", room, slot, b.Stats())
	t.Logf("slot %s of room %q moved from node %d to node %d; delivered again after %v; receiver stats %+v", slot, room, from, to, time.Since(moved).Round(time.Millisecond), b.Stats())
	if s := b.Stats(); s.Resubscribes == 0 || s.Subscriptions != rooms-1 {
		t.Errorf("after resharding: %+v, want a resubscribe and %d subscriptions", s, rooms-1)
	}
}

// nodeCLI runs redis-cli against one node and returns its trimmed output.
func nodeCLI(t *testing.T, addr string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil || strings.HasPrefix(string(out), "ERR") {
		t.Fatalf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pickSlotToMove finds a subscribed room channel, its slot and the index
// of the node that owns it, and picks another node to move it to.
func pickSlotToMove(t *testing.T, addrs []string) (room, slot string, from, to int) {
	t.Helper()
	for i, addr := range addrs {
		list := nodeCLI(t, addr, "pubsub", "shardchannels")
		if list == "" {
			continue
		}
		ch := strings.Fields(list)[0]
		enc := ch[strings.LastIndex(ch, ":r:")+3:]
		name, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			t.Fatal(err)
		}
		return string(name), nodeCLI(t, addr, "cluster", "keyslot", ch), i, (i + 1) % len(addrs)
	}
	t.Fatal("no shard channel subscribed")
	return
}
