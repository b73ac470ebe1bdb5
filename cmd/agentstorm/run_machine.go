package main

import (
	"fmt"
	"os"
	"time"

	"github.com/agentstorm/agentstorm/internal/cpuload"
	"github.com/agentstorm/agentstorm/report"
)

// saturatedShare is the machine's busy share above which a run's
// latencies are said to include waiting for a CPU.
const saturatedShare = 0.8

// machineFigureUnits are the figures every run adds for budgets and the
// JSON when it could read the machine's load: machine_busy, the busy share
// of all CPUs in the median second of the peak (a budget such as
// "machine_busy < 80%" fails a run on a saturated machine).
func machineFigureUnits() map[string]report.Unit {
	return map[string]report.Unit{"machine_busy": report.UnitPercent}
}

// watchMachine starts watching the machine's CPUs and this process's tree
// (its workers, the bundled target's shards); nil where that cannot be read.
func watchMachine() *cpuload.Watch {
	w, err := cpuload.Start(os.Getpid(), processGroup, time.Second)
	if err != nil {
		return nil
	}
	return w
}

// processGroup names what a process of the run's tree is, from its
// arguments: the bundled target's shards, or the generator (this process
// and its workers).
func processGroup(args []string) string {
	if len(args) > 1 && args[1] == "target-shard" {
		return "bundled target"
	}
	return "generator"
}

// peakSpan returns the seconds of the run whose active agents were at
// least 90% of the most seen (the hold of a closed-model storm), as times
// from start; the whole series when it never had agents.
func peakSpan(start time.Time, pts []report.SeriesPoint) (from, to time.Time, ok bool) {
	most := 0
	for _, p := range pts {
		most = max(most, p.ActiveAgents)
	}
	for _, p := range pts {
		if 10*p.ActiveAgents < 9*most {
			continue
		}
		end := start.Add(p.At)
		if !ok {
			from, ok = end.Add(-time.Duration(p.Seconds*float64(time.Second))), true
		}
		to = end
	}
	return from, to, ok
}

// machineLoad returns the machine's load over the run's peak (see peakSpan).
func machineLoad(w *cpuload.Watch, start time.Time, pts []report.SeriesPoint) (cpuload.Load, time.Duration, time.Duration, bool) {
	from, to, ok := peakSpan(start, pts)
	if !ok {
		return cpuload.Load{}, 0, 0, false
	}
	// The watch reads once a second, not on the intervals' edges: allow
	// half a second either side so that a 1 s peak still holds a reading.
	l, ok := w.Over(from.Add(-500*time.Millisecond), to.Add(500*time.Millisecond))
	return l, from.Sub(start), to.Sub(start), ok
}

// machineFootnote is the summary's line on the machine's load over the
// peak, with a warning when it was saturated.
func machineFootnote(l cpuload.Load, from, to time.Duration) string {
	line := fmt.Sprintf("Machine: %d CPUs, %.0f%% busy in the median second of the peak (%s to %s after the start; busiest second %.0f%%):",
		l.CPUs, 100*l.Busy, report.FormatDuration(from.Round(time.Second)), report.FormatDuration(to.Round(time.Second)), 100*l.Peak)
	for _, g := range []string{"generator", "bundled target"} {
		if c, ok := l.Groups[g]; ok {
			line += fmt.Sprintf(" the %s used %.2f cores,", g, c)
		}
	}
	line += fmt.Sprintf(" other processes %.2f.", l.Other)
	if l.Busy >= saturatedShare {
		line += fmt.Sprintf(" Over %.0f%% busy, every latency includes time spent waiting for a CPU: the figures measure this machine as much as the target. Give the storm more cores, or fewer agents.", 100*saturatedShare)
	}
	return line
}
