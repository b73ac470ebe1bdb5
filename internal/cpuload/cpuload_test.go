package cpuload

import (
	"math"
	"testing"
	"time"
)

// TestOverMedianAndGroups: the busy share is the median interval's, the
// peak the busiest's, a group's cores its ticks over the span's seconds,
// and intervals outside the span are left out.
func TestOverMedianAndGroups(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// 2 CPUs: 2 CPU-seconds of machine time a second.
	rs := []reading{
		{at: at(0), busy: 0.0, total: 0.0, groups: map[string]float64{"gen": 0.0}},
		{at: at(1), busy: 1.0, total: 2.0, groups: map[string]float64{"gen": 0.5, "target": 0.3}},   // 50%
		{at: at(2), busy: 2.9, total: 4.0, groups: map[string]float64{"gen": 1.3, "target": 1.2}},   // 95%
		{at: at(3), busy: 4.7, total: 6.0, groups: map[string]float64{"gen": 2.1, "target": 2.1}},   // 90%
		{at: at(4), busy: 6.7, total: 8.0, groups: map[string]float64{"gen": 3.0, "target": 3.1}},   // 100%
		{at: at(5), busy: 6.9, total: 10.0, groups: map[string]float64{"gen": 3.1, "target": 3.15}}, // 10%, outside
	}
	l, ok := over(rs, 2, at(1), at(4))
	if !ok {
		t.Fatal("no load over 1 s … 4 s")
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-6 }
	if l.Intervals != 3 || !near(l.Busy, 0.95) || !near(l.Peak, 1) {
		t.Errorf("intervals %d, busy %.3f, peak %.3f; want 3, 0.95 (median of 0.90, 0.95, 1.00), 1", l.Intervals, l.Busy, l.Peak)
	}
	// gen: 2.5 CPU-seconds in 3 s = 0.833 cores; target: 2.8 = 0.933; the
	// machine: 5.7 busy = 1.9 cores; other: 1.9 - 1.767.
	if !near(l.Groups["gen"], 2.5/3) || !near(l.Groups["target"], 2.8/3) || !near(l.Other, 5.7/3-5.3/3) {
		t.Errorf("groups %v, other %.4f; want gen 0.8333, target 0.9333, other 0.1333", l.Groups, l.Other)
	}
	if _, ok := over(rs, 2, at(6), at(9)); ok {
		t.Error("a span after the last reading has a load")
	}
}
