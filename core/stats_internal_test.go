package core

import (
	"sync"
	"testing"
	"time"
)

func TestStatsHistogramBuckets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		bounds *histBounds
		value  int64
		bucket int
	}{
		{"empty queue", &queueBounds, 0, 0},
		{"on the first bound", &queueBounds, 64, 0},
		{"just above it", &queueBounds, 65, 1},
		{"the default queue bound", &queueBounds, 1 << 20, 7},
		{"over the last bound", &queueBounds, 4<<20 + 1, 9},
		{"fast round trip", &rttBounds, int64(100 * time.Microsecond), 0},
		{"3 ms round trip", &rttBounds, int64(3 * time.Millisecond), 3},
		{"exactly one second", &rttBounds, int64(time.Second), 10},
		{"ten seconds", &rttBounds, int64(10 * time.Second), 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h histogram
			h.observe(tt.bounds, tt.value)
			snap := h.snapshot(tt.bounds)
			if snap.Count != 1 || snap.Counts[tt.bucket] != 1 {
				t.Fatalf("value %d landed in %v, want bucket %d", tt.value, snap.Counts, tt.bucket)
			}
			if want := float64(tt.value) * tt.bounds.scale; snap.Sum != want {
				t.Fatalf("Sum = %v, want %v", snap.Sum, want)
			}
		})
	}
	if len(rttBounds.raw) > maxBuckets || len(queueBounds.raw) > maxBuckets {
		t.Fatal("more bounds than a histogram has buckets")
	}
}

// TestStatsHistogramConcurrent observes from many goroutines at once; run
// with -race, nothing is lost.
func TestStatsHistogramConcurrent(t *testing.T) {
	t.Parallel()
	var s counters
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				s.observeQueue(g*1000 + i)
				s.recordClose(1000 + i%12)
				s.recordRTT(time.Duration(i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	q := s.queueHst.snapshot(&queueBounds)
	if q.Count != 8000 || q.Sum != float64(8000*7999/2) {
		t.Fatalf("queue histogram count %d sum %v, want 8000 and %d", q.Count, q.Sum, 8000*7999/2)
	}
	if r := s.rttHist.snapshot(&rttBounds); r.Count != 8000 {
		t.Fatalf("round-trip histogram count %d, want 8000", r.Count)
	}
	var closes uint64
	for i := range s.closes {
		closes += s.closes[i].Load()
	}
	if closes != 8000 {
		t.Fatalf("closes counted %d, want 8000", closes)
	}
}
