package metrics_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
)

func newTestHub(t *testing.T) *core.Hub {
	t.Helper()
	hub, err := core.NewHub(core.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	return hub
}

// TestRegisterTwoHubs: a second hub registered on the same registry gets an
// error that points to ConstLabels, and still wraps client_golang's
// AlreadyRegisteredError; with distinct ConstLabels both register.
func TestRegisterTwoHubs(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg, newTestHub(t)); err != nil {
		t.Fatal(err)
	}
	err := metrics.Register(reg, newTestHub(t))
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Fatalf("second Register = %v, want an error wrapping prometheus.AlreadyRegisteredError", err)
	}
	for _, want := range []string{"ConstLabels", "NewCollector"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second Register = %q, want it to mention %s", err, want)
		}
	}

	reg = prometheus.NewRegistry()
	for _, name := range []string{"chat", "game"} {
		c, err := metrics.NewCollector(newTestHub(t), metrics.Config{ConstLabels: prometheus.Labels{"hub": name}})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(c); err != nil {
			t.Fatalf("Register hub %s: %v", name, err)
		}
	}
}
