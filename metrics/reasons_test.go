package metrics_test

import (
	"slices"
	"testing"

	"github.com/rushws/rushws/core"
	"github.com/rushws/rushws/metrics"
)

// TestRejectReasonsFromCore fails when the collector's reasons drift from
// core's: a reason the hub can count must be a label of its own, never
// folded into "other".
func TestRejectReasonsFromCore(t *testing.T) {
	t.Parallel()
	got, want := metrics.RejectReasons(), core.RejectReasons()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("metrics.RejectReasons() = %v, want core.RejectReasons() %v", got, want)
	}
}
