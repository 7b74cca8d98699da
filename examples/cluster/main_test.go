package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/examples/internal/chat"
	"github.com/rushws/rushws/examples/internal/chattest"
	"github.com/rushws/rushws/examples/internal/runtest"
	"github.com/rushws/rushws/wstest"
)

func TestMain(m *testing.M) {
	if os.Getenv(runCommandEnv) == "1" {
		main() // an instance of TestTwoProcesses: os.Args are the command's
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// runCommandEnv makes this test binary run the command's main instead of
// the tests: TestTwoProcesses starts its instances that way, the command's
// own code with the command's own flags, without a "go build" of its own
// (which, on a cold build cache, compiled every dependency once more and
// took most of the package's test time).
const runCommandEnv = "RUSHWS_CLUSTER_RUN_COMMAND"

// redisAddr returns RUSHWS_REDIS_ADDR (default 127.0.0.1:6379); the test
// is skipped when no Redis answers there, or fails when
// RUSHWS_REQUIRE_REDIS=1.
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

func testPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "clustertest-" + hex.EncodeToString(b[:])
}

func newRedis(t *testing.T) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestApp runs the chat suite every example passes, on one instance.
func TestApp(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	prefix := testPrefix()
	chattest.Run(t, func(logger *slog.Logger) (http.Handler, *core.Hub, error) {
		return newApp(rdb, prefix, logger)
	})
}

// TestRun serves the app as main does and stops it as a signal would.
func TestRun(t *testing.T) {
	t.Parallel()
	rdb := newRedis(t)
	prefix := testPrefix()
	runtest.Run(t, func(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
		return run(ctx, ln, rdb, prefix, logger)
	})
}

// TestNoRedis: an instance that cannot reach Redis refuses to start.
func TestNoRedis(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: dead})
	defer rdb.Close()
	_, _, err = newApp(rdb, testPrefix(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), dead) {
		t.Fatalf("newApp without Redis = %v, want an error naming %s", err, dead)
	}
}

// TestTwoProcesses runs the command twice, as an operator would behind a
// load balancer: clients of either instance chat in one room, and each
// instance stops cleanly on SIGTERM. The instances are this test binary
// running the command's main (see runCommandEnv).
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	addr := redisAddr(t)
	if testing.Short() {
		t.Skip("runs the command in two processes")
	}
	bin := os.Args[0]
	prefix := testPrefix()
	a := startInstance(t, bin, addr, prefix)
	b := startInstance(t, bin, addr, prefix)

	ann := wstest.Dial(t, "ws://"+a.addr+"/ws/lobby?name=ann", wstest.WithTimeout(10*time.Second))
	ann.Expect("joined")
	waitBroker(t, a.addr, 1)
	bob := wstest.Dial(t, "ws://"+b.addr+"/ws/lobby?name=bob", wstest.WithTimeout(10*time.Second))
	bob.Expect("joined")
	waitBroker(t, b.addr, 1)
	ann.Expect("joined") // bob's arrival, through Redis

	for _, tc := range []struct {
		from, to *wstest.Client
		name     string
	}{{ann, bob, "ann"}, {bob, ann, "bob"}} {
		if r := tc.from.EmitWithAck("chat", map[string]string{"text": "hi from " + tc.name}); r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, c := range []*wstest.Client{tc.from, tc.to} {
			var m chat.Message
			c.ExpectInto("chat", &m)
			if m.Name != tc.name || m.Text != "hi from "+tc.name {
				t.Fatalf("got %+v", m)
			}
		}
	}
	bob.Close()
	ann.Expect("left")
	ann.Close()
	a.stop(t)
	b.stop(t)
}

type instance struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startInstance(t *testing.T, bin, redisAddr, prefix string) *instance {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-redis", redisAddr, "-prefix", prefix)
	cmd.Env = append(os.Environ(), runCommandEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, done: make(chan error, 1)}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("no address printed: %v", err)
	}
	in.addr = strings.TrimPrefix(strings.TrimSpace(line), "listening on http://")
	go func() { in.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-in.done
	})
	return in
}

// stop sends SIGTERM and expects a clean exit.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		in.done <- err // for the cleanup
		if err != nil {
			t.Errorf("instance %s exited with %v", in.addr, err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("instance %s did not stop on SIGTERM", in.addr)
	}
}

// waitBroker waits until the instance's stats show n room subscriptions
// confirmed by Redis.
func waitBroker(t *testing.T, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Broker *core.BrokerStats `json:"broker"`
		}
		resp, err := http.Get("http://" + addr + "/api/ws/stats")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&st)
			_ = resp.Body.Close()
		}
		if err == nil && st.Broker != nil && st.Broker.Subscriptions == n && st.Broker.Connected {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s: broker stats %+v (err %v), want %d subscriptions", addr, st.Broker, err, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
