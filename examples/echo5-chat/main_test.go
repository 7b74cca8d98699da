package main

import (
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/examples/internal/chattest"
	"github.com/rushws/rushws/examples/internal/runtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestApp(t *testing.T) {
	t.Parallel()
	chattest.Run(t, newApp)
}

// TestRun serves the app as main does, with echo.StartConfig, and stops it
// as a signal would: a request with too many header bytes gets 431, and on
// the signal the WebSocket is closed with 1001 before run returns.
func TestRun(t *testing.T) {
	t.Parallel()
	runtest.Run(t, run)
}

// TestServerLimits guards the limits a server facing the internet needs:
// without IdleTimeout idle keep-alive connections stay forever, and
// without ReadTimeout one request followed by a trickle of bytes bypasses
// ReadHeaderTimeout.
func TestServerLimits(t *testing.T) {
	t.Parallel()
	var s http.Server
	limitServer(&s)
	for name, v := range map[string]int64{
		"ReadHeaderTimeout": int64(s.ReadHeaderTimeout),
		"ReadTimeout":       int64(s.ReadTimeout),
		"WriteTimeout":      int64(s.WriteTimeout),
		"IdleTimeout":       int64(s.IdleTimeout),
		"MaxHeaderBytes":    int64(s.MaxHeaderBytes),
	} {
		if v <= 0 {
			t.Errorf("http.Server.%s is not set", name)
		}
	}
}
