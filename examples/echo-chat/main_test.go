package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rushws/rushws/examples/internal/chattest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestApp(t *testing.T) {
	chattest.Run(t, newApp)
}
