package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOverridesApply: what a command line changes of a workload.
func TestOverridesApply(t *testing.T) {
	closed := func() *Profile {
		return &Profile{Workload: Workload{Model: Closed, Stages: []Stage{{Duration: 10 * time.Second, Target: 1000}, {Duration: 60 * time.Second, Target: 1000}}}}
	}
	d := func(v time.Duration) *time.Duration { return &v }
	// A ramp alone keeps the profile's length: ramp, then hold.
	p := closed()
	if err := (Overrides{Ramp: d(4 * time.Second)}).Apply(p); err != nil || len(p.Workload.Stages) != 2 ||
		p.Workload.Stages[0] != (Stage{Duration: 4 * time.Second, Target: 1000}) || p.Workload.Stages[1] != (Stage{Duration: 66 * time.Second, Target: 1000}) {
		t.Errorf("--ramp 4s: %v, %v", p.Workload.Stages, err)
	}
	// A ramp longer than the duration is cut to it: no hold.
	p = closed()
	if err := (Overrides{Duration: 2 * time.Second, Ramp: d(5 * time.Second)}).Apply(p); err != nil || len(p.Workload.Stages) != 1 || p.Workload.Stages[0].Duration != 2*time.Second {
		t.Errorf("--duration 2s --ramp 5s: %v, %v", p.Workload.Stages, err)
	}
	// The open model's agents are its session cap; its stages stay.
	open := &Profile{Workload: Workload{Model: Open, Stages: []Stage{{Duration: time.Second, Target: 50}}}}
	if err := (Overrides{Agents: 30}).Apply(open); err != nil || open.Workload.MaxAgents != 30 || open.Workload.Stages[0].Target != 50 {
		t.Errorf("open --agents 30: max %d stages %v, %v", open.Workload.MaxAgents, open.Workload.Stages, err)
	}
	// In-flight levels are the sessions at once: --agents scales them (and
	// max_agents with them), as for the closed model.
	inflight := &Profile{Workload: Workload{Model: Open, Levels: InFlight, MaxAgents: 40, Stages: []Stage{{Duration: time.Second, Target: 50}, {Duration: time.Second, Target: 10}}}}
	if err := (Overrides{Agents: 5}).Apply(inflight); err != nil || inflight.Workload.MaxAgents != 4 || inflight.Workload.Stages[0].Target != 5 || inflight.Workload.Stages[1].Target != 1 {
		t.Errorf("in-flight --agents 5: max %d stages %v, %v", inflight.Workload.MaxAgents, inflight.Workload.Stages, err)
	}
	// A workload of no time at all is refused.
	if err := (Overrides{}).Apply(&Profile{Workload: Workload{Model: Closed}}); err == nil || !strings.Contains(err.Error(), "lasts 0 s") {
		t.Errorf("empty workload: %v", err)
	}
	// Scaling keeps the shape; a peak of 0 sets every stage.
	w := Workload{Stages: []Stage{{Target: 10}, {Target: 40}, {Target: 0}}}
	w.ScaleStages(20)
	if w.Stages[0].Target != 5 || w.Stages[1].Target != 20 || w.Stages[2].Target != 0 {
		t.Errorf("ScaleStages(20): %v", w.Stages)
	}
	z := Workload{Stages: []Stage{{Target: 0}, {Target: 0}}}
	z.ScaleStages(7)
	if z.Stages[0].Target != 7 || z.Stages[1].Target != 7 {
		t.Errorf("ScaleStages of a zero peak: %v", z.Stages)
	}
}

// TestNamed: a name is a built-in, a path or an existing file a profile
// file, its variables from the lookup.
func TestNamed(t *testing.T) {
	if p, err := Named("smoke", nil); err != nil || p.Name != "smoke" {
		t.Fatalf("built-in: %v %v", p, err)
	}
	if _, err := Named("no-such-profile", nil); err == nil || !strings.Contains(err.Error(), "no built-in profile") {
		t.Errorf("unknown built-in: %v", err)
	}
	src, err := BuiltinSource("smoke")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mine")
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if p, err := Named("mine", func(string) (string, bool) { return "", false }); err != nil || p.File == "" {
		t.Errorf("an existing file without a suffix: %v %v", p, err)
	}
}
