package main

import (
	"math/bits"
	"sync/atomic"
)

// hist is a log-linear latency histogram (32 sub-buckets per power of two,
// about 3% resolution) safe for concurrent recording.
type hist struct {
	counts [64 + 40*32]atomic.Uint64
	total  atomic.Uint64
}

func bucketOf(v int64) int {
	if v < 64 {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - 6 // v >> e is in [32, 64)
	i := 64 + (e-1)*32 + int(v>>e) - 32
	if i >= len(hist{}.counts) {
		i = len(hist{}.counts) - 1
	}
	return i
}

// lowerBound returns the smallest value in bucket i.
func lowerBound(i int) int64 {
	if i < 64 {
		return int64(i)
	}
	e := (i-64)/32 + 1
	m := int64((i-64)%32 + 32)
	return m << e
}

func (h *hist) record(v int64) {
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
}

// quantile returns the value at quantile q (0..1): the middle of its
// bucket.
func (h *hist) quantile(q float64) int64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n) + 0.5)
	if want < 1 {
		want = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= want {
			lo := lowerBound(i)
			hi := lowerBound(i + 1)
			return (lo + hi) / 2
		}
	}
	return lowerBound(len(h.counts) - 1)
}
