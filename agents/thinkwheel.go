package agents

// wheelSlots is how many think-grid slots ahead the wheel holds (16.4 s at 4 ms): a timer
// further away, rare with the storm's exp(2s) thinks, goes to the heap.
const wheelSlots = 4096

// thinkWheel holds the timers that end exactly on a slot of thinkGrid: the think times, most
// of a loop's timers. Slot k (k*thinkGrid on the loop's clock) is a list of its agents linked
// through the agents themselves, newest first, so arming touches only the agent armed and
// firing only the agent fired. In the heap, taking the earliest timer sifted a hole down
// every level and wrote the index of each agent it moved: a cache miss on a cold agent a
// level, the largest cost of a storm generator's timers. Cancelling walks the slot's list;
// thinks are cancelled only when agents stop.
type thinkWheel struct {
	slots []*agent // slot k's list is slots[k%wheelSlots]
	first int64    // no timers before slot first
	n     int      // timers held
}

// add arms a's timer in slot k if the wheel can hold it there (not before slot first, not
// wheelSlots or more ahead) and reports whether it did. a holds no other timer.
func (w *thinkWheel) add(a *agent, k int64) bool {
	if w.n == 0 && k > w.first {
		w.first = k
	}
	if k < w.first || k >= w.first+wheelSlots {
		return false
	}
	if w.slots == nil {
		w.slots = make([]*agent, wheelSlots)
	}
	i := int32(k % wheelSlots)
	a.wnext, a.wslot, a.inWheel = w.slots[i], i, true
	w.slots[i] = a
	w.n++
	return true
}

// cancel takes a's timer out of its slot.
func (w *thinkWheel) cancel(a *agent) {
	p := &w.slots[a.wslot]
	for *p != a {
		p = &(*p).wnext
	}
	*p = a.wnext
	a.wnext, a.inWheel = nil, false
	w.n--
}

// next returns the earliest slot holding a timer, if any.
func (w *thinkWheel) next() (int64, bool) {
	if w.n == 0 {
		return 0, false
	}
	for w.slots[w.first%wheelSlots] == nil {
		w.first++
	}
	return w.first, true
}

// pop takes a timer of slot first (which next found holding one) and returns its agent.
func (w *thinkWheel) pop() *agent {
	i := w.first % wheelSlots
	a := w.slots[i]
	w.slots[i] = a.wnext
	a.wnext, a.inWheel = nil, false
	w.n--
	return a
}
