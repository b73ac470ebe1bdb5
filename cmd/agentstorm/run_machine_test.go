package main

import (
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/cpuload"
	"github.com/agentstorm/agentstorm/report"
)

// TestPeakSpan: the span runs over the seconds with at least 90% of the
// most active agents, from the first such interval's start to the last's
// end; a series without agents has none.
func TestPeakSpan(t *testing.T) {
	start := time.Unix(100, 0)
	pts := []report.SeriesPoint{{At: 1 * time.Second, Seconds: 1, ActiveAgents: 400}, {At: 2 * time.Second, Seconds: 1, ActiveAgents: 950},
		{At: 3 * time.Second, Seconds: 1, ActiveAgents: 1000}, {At: 4 * time.Second, Seconds: 1, ActiveAgents: 900}, {At: 4500 * time.Millisecond, Seconds: 0.5, ActiveAgents: 100}}
	from, to, ok := peakSpan(start, pts)
	if !ok || from.Sub(start) != time.Second || to.Sub(start) != 4*time.Second {
		t.Errorf("span %v to %v (%v), want 1s to 4s", from.Sub(start), to.Sub(start), ok)
	}
	if _, _, ok := peakSpan(start, nil); ok {
		t.Error("an empty series has a span")
	}
}

// TestMachineFootnote: the groups and other processes are named, and the
// warning comes only from the saturation threshold up.
func TestMachineFootnote(t *testing.T) {
	l := cpuload.Load{CPUs: 2, Intervals: 50, Busy: 0.79, Peak: 0.95, Groups: map[string]float64{"generator": 0.61, "bundled target": 0.9}, Other: 0.07}
	line := machineFootnote(l, 6*time.Second, 66*time.Second)
	for _, want := range []string{"2 CPUs, 79% busy", "busiest second 95%", "the generator used 0.61 cores", "the bundled target used 0.90 cores", "other processes 0.07."} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "waiting for a CPU") {
		t.Errorf("79%% busy warned: %q", line)
	}
	l.Busy = 0.8
	if line := machineFootnote(l, 6*time.Second, 66*time.Second); !strings.Contains(line, "every latency includes time spent waiting for a CPU") {
		t.Errorf("80%% busy did not warn: %q", line)
	}
}
