package report

import (
	"slices"
	"sync/atomic"
)

// Growing a recorder: a run that learns its steps and regions as it goes
// (an ingest of another tool's results, where a step is whatever name a
// data point carries) adds them with AddStep and AddRegion. Ids already
// handed out never change: new steps and regions get the next ids, so
// intervals and hlogs written before a name appeared stay valid.

// AddStep returns the id of the step called name, adding it when the
// recorder does not have it yet. write marks the step as one that changes
// state (see Options.Writes); a step once marked stays marked.
//
// AddStep and AddRegion are for recorders fed by a single goroutine: they
// must not run at the same time as Record, RecordDropped, RecordSession,
// RecordSale or MergeInterval
// (which read the cell layout without a lock). They are safe with Rotate
// and Summary, whose lock they take. Callers keep their own name → id map
// and call AddStep only for names they have not seen, so the cost (a copy
// of the cell layout) is paid once per name.
func (r *Recorder) AddStep(name string, write bool) int {
	r.rotMu.Lock()
	defer r.rotMu.Unlock()
	if i := slices.Index(r.steps, name); i >= 0 {
		if write && !r.writes[i] {
			w := append([]bool(nil), r.writes...)
			w[i] = true
			r.writes = w
		}
		return i
	}
	// Fresh slices: intervals and summaries handed out earlier keep the
	// old ones, which stay consistent with their cells.
	steps := append(append(make([]string, 0, len(r.steps)+1), r.steps...), name)
	writes := append(append(make([]bool, 0, len(r.writes)+1), r.writes...), write)
	r.relayout(len(steps), len(r.regions))
	r.steps, r.writes = steps, writes
	return len(steps) - 1
}

// AddRegion returns the id of the region called name, adding it when the
// recorder does not have it yet. The same rules as AddStep apply.
func (r *Recorder) AddRegion(name string) int {
	r.rotMu.Lock()
	defer r.rotMu.Unlock()
	if i := slices.Index(r.regions, name); i >= 0 {
		return i
	}
	regions := append(append(make([]string, 0, len(r.regions)+1), r.regions...), name)
	r.relayout(len(r.steps), len(regions))
	r.regions = regions
	return len(regions) - 1
}

// relayout moves every cell's stripes, totals, dropped and session counters to the
// layout of ns steps × nr regions (both at least the current counts).
// rotMu must be held and no Record may run.
func (r *Recorder) relayout(ns, nr int) {
	oldNR := len(r.regions)
	cells := ns * nr
	per := r.mask + 1
	stripes := make([]stripe, cells<<r.shift)
	dropped := make([]atomic.Int64, cells)
	totals := make([]cellTotal, cells)
	prev := make([]int64, cells)
	sessions := make([]sessionCell, cells)
	for c := range r.totals {
		step, region := c/oldNR, c%oldNR
		nc := step*nr + region
		for s := 0; s < per; s++ {
			src, dst := &r.stripes[c<<r.shift+s], &stripes[nc<<r.shift+s]
			dst.raw, dst.corr, dst.counts = src.raw, src.corr, src.counts
			dst.under, dst.clamped, dst.eiSum, dst.eiN = src.under, src.clamped, src.eiSum, src.eiN
		}
		dropped[nc].Store(r.dropped[c].Load())
		sessions[nc].s = r.sessions[c].peek()
		totals[nc] = r.totals[c]
		prev[nc] = r.prevDropped[c]
	}
	r.stripes, r.dropped, r.totals, r.prevDropped, r.sessions = stripes, dropped, totals, prev, sessions
}
