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
	// 2 CPUs, 100 ticks a second each: 200 ticks of machine time a second.
	rs := []reading{
		{at: at(0), busy: 0, total: 0, groups: map[string]uint64{"gen": 0}},
		{at: at(1), busy: 100, total: 200, groups: map[string]uint64{"gen": 50, "target": 30}},    // 50%
		{at: at(2), busy: 290, total: 400, groups: map[string]uint64{"gen": 130, "target": 120}},  // 95%
		{at: at(3), busy: 470, total: 600, groups: map[string]uint64{"gen": 210, "target": 210}},  // 90%
		{at: at(4), busy: 670, total: 800, groups: map[string]uint64{"gen": 300, "target": 310}},  // 100%
		{at: at(5), busy: 690, total: 1000, groups: map[string]uint64{"gen": 310, "target": 315}}, // 10%, outside
	}
	l, ok := over(rs, 2, 100, at(1), at(4))
	if !ok {
		t.Fatal("no load over 1 s … 4 s")
	}
	if l.Intervals != 3 || l.Busy != 0.95 || l.Peak != 1 {
		t.Errorf("intervals %d, busy %.3f, peak %.3f; want 3, 0.95 (median of 0.90, 0.95, 1.00), 1", l.Intervals, l.Busy, l.Peak)
	}
	// gen: 250 ticks in 3 s = 0.833 cores; target: 280 = 0.933; the
	// machine: 570 busy ticks = 1.9 cores; other: 1.9 - 1.767.
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(l.Groups["gen"], 250.0/300) || !near(l.Groups["target"], 280.0/300) || !near(l.Other, 570.0/300-530.0/300) {
		t.Errorf("groups %v, other %.4f; want gen 0.8333, target 0.9333, other 0.1333", l.Groups, l.Other)
	}
	if _, ok := over(rs, 2, 100, at(6), at(9)); ok {
		t.Error("a span after the last reading has a load")
	}
}

// TestParseStat reads the machine's line and counts the CPUs; iowait is
// idle time, steal is busy.
func TestParseStat(t *testing.T) {
	b := []byte("cpu  100 5 50 800 20 1 2 7 0 0\ncpu0 50 2 25 400 10 1 1 3 0 0\ncpu1 50 3 25 400 10 0 1 4 0 0\nintr 1 2 3\n")
	busy, total, cpus, err := parseStat(b)
	if err != nil || busy != 165 || total != 985 || cpus != 2 {
		t.Errorf("busy %d total %d cpus %d (%v); want 165, 985, 2", busy, total, cpus, err)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu  1 x 3 4\ncpu0 1 2 3 4\n", "cpu 1 2\ncpu0 1 2\n"} {
		if _, _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

// TestParsePidStat: a command name with spaces and ')' does not shift the
// fields.
func TestParsePidStat(t *testing.T) {
	b := []byte("4242 (as) (run x) S 77 4242 77 0 -1 4194560 100 0 0 0 321 123 5 6 20 0 9 0 100 1000 50\n")
	ppid, ticks, err := parsePidStat(b)
	if err != nil || ppid != 77 || ticks != 444 {
		t.Errorf("ppid %d ticks %d (%v); want 77, 444", ppid, ticks, err)
	}
	if _, _, err := parsePidStat([]byte("1 (init S 0")); err == nil {
		t.Error("a line without ')' parsed")
	}
}
