package agents

// timerHeap is a loop's pending timers: a binary min-heap of agents by
// their wake-up time (nanoseconds since the swarm's clock base). An agent
// has at most one timer at a time (its think time, its redial or retry
// backoff, or the deadline of the call in flight), and knows its index in
// the heap, so arming, moving and cancelling are O(log n) with no
// allocation.
type timerHeap []*agent

// arm sets a's timer to fire at when, replacing any it had.
func (h *timerHeap) arm(a *agent, when int64) {
	if a.hidx >= 0 {
		old := a.when
		a.when = when
		if when < old {
			h.up(a.hidx)
		} else {
			h.down(a.hidx)
		}
		return
	}
	a.when = when
	a.hidx = int32(len(*h))
	*h = append(*h, a)
	h.up(a.hidx)
}

// disarm cancels a's timer, if it has one.
func (h *timerHeap) disarm(a *agent) {
	i := a.hidx
	if i < 0 {
		return
	}
	last := int32(len(*h) - 1)
	if i != last {
		h.swap(int(i), int(last))
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	a.hidx = -1
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// next returns the earliest timer's agent, or nil when none is armed.
func (h timerHeap) next() *agent {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = int32(i)
	h[j].hidx = int32(j)
}

func (h timerHeap) up(i int32) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			return
		}
		h.swap(int(i), int(p))
		i = p
	}
}

func (h timerHeap) down(i int32) {
	n := int32(len(h))
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
		h.swap(int(i), int(m))
		i = m
	}
}
