package cpuload

import (
	"math"
	"testing"
	"time"
)

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

// record keeps rs in a history, as a Watch does with its readings.
func record(rs []rawReading) *history {
	var h history
	for _, r := range rs {
		h.add(r)
	}
	return &h
}

// procs is a tree's processes at a reading: pid -> CPU seconds, in group g
// for pids under 100, h above.
func procs(cpu map[int]float64) map[procKey]procCPU {
	m := map[procKey]procCPU{}
	for pid, c := range cpu {
		g := "g"
		if pid >= 100 {
			g = "h"
		}
		m[procKey{pid, uint64(pid)}] = procCPU{group: g, cpu: c}
	}
	return m
}

// TestOverRanksAndGroups: the busy share is the 90th-percentile interval's
// by nearest rank, the median and peak beside it; a group's cores are its
// processes' own CPU over the span's seconds; intervals outside the span
// are left out.
func TestOverRanksAndGroups(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// 2 CPUs: 2 CPU-seconds of machine time a second. Shares by second:
	// 0.50, 0.95, 0.90, 1.00, then 0.10 outside the span.
	rs := []rawReading{
		{at: at(0), busy: 0, total: 0, waited: 10, procs: procs(map[int]float64{1: 0})},
		{at: at(1), busy: 1.0, total: 2, waited: 10.1, procs: procs(map[int]float64{1: 0.5, 100: 0.3})},
		{at: at(2), busy: 2.9, total: 4, waited: 10.6, procs: procs(map[int]float64{1: 1.3, 100: 1.2})},
		{at: at(3), busy: 4.7, total: 6, waited: 11.0, procs: procs(map[int]float64{1: 2.1, 100: 2.1})},
		{at: at(4), busy: 6.7, total: 8, waited: 11.8, procs: procs(map[int]float64{1: 3.0, 100: 3.1})},
		{at: at(5), busy: 6.9, total: 10, waited: 11.8, procs: procs(map[int]float64{1: 3.1, 100: 3.15})},
	}
	h := record(rs)
	l, ok := h.over(2, 500*time.Millisecond, at(0), at(4))
	if !ok {
		t.Fatal("no load over 0 s … 4 s")
	}
	// Ranks of 4 shares (0.50 0.90 0.95 1.00): the 90th is the 4th, the 50th the 2nd.
	if l.Intervals != 4 || !near(l.Busy, 1) || !near(l.Median, 0.9) || !near(l.Peak, 1) {
		t.Errorf("intervals %d, busy %.3f, median %.3f, peak %.3f; want 4, 1, 0.9, 1", l.Intervals, l.Busy, l.Median, l.Peak)
	}
	// g: 3.0 CPU-seconds in 4 s; h (new at 1 s: counted from its start):
	// 3.1; the machine 6.7 busy; other: (6.7 - 6.1) / 4.
	if !near(l.Groups["g"], 3.0/4) || !near(l.Groups["h"], 3.1/4) || !near(l.Other, 0.6/4) {
		t.Errorf("groups %v, other %.4f; want g 0.75, h 0.775, other 0.15", l.Groups, l.Other)
	}
	// Some task waited 1.8 of the 4 s.
	if !l.HasWaiting || !near(l.Waiting, 0.45) {
		t.Errorf("waiting %.3f (%v), want 0.45", l.Waiting, l.HasWaiting)
	}
	if _, ok := h.over(2, 500*time.Millisecond, at(6), at(9)); ok {
		t.Error("a span after the last reading has a load")
	}
}

