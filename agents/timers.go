package agents

// timers is a loop's pending timers. Those ending exactly on the think grid (the think
// times) wait in a wheel of grid slots, the others (deadlines, backoffs, short thinks) in a
// heap. An agent has at most one timer at a time (its think time, its redial or retry
// backoff, or the deadline of its connect or call); arming replaces it.
type timers struct {
	heap  timerHeap
	wheel thinkWheel
}

// arm sets a's timer to fire at when (on the loop's clock), replacing any it had. A timer
// that stays in the heap moves in place.
func (t *timers) arm(a *agent, when int64) {
	if a.inWheel {
		t.wheel.cancel(a)
	}
	if g := int64(thinkGrid); when%g == 0 && t.wheel.add(a, when/g) {
		t.heap.disarm(a)
		return
	}
	t.heap.arm(a, when)
}

// disarm cancels a's timer, if it has one.
func (t *timers) disarm(a *agent) {
	if a.inWheel {
		t.wheel.cancel(a)
		return
	}
	t.heap.disarm(a)
}

// first returns the earliest timer's instant and whether it waits in the wheel; ok is
// false when no timer is armed.
func (t *timers) first() (when int64, inWheel, ok bool) {
	when, a := t.heap.next()
	if k, ok := t.wheel.next(); ok && (a == nil || k*int64(thinkGrid) <= when) {
		return k * int64(thinkGrid), true, true
	}
	return when, false, a != nil
}

// next returns the earliest timer's instant, if any timer is armed.
func (t *timers) next() (int64, bool) {
	when, _, ok := t.first()
	return when, ok
}

// popDue takes the earliest timer due by now, disarmed, and returns its agent; nil when
// none is due.
func (t *timers) popDue(now int64) *agent {
	when, inWheel, ok := t.first()
	switch {
	case !ok || when > now:
		return nil
	case inWheel:
		return t.wheel.pop()
	}
	_, a := t.heap.next()
	t.heap.disarm(a)
	return a
}

// timerHeap is the timers off the think grid: a binary min-heap of wake-up
// instants (nanoseconds on the loop's clock), each with its agent. An agent
// knows its timer's index in the heap, so arming, moving and cancelling are
// O(log n) with no allocation. The instants sit in the heap itself: sifting
// compares them without touching the agents (15,000 agents' structs do not
// fit a cache).
type timerHeap []timerEntry

type timerEntry struct {
	when int64
	a    *agent
}

// arm sets a's timer to fire at when, replacing any it had.
func (h *timerHeap) arm(a *agent, when int64) {
	if i := a.hidx; i >= 0 {
		old := (*h)[i].when
		(*h)[i].when = when
		if when < old {
			h.up(int(i))
		} else {
			h.down(int(i))
		}
		return
	}
	a.hidx = int32(len(*h))
	*h = append(*h, timerEntry{when, a})
	h.up(int(a.hidx))
}

// disarm cancels a's timer, if it has one.
func (h *timerHeap) disarm(a *agent) {
	i := int(a.hidx)
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = timerEntry{}
	*h = (*h)[:last]
	a.hidx = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// next returns the earliest timer's instant and agent (nil when none is
// armed).
func (h timerHeap) next() (int64, *agent) {
	if len(h) == 0 {
		return 0, nil
	}
	return h[0].when, h[0].a
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].a.hidx = int32(i)
	h[j].a.hidx = int32(j)
}

func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].when < h[l].when {
			m = r
		}
		if h[i].when <= h[m].when {
			return
		}
		h.swap(i, m)
		i = m
	}
}
