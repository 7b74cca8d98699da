package runtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/wstest"
)

// RunFunc is an example's run: it serves the app on ln until ctx ends,
// then shuts the hub down and then the HTTP server, and returns nil after
// a clean shutdown.
type RunFunc func(ctx context.Context, ln net.Listener, logger *slog.Logger) error

// waitTimeout bounds every wait; it is a ceiling, never an expected
// duration.
const waitTimeout = 15 * time.Second

// Run starts run on a free loopback port and checks what a client sees:
// the page is served; a request with 64 KiB of headers is refused with
// 431; a chat connection opens; and when ctx ends (the signal), the
// WebSocket is closed with 1001, run returns nil, and the port no longer
// accepts connections.
func Run(t *testing.T, run RunFunc) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	signal, sendSignal := context.WithCancel(context.Background())
	defer sendSignal()
	done := make(chan error, 1)
	go func() { done <- run(signal, ln, slog.New(slog.DiscardHandler)) }()

	client := &http.Client{Timeout: waitTimeout}
	resp, err := client.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / = %s, want 200", resp.Status)
	}

	req, err := http.NewRequest(http.MethodGet, base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		req.Header.Set(fmt.Sprintf("X-Filler-%d", i), strings.Repeat("x", 1<<10))
	}
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB of headers: %s, want 431 (MaxHeaderBytes)", resp.Status)
	}

	c := wstest.Dial(t, base+"/ws/lobby?name=alice")
	c.Expect("joined")

	sendSignal()
	c.ExpectClose(core.CloseGoingAway)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after the signal: %v, want nil", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after the signal")
	}
	if conn, err := net.DialTimeout("tcp", ln.Addr().String(), waitTimeout); err == nil {
		_ = conn.Close()
		t.Error("the port still accepts connections after run returned")
	}
}
