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

// TestTimersWheelAndHeap arms timers on and off the think grid (some beyond the wheel's
// horizon), moves and cancels them at random while time advances, and checks that popDue
// hands each armed timer out once, at or after its instant and in time order, and never a
// cancelled one; that next never promises a timer later than one pending; and that the
// grid's timers went to the wheel.
func TestTimersWheelAndHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var tm timers
	agents := make([]*agent, 300)
	for i := range agents {
		agents[i] = &agent{hidx: -1}
	}
	g := int64(thinkGrid)
	want := map[*agent]int64{}
	now, last, fired, inWheel := int64(0), int64(-1), 0, 0
	for step := range 20000 {
		a := agents[rng.IntN(len(agents))]
		switch r := rng.IntN(10); {
		case r == 0:
			tm.disarm(a)
			delete(want, a)
		case r < 7:
			var when int64
			switch rng.IntN(4) {
			case 0: // off the grid
				when = now + 1 + rng.Int64N(30*g)
			case 1: // on the grid, past the wheel's horizon sometimes
				when = (now/g + 1 + rng.Int64N(2*wheelSlots)) * g
			default: // on the grid, a think's distance away
				when = (now/g + 1 + rng.Int64N(500)) * g
			}
			tm.arm(a, when)
			want[a] = when
			if a.inWheel {
				inWheel++
			}
		default:
			if next, ok := tm.next(); ok {
				for _, w := range want {
					if w < next {
						t.Fatalf("step %d: next %d, but a timer is pending at %d", step, next, w)
					}
				}
			} else if len(want) > 0 {
				t.Fatalf("step %d: next says none, %d pending", step, len(want))
			}
			now += rng.Int64N(3 * g)
			for {
				a := tm.popDue(now)
				if a == nil {
					break
				}
				w, armed := want[a]
				if !armed || w > now || w < last {
					t.Fatalf("step %d: fired a timer armed %v at %d, now %d, after one at %d", step, armed, w, now, last)
				}
				if a.inWheel || a.hidx != -1 {
					t.Fatalf("step %d: a fired timer is still armed", step)
				}
				delete(want, a)
				last, fired = w, fired+1
			}
			for a, w := range want {
				if w <= now {
					t.Fatalf("step %d: timer of %p at %d not fired at %d", step, a, w, now)
				}
			}
		}
	}
	if fired < 1000 || inWheel < 1000 {
		t.Fatalf("only %d timers fired, %d armed in the wheel", fired, inWheel)
	}
}
