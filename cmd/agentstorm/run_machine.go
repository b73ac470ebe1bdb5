package main

import (
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/internal/cpuload"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// saturatedShare is the machine's busy share from which a run is said to
// measure the machine as much as the target: on a few CPUs, requests then
// often wait for one.
const saturatedShare = 0.8

// machineFigureUnits is the figure every run adds where it can read the
// machine's load (see machineFigures).
func machineFigureUnits() map[string]report.Unit {
	return map[string]report.Unit{"machine_busy": report.UnitPercent}
}

// runFigureUnits are the units of every run-wide figure a run may add, for
// re-judging a saved run (report): machine_busy, the game day's and the
// bundled checkout's.
func runFigureUnits() map[string]report.Unit {
	u := machineFigureUnits()
	maps.Copy(u, gameday.FigureUnits())
	maps.Copy(u, checkoutFigureUnits())
	return u
}

// machineWatch is the run's watch of the machine's CPUs: the watch, or
// why there is none.
type machineWatch struct {
	w   *cpuload.Watch
	err error
}

// watchMachine starts watching the machine's CPUs and this process's tree
// (its workers, the bundled target's shards), once a second.
func watchMachine() machineWatch {
	w, err := cpuload.Start(os.Getpid(), processGroup, time.Second)
	return machineWatch{w, err}
}

// processGroup names what a process of the run's tree is, from its
// arguments: the bundled target's shards, or the generator (this process
// and its workers).
func processGroup(args []string) string {
	if len(args) > 1 && args[1] == supervisor.ShardSubcommand {
		return "bundled target"
	}
	return "generator"
}

// end stops the watch and returns the footnote on the machine's load over
// every second of the run (pts, from start) and the figures for the
// summary (none when the load is not known).
func (m machineWatch) end(start time.Time, pts []report.SeriesPoint) (string, map[string]float64) {
	if m.err != nil {
		return fmt.Sprintf("Machine: not measured (%v); a budget on machine_busy has no data.", m.err), nil
	}
	m.w.Stop()
	if len(pts) == 0 {
		return "", nil
	}
	end := pts[len(pts)-1].At
	// The watch reads once a second, not on the intervals' edges: half a
	// second of slack either side keeps a short run's readings.
	l, ok := m.w.Over(start.Add(-500*time.Millisecond), start.Add(end+500*time.Millisecond))
	if !ok {
		return "", nil
	}
	return machineFootnote(l, end), machineFigures(l)
}

// machineFigures are the run figures of a load: machine_busy, the busy
// share of the 90th-percentile second in percent.
func machineFigures(l cpuload.Load) map[string]float64 {
	return map[string]float64{"machine_busy": 100 * l.Busy}
}

// machineFootnote is the summary's line on the machine's load over a run of
// length d, with a warning when it was saturated.
func machineFootnote(l cpuload.Load, d time.Duration) string {
	line := fmt.Sprintf("Machine: %d CPUs, %.0f%% busy in the 90th-percentile second of the run's %s (median %.0f%%, busiest %.0f%%)",
		l.CPUs, 100*l.Busy, report.FormatDuration(d.Round(time.Second)), 100*l.Median, 100*l.Peak)
	if l.HasWaiting {
		line += fmt.Sprintf("; some task waited for a CPU %.0f%% of the time", 100*l.Waiting)
	}
	line += ";"
	for _, g := range []string{"generator", "bundled target"} {
		if c, ok := l.Groups[g]; ok {
			line += fmt.Sprintf(" the %s used %.2f cores on average,", g, c)
		}
	}
	line += fmt.Sprintf(" the kernel and other processes %.2f.", l.Other)
	if l.Busy >= saturatedShare {
		line += fmt.Sprintf(" At %.0f%% busy or more, requests often wait for a CPU: the latencies measure this machine as much as the target. Give the storm more cores, or fewer agents.", 100*saturatedShare)
	}
	return line
}
