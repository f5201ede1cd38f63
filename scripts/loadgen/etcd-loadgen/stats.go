package main

import (
	"sort"
	"sync"
	"time"
)

// summarize turns the measured latencies into a Result (rates over the measured duration).
func summarize(o Options, latencies []time.Duration, measured time.Duration) Result {
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	result := Result{
		Workload:     o.Workload,
		Clients:      o.Clients,
		Connections:  o.Connections,
		ValueBytes:   o.ValueBytes,
		Seconds:      measured.Seconds(),
		Ops:          int64(len(latencies)),
		ErrorSamples: []string{},
	}
	if measured > 0 {
		result.OpsPerSecond = float64(len(latencies)) / measured.Seconds()
	}
	if len(latencies) > 0 {
		result.P50Ms = milliseconds(percentile(latencies, 0.5))
		result.P99Ms = milliseconds(percentile(latencies, 0.99))
		result.MaxMs = milliseconds(latencies[len(latencies)-1])
	}
	return result
}

// percentile of an ascending slice: the element at floor(fraction * n), as bench-raft does.
func percentile(sorted []time.Duration, fraction float64) time.Duration {
	at := int(fraction * float64(len(sorted)))
	if at >= len(sorted) {
		at = len(sorted) - 1
	}
	return sorted[at]
}

func milliseconds(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// gapTracker records every stretch between consecutive successful writes (from any client)
// longer than minimum, as [from, to] Unix milliseconds.
type gapTracker struct {
	mu          sync.Mutex
	minimum     time.Duration
	lastSuccess time.Time
	gaps        [][2]int64
}

func newGapTracker(minimumMs float64) *gapTracker {
	return &gapTracker{minimum: time.Duration(minimumMs * float64(time.Millisecond)),
		lastSuccess: time.Now()}
}

func (g *gapTracker) success(at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !at.After(g.lastSuccess) {
		return
	}
	if at.Sub(g.lastSuccess) > g.minimum {
		g.gaps = append(g.gaps, [2]int64{g.lastSuccess.UnixMilli(), at.UnixMilli()})
	}
	g.lastSuccess = at
}

// finish closes an open stretch at the end of the run (writes never came back) and returns
// all gaps.
func (g *gapTracker) finish(at time.Time) [][2]int64 {
	g.success(at)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gaps
}
