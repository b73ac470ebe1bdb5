package agents

// wheelSlots is how many think-grid slots ahead the wheel holds (16.4 s at 4 ms): a timer
// further away, rare with the storm's exp(2s) thinks, goes to the heap.
const wheelSlots = 4096

// thinkWheel holds the timers that end exactly on a slot of thinkGrid: the think times, most
// of a loop's timers. Slot k (k*thinkGrid on the loop's clock) is a list of its agents, so
// arming is an append and firing walks a list; nothing is sifted. In the heap, taking the
// earliest timer sifted a hole down every level and wrote the index of each agent it moved:
// a cache miss on one cold agent a level, the largest cost of a storm generator's timers. A
// cancelled entry stays in its list and is skipped when its slot comes (its agent's timer
// generation moved on); cancelling a think is rare.
type thinkWheel struct {
	slots [][]wheelEntry // slot k is slots[k%wheelSlots]
	first int64          // no entries before slot first; slot first's entries from pos on are left
	pos   int
	n     int // entries held, cancelled ones included
}

type wheelEntry struct {
	a   *agent
	gen uint32 // a.tgen when armed: the entry stands while they agree
}

// add arms a's timer in slot k if the wheel can hold it there (not before the slot being
// fired, not beyond wheelSlots ahead) and reports whether it did. a holds no other timer.
func (w *thinkWheel) add(a *agent, k int64) bool {
	if w.n == 0 && k > w.first {
		w.first, w.pos = k, 0
	}
	if k < w.first || k >= w.first+wheelSlots {
		return false
	}
	if w.slots == nil {
		w.slots = make([][]wheelEntry, wheelSlots)
	}
	i := k % wheelSlots
	w.slots[i] = append(w.slots[i], wheelEntry{a, a.tgen})
	w.n++
	a.inWheel = true
	return true
}

// cancel drops a's timer (its entry is skipped when its slot comes).
func (w *thinkWheel) cancel(a *agent) {
	a.inWheel = false
	a.tgen++
}

// next returns the earliest slot holding an entry (maybe a cancelled one), if any.
func (w *thinkWheel) next() (int64, bool) {
	if w.n == 0 {
		return 0, false
	}
	for len(w.slots[w.first%wheelSlots]) == 0 {
		w.first++ // only empty slots are skipped: pos is 0
	}
	return w.first, true
}

// pop takes the next entry of slot first (which next found non-empty) and returns its agent,
// or nil if the entry was cancelled.
func (w *thinkWheel) pop() *agent {
	i := w.first % wheelSlots
	s := w.slots[i]
	e := s[w.pos]
	w.pos++
	w.n--
	if w.pos == len(s) {
		clear(s)
		w.slots[i] = s[:0]
		w.first, w.pos = w.first+1, 0
	}
	if !e.a.inWheel || e.a.tgen != e.gen {
		return nil
	}
	w.cancel(e.a)
	return e.a
}
