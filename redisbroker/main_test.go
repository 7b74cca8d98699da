package redisbroker_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/redisbroker"
)

// discardRedisLog silences go-redis's own log of failed dials, which the
// fault tests cause on purpose.
type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(discardRedisLog{})
	if os.Getenv(childEnv) != "" {
		runChild() // an instance for TestRecoveryAfterSIGKILL, until killed
		return
	}
	goleak.VerifyTestMain(m,
		// go-redis probes a failed address once a second until the client
		// is closed, and exits on its next wake-up.
		goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
	)
}

// quiet is a logger for brokers whose warnings are expected.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// redisAddr returns the shared Redis of the tests: RUSHWS_REDIS_ADDR, by
// default 127.0.0.1:6379. The test is skipped when none answers, or fails
// when RUSHWS_REQUIRE_REDIS=1 (as CI sets it).
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("RUSHWS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		noRedis(t, fmt.Sprintf("no Redis answers at %s (set RUSHWS_REDIS_ADDR): %v", addr, err))
	}
	_ = c.Close()
	return addr
}

func noRedis(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("RUSHWS_REQUIRE_REDIS") == "1" {
		t.Fatalf("RUSHWS_REQUIRE_REDIS=1 but %s", why)
	}
	t.Skip(why)
}

// newClient returns a go-redis client closed when the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniquePrefix gives each test its own channels on the shared Redis.
func uniquePrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "rbtest-" + hex.EncodeToString(b[:])
}

// received collects what a broker delivers.
type received struct {
	mu   sync.Mutex
	msgs []core.BrokerMessage
	ch   chan struct{}
}

func newReceived() *received { return &received{ch: make(chan struct{}, 1)} }

func (r *received) deliver(m core.BrokerMessage) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *received) all() []core.BrokerMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.BrokerMessage(nil), r.msgs...)
}

func (r *received) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// fence publishes a last message to everyone from p and waits until each
// of recs has received it: Redis delivers one publisher's messages in the
// order they were published, so once the fence is in, nothing p published
// before it is still on its way. It stands in for "wait a moment: nothing
// more may come".
func fence(t testing.TB, p *redisbroker.Broker, recs ...*received) {
	t.Helper()
	if err := p.Publish(context.Background(), core.BrokerMessage{All: true, Data: []byte(fenceData)}); err != nil {
		t.Fatalf("publish the fence: %v", err)
	}
	for i, r := range recs {
		eventually(t, 5*time.Second, func() bool {
			all := r.all()
			return len(all) > 0 && string(all[len(all)-1].Data) == fenceData
		}, "receiver %d never got the fence published after the last message", i)
	}
}

// fenceData is the payload of fence's message.
const fenceData = "fence"

// waitLen waits until n messages arrived.
func (r *received) waitLen(t testing.TB, n int) []core.BrokerMessage {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return r.len() >= n }, "want %d messages", n)
	return r.all()
}

// eventually polls cond until it holds or the timeout passes. The timeout
// is at least 30s: what a quiet machine does in a moment can take many
// seconds on a busy one running the tests in parallel, and the bound only
// matters when something never happens.
func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(max(timeout, 30*time.Second))
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: "+format, args...)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startBroker makes a broker on its own client, starts it as hub hubID and
// returns it with what it receives. It is closed when the test ends.
func startBroker(t testing.TB, addr, hubID string, cfg redisbroker.Config) (*redisbroker.Broker, *received) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	b, err := redisbroker.New(newClient(t, addr), cfg)
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

// waitSubscribed waits until Redis confirmed n room subscriptions.
func waitSubscribed(t testing.TB, b *redisbroker.Broker, n int) {
	t.Helper()
	eventually(t, 5*time.Second, func() bool { return b.Stats().Subscriptions == n }, "want %d subscriptions, have %d", n, b.Stats().Subscriptions)
}

// redisServer is a private redis-server on its own port, for fault tests.
type redisServer struct {
	t    testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts a private redis-server, stopped when the test
// ends.
func startRedisServer(t testing.TB, extra ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		noRedis(t, "redis-server is not installed (apt-get install -y redis-server)")
	}
	s := &redisServer{t: t, port: freePort(t), dir: t.TempDir(), args: extra}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start runs the server (again) on its port and waits until it answers.
func (s *redisServer) start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	s.cmd.Dir = s.dir
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := rawPing(s.addr())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer: %v", s.port, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawPing sends one PING on a fresh connection: unlike a go-redis client,
// it does not retry, so the moment the server answers is measured closely.
func rawPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf)
	}
	return nil
}

// stop kills the server (as a crash would) and waits for it to exit.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// cli runs redis-cli against the server.
func (s *redisServer) cli(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(s.port)}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("redis-cli %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// commandCalls returns how many times the server ran cmd, from INFO
// commandstats.
func commandCalls(t testing.TB, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}