// TestOverLeavingAndOddReadings: a process that leaves the tree takes only
// its own CPU with it (the others' still count); a reading whose machine
// total did not grow is skipped; a share out of 0 … 1 is clamped; a short
// last interval counts in the averages, not in the ranks.
func TestOverLeavingAndOddReadings(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rs := []rawReading{
		{at: at(0), busy: 0, total: 0, waited: -1, procs: procs(map[int]float64{1: 0, 2: 5})},
		{at: at(1000), busy: 1.0, total: 2, waited: -1, procs: procs(map[int]float64{1: 0.4})}, // 2 left
		{at: at(2000), busy: 1.0, total: 2, waited: -1, procs: procs(map[int]float64{1: 0.9})}, // total still: skipped
		{at: at(3000), busy: 3.5, total: 4, waited: -1, procs: procs(map[int]float64{1: 1.4})}, // 2.5 of 2: clamped to 1
		{at: at(3100), busy: 3.51, total: 4.2, waited: -1, procs: procs(map[int]float64{1: 1.41})},
	}
	l, ok := record(rs).over(2, 500*time.Millisecond, at(0), at(3100))
	if !ok {
		t.Fatal("no load")
	}
	if l.Intervals != 2 || !near(l.Peak, 1) || !near(l.Median, 0.5) {
		t.Errorf("intervals %d, median %.3f, peak %.3f; want 2 (the skipped and the short one out), 0.5, 1", l.Intervals, l.Median, l.Peak)
	}
	// g over the counted intervals, each from the reading before it: 0.4,
	// 1.4 - 0.9 and 0.01, 0.91 CPU-seconds in their 2.1 s.
	if l.HasWaiting {
		t.Errorf("waiting %.3f without pressure readings", l.Waiting)
	}
	if !near(l.Groups["g"], 0.91/2.1) {
		t.Errorf("group g %.4f cores, want %.4f", l.Groups["g"], 0.91/2.1)
	}
}

// TestOverTakesBusyFromIdle: when the kernel's busy ticks fall short of
// the wall time (/proc/stat totals 1.5 CPU-seconds a second on 2 CPUs, 0.3
// of them idle), the machine was busy for all the time it was not idle:
// 85%, not 1.2 / 1.5 = 80%; and what the tree did not use of that counts
// as other processes.
func TestOverTakesBusyFromIdle(t *testing.T) {
	l, ok := steadyLoad(4, 1.2, 1.5, 1.0)
	if !ok {
		t.Fatal("no load")
	}
	if !near(l.Busy, 0.85) || !near(l.Median, 0.85) || !near(l.Peak, 0.85) {
		t.Errorf("busy %.4f, median %.4f, peak %.4f; want 0.85 each", l.Busy, l.Median, l.Peak)
	}
	if !near(l.Other, 0.7) {
		t.Errorf("other processes %.4f cores, want 0.7 (1.7 busy, 1.0 the tree's)", l.Other)
	}
}

// TestOverNeverBelowTheTicks: should the kernel's counters run ahead of the
// wall clock (2.2 CPU-seconds a second on 2 CPUs, 1.9 of them busy), the
// share is their busy / total (86%), not the lower 1 − idle / wall (85%).
func TestOverNeverBelowTheTicks(t *testing.T) {
	l, ok := steadyLoad(2, 1.9, 2.2, 1.0)
	if !ok {
		t.Fatal("no load")
	}
	if !near(l.Busy, 1.9/2.2) {
		t.Errorf("busy %.4f, want %.4f", l.Busy, 1.9/2.2)
	}
}

// steadyLoad is the load on 2 CPUs over secs seconds read once a second, in
// each of which /proc/stat counted busy of total CPU-seconds and the tree's
// one process used tree.
func steadyLoad(secs int, busy, total, tree float64) (Load, bool) {
	t0 := time.Unix(1000, 0)
	var rs []rawReading
	for s := 0; s <= secs; s++ {
		f := float64(s)
		rs = append(rs, rawReading{at: t0.Add(time.Duration(s) * time.Second), busy: busy * f, total: total * f, waited: -1,
			procs: procs(map[int]float64{1: tree * f})})
	}
	return record(rs).over(2, 500*time.Millisecond, t0, t0.Add(time.Duration(secs)*time.Second))
}
