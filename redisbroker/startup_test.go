package redisbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rushws/rushws/redisbroker"
)

// deadAddr returns a local address where nothing listens: port 1 on the
// loopback address. Listening there takes privileges and port 0 never
// hands it out, so no other test can take it between this call and the
// dial (a freed ephemeral port can be, when tests run in parallel).
func deadAddr(t *testing.T) string {
	t.Helper()
	const addr = "127.0.0.1:1"
	if c, err := net.Dial("tcp", addr); err == nil {
		_ = c.Close()
		t.Skipf("something listens on %s on this machine; the test needs it free", addr)
	}
	return addr
}

// TestNewUnreachable: New with an address where nothing listens says what
// failed (the connection, refused), where, and how to start anyway
// (AllowUnavailable), rather than that Redis "did not answer PING within
// 5s" when it failed at once.
func TestNewUnreachable(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	_, err := redisbroker.New(client, redisbroker.Config{})
	if err == nil {
		t.Fatal("New with nothing listening succeeded")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("New = %v, want it to wrap the connection's error (ECONNREFUSED)", err)
	}
	msg := err.Error()
	for _, want := range []string{"cannot connect to Redis at " + addr, "after ", "connection refused", "AllowUnavailable"} {
		if !strings.Contains(msg, want) {
			t.Errorf("New = %q, want it to contain %q", msg, want)
		}
	}
	if strings.Contains(msg, "within") {
		t.Errorf("New = %q: it speaks of a timeout, but the connection was refused", msg)
	}

	// With AllowUnavailable, New succeeds and LastError has the cause.
	client2 := redis.NewClient(&redis.Options{Addr: addr})
	defer client2.Close()
	b, err := redisbroker.New(client2, redisbroker.Config{AllowUnavailable: true, Logger: quiet})
	if err != nil {
		t.Fatalf("New with AllowUnavailable = %v", err)
	}
	defer b.Close()
}

// startupChildEnv makes the test binary run TestNewUnreachableQuietChild's
// body: New against a dead address with go-redis logging to stderr, as in a
// user's program (TestMain silences it for the other tests).
const startupChildEnv = "RUSHWS_REDISBROKER_STARTUP_CHILD"

// TestNewUnreachableQuiet: the failed start-up check adds no go-redis pool
// lines to the program's stderr: the error New returns is the one message.
func TestNewUnreachableQuiet(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewUnreachableQuietChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), startupChildEnv+"="+deadAddr(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "NEW ERROR: redisbroker: ") {
		t.Fatalf("child did not report New's error:\n%s", stdout.String())
	}
	if strings.Contains(stderr.String(), "redis:") {
		t.Errorf("go-redis logged during New's start-up check:\n%s", stderr.String())
	}
}

// TestNewUnreachableQuietChild is TestNewUnreachableQuiet's child process;
// run directly, it does nothing.
func TestNewUnreachableQuietChild(t *testing.T) {
	addr := os.Getenv(startupChildEnv)
	if addr == "" {
		return
	}
	redis.SetLogger(stderrRedisLog{log.New(os.Stderr, "redis: ", log.LstdFlags)})
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	_, err := redisbroker.New(client, redisbroker.Config{})
	fmt.Printf("NEW ERROR: %v\n", err)
}

// stderrRedisLog logs go-redis's lines as its default logger does.
type stderrRedisLog struct{ l *log.Logger }

func (s stderrRedisLog) Printf(_ context.Context, format string, v ...any) {
	_ = s.l.Output(2, fmt.Sprintf(format, v...))
}
