package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/examples/internal/chattest"
	"github.com/rushws/rushws/examples/internal/runtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestApp(t *testing.T) {
	chattest.Run(t, newApp)
}

// TestRun serves the app as main does and stops it as a signal would: a
// request with too many header bytes gets 431, and on the signal the
// WebSocket is closed with 1001 before run returns.
func TestRun(t *testing.T) {
	runtest.Run(t, run)
}
