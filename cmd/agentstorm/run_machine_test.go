package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/cpuload"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// TestMachineFootnote: the ranks, the groups and the rest (the kernel and
// other processes) are named; the warning comes from the saturation
// threshold up; the figure is the 90th-percentile second in percent.
func TestMachineFootnote(t *testing.T) {
	l := cpuload.Load{CPUs: 2, Intervals: 50, Busy: 0.79, Median: 0.7, Peak: 0.95, Groups: map[string]float64{"generator": 0.61, "bundled target": 0.9}, Other: 0.07,
		Waiting: 0.31, HasWaiting: true}
	line := machineFootnote(l, 71*time.Second)
	for _, want := range []string{"2 CPUs, 79% busy in the 90th-percentile second of the run's 1m11s", "median 70%", "busiest 95%)", "some task waited for a CPU 31% of the time;",
		"the generator used 0.61 cores", "the bundled target used 0.90 cores", "the kernel and other processes 0.07."} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "wait for a CPU") {
		t.Errorf("79%% busy warned: %q", line)
	}
	l.Busy = 0.8
	if line := machineFootnote(l, 71*time.Second); !strings.Contains(line, "requests often wait for a CPU") {
		t.Errorf("80%% busy did not warn: %q", line)
	}
	if f := machineFigures(l); f["machine_busy"] != 80 {
		t.Errorf("figures %v, want machine_busy 80 (percent)", f)
	}
}

// TestMachineNotMeasured: a run that could not watch the machine says why,
// and gives no figure (a budget on it has no data, so it is missed).
func TestMachineNotMeasured(t *testing.T) {
	line, figs := machineWatch{err: errors.New("a cgroup caps this process at 1.50 of the machine's 8 CPUs")}.end(time.Now(), nil)
	if !strings.Contains(line, "Machine: not measured (a cgroup caps") || figs != nil {
		t.Errorf("line %q, figures %v", line, figs)
	}
}

// TestReportKeepsMachineBusyUnit: re-judging a saved run reads
// machine_busy as a percentage, as the run did.
func TestReportKeepsMachineBusyUnit(t *testing.T) {
	o := budgetOptions(&report.Summary{Figures: map[string]float64{"machine_busy": 94, "order_queue_peak": 3, "other": 1}})
	if o.Figures["machine_busy"] != report.UnitPercent || o.Figures["order_queue_peak"] != report.UnitCount || o.Figures["other"] != report.UnitNumber {
		t.Errorf("units %v", o.Figures)
	}
}

// TestReportMachineBusyWithoutData: a saved run that could not measure the
// machine still knows machine_busy, so a budget on it is missed (no data)
// rather than refused as an unknown metric.
func TestReportMachineBusyWithoutData(t *testing.T) {
	o := budgetOptions(&report.Summary{})
	if o.Figures["machine_busy"] != report.UnitPercent {
		t.Fatalf("units %v: want machine_busy known", o.Figures)
	}
	b, err := budget.Parse("machine_busy < 80%", o)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if r := b.Evaluate(&report.Summary{}); r.Met {
		t.Errorf("a budget on an unmeasured machine_busy was met: %+v", r)
	}
}
