package profiles

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestLevelsInFlightParsed: workload.levels selects what the open model's
// levels count; it is refused on the closed model and misspelt values are
// named.
func TestLevelsInFlightParsed(t *testing.T) {
	open := strings.Replace(validSrc, "model: closed", "model: open\n  levels: in_flight", 1)
	p, err := Load("t.yaml", []byte(open), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Workload.TargetsInFlight() {
		t.Fatalf("levels: in_flight not taken: %+v", p.Workload)
	}
	rate := strings.Replace(validSrc, "model: closed", "model: open", 1)
	if p, err := Load("t.yaml", []byte(rate), t.TempDir()); err != nil || p.Workload.TargetsInFlight() {
		t.Fatalf("open without levels: %v, %+v", err, p)
	}
	for _, tc := range []struct{ new, marker, want string }{
		{"model: closed\n  levels: in_flight", "in_flight", "applies to the open model only"},
		{"model: open\n  levels: inflight", "inflight", `did you mean "in_flight"`},
	} {
		src := strings.Replace(validSrc, "model: closed", tc.new, 1)
		wantErr(t, loadErrs(t, src), at(t, "t.yaml", src, tc.marker, 1), tc.want)
	}
}

// TestLevelSteps: the walk visits every unit change of floor(LevelAt) at
// the instant it happens, checked against LevelAt itself.
func TestLevelSteps(t *testing.T) {
	w := Workload{Model: Open, Levels: InFlight, Stages: []Stage{
		{Duration: 6 * time.Second, Target: 50}, // ramp up
		{Duration: 4 * time.Second, Target: 50}, // hold
		{Duration: 0, Target: 70},               // jump
		{Duration: 10 * time.Second, Target: 20},
		{Duration: 5 * time.Second, Target: 0},
	}}
	it := w.Steps()
	level, n := 0, 0
	var last time.Duration
	for {
		at, lv, ok := it.Next()
		if !ok {
			break
		}
		n++
		if lv != level+1 && lv != level-1 {
			t.Fatalf("step %d at %s: level %d after %d, want one unit of change", n, at, lv, level)
		}
		if at < last {
			t.Fatalf("step %d at %s before the previous at %s", n, at, last)
		}
		// Just after the change the floor of the plan's level is lv;
		// just before a rise it was lower.
		if got := int(math.Floor(w.LevelAt(at + time.Microsecond))); got != lv && at != 10*time.Second {
			t.Fatalf("at %s+1µs: floor(LevelAt) %d, the walk says %d", at, got, lv)
		}
		if lv > level && at > 0 && at != 10*time.Second {
			if got := w.LevelAt(at - time.Microsecond); got >= float64(lv) {
				t.Fatalf("rise to %d at %s, but LevelAt just before is already %.3f", lv, at, got)
			}
		}
		level, last = lv, at
	}
	// 50 up, 20 up at the jump, 50 down, 20 down.
	if n != 140 || level != 0 {
		t.Fatalf("%d changes ending at %d, want 140 ending at 0", n, level)
	}
	// The ramp's k-th unit is due at 6s*k/50: unit 25 at 3 s exactly.
	it = w.Steps()
	for k := 1; k <= 25; k++ {
		at, _, _ := it.Next()
		if k == 25 && at != 3*time.Second {
			t.Fatalf("level 25 reached at %s, want 3s", at)
		}
	}
	empty := Workload{}.Steps()
	if _, _, ok := empty.Next(); ok {
		t.Fatal("an empty plan has a change")
	}
}
