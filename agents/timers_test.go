package agents

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimerHeapOrder arms, moves and cancels timers at random and checks
// they come out in time order, each once, the cancelled ones never.
func TestTimerHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	agents := make([]*agent, 500)
	want := map[*agent]int64{}
	for i := range agents {
		agents[i] = &agent{hidx: -1}
	}
	for range 5000 {
		a := agents[rng.IntN(len(agents))]
		if rng.IntN(4) == 0 {
			h.disarm(a)
			delete(want, a)
			continue
		}
		when := rng.Int64N(1e6)
		h.arm(a, when)
		want[a] = when
	}
	if len(h) != len(want) {
		t.Fatalf("%d timers armed, want %d", len(h), len(want))
	}
	var got []int64
	for {
		when, a := h.next()
		if a == nil {
			break
		}
		if want[a] != when {
			t.Fatalf("agent's timer at %d, armed last at %d", when, want[a])
		}
		delete(want, a)
		h.disarm(a)
		if a.hidx != -1 {
			t.Fatal("disarmed agent keeps a heap index")
		}
		got = append(got, when)
	}
	if len(want) != 0 || !slices.IsSorted(got) {
		t.Fatalf("%d timers never fired; fired in order: %v", len(want), slices.IsSorted(got))
	}
}
