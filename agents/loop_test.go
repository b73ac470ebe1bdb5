package agents

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestThinkEndOnGrid: a think never ends early, ends at most one slot
// late (4 ms, or 1/32 of a think under 128 ms), on a slot boundary of the
// swarm's clock, so agents due within one slot send together.
func TestThinkEndOnGrid(t *testing.T) {
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	l := &loop{base: base}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		now := base.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		d := time.Duration(rng.ExpFloat64() * float64(time.Duration(1)<<rng.IntN(36)))
		want := now.Add(d)
		end := l.thinkEnd(now, d)
		slot := min(thinkGrid, d/32)
		if end.Before(want) {
			t.Fatalf("think %v from %v ends at %v, before %v", d, now, end, want)
		}
		if slot <= 0 {
			if !end.Equal(want) {
				t.Fatalf("think %v (no slot) ends at %v, want exactly %v", d, end, want)
			}
			continue
		}
		if late := end.Sub(want); late >= slot {
			t.Fatalf("think %v ends %v late, want under its slot %v", d, late, slot)
		}
		if off := end.Sub(base) % slot; off != 0 {
			t.Fatalf("think %v ends %v past a slot of %v", d, off, slot)
		}
	}
	// Two agents due 3 ms apart inside one slot wake together.
	now := base.Add(time.Second)
	a := l.thinkEnd(now, 2*time.Second+time.Millisecond/2)
	b := l.thinkEnd(now, 2*time.Second+3*time.Millisecond)
	if !a.Equal(b) || !a.Equal(base.Add(3*time.Second+4*time.Millisecond)) {
		t.Fatalf("thinks ending 0.5 and 3 ms into a slot end at %v and %v, want both at the slot's end %v", a, b, base.Add(3*time.Second+4*time.Millisecond))
	}
}
