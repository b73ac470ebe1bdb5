package report

import (
	"slices"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// MergeInterval adds an interval recorded elsewhere (another run's or
// process's, read back from its hlog) to the recorder, as if its
// requests had been recorded here: they show in the next Rotate's interval
// and in the totals. Steps and regions are matched by name; cells whose
// step or region the recorder does not have are counted as invalid. The
// interval's connections are added; the active-agents gauge is the
// caller's to set (the sum of the logs').
func (r *Recorder) MergeInterval(iv *Interval) {
	if iv == nil {
		return
	}
	stepMap := make([]int, len(iv.Steps))
	for i, s := range iv.Steps {
		stepMap[i] = slices.Index(r.steps, s)
	}
	regMap := make([]int, len(iv.Regions))
	for i, s := range iv.Regions {
		regMap[i] = slices.Index(r.regions, s)
	}
	nr := len(r.regions)
	for i := range iv.Cells {
		ci := &iv.Cells[i]
		n := sumCounts(&ci.Counts)
		if n == 0 && ci.Dropped == 0 && ci.Clamped == 0 && ci.Latency == nil && ci.Corrected == nil && ci.Sessions.IsZero() {
			continue
		}
		if ci.Step >= len(stepMap) || ci.Region >= len(regMap) || stepMap[ci.Step] < 0 || regMap[ci.Region] < 0 {
			r.invalid.Add(max(n, 1))
			continue
		}
		c := stepMap[ci.Step]*nr + regMap[ci.Region]
		st := &r.stripes[c<<r.shift]
		hasRaw := ci.Latency != nil && ci.Latency.TotalCount() > 0
		hasCorr := ci.Corrected != nil && ci.Corrected.TotalCount() > 0
		var newRaw, newCorr *hdr.Histogram // allocated outside the lock
		if hasRaw {
			newRaw = r.getDense()
		}
		if hasCorr {
			newCorr = r.getDense()
		}
		st.mu.Lock()
		for k, v := range ci.Counts {
			st.counts[k] += v
		}
		st.under += ci.Under
		st.clamped += ci.Clamped
		// Packed into dense merges touch only the populated buckets.
		if hasRaw {
			if st.raw == nil {
				st.raw, newRaw = newRaw, nil
			}
			ci.Latency.MergeInto(st.raw)
		}
		if hasCorr {
			if st.corr == nil {
				st.corr, newCorr = newCorr, nil
			}
			ci.Corrected.MergeInto(st.corr)
		}
		st.mu.Unlock()
		r.putDense(newRaw)
		r.putDense(newCorr)
		if ci.Dropped > 0 {
			r.dropped[c].Add(ci.Dropped)
		}
		if !ci.Sessions.IsZero() {
			sc := &r.sessions[c]
			sc.mu.Lock()
			sc.s.Add(&ci.Sessions)
			sc.mu.Unlock()
		}
	}
	r.connections.Add(iv.Connections)
	r.redirects.Add(iv.Redirects)
}

// MergeExpectedIntervals adds the closed model's expected intervals of
// cells recorded elsewhere (a log's end line) to the totals, for the mean
// in the summary's note: ei holds per cell [cell, sum µs, count], cell
// being step*len(regions)+region in that log's steps and regions. Cells
// the recorder does not have are skipped.
func (r *Recorder) MergeExpectedIntervals(steps, regions []string, ei [][3]int64) {
	if len(regions) == 0 {
		return
	}
	r.rotMu.Lock()
	defer r.rotMu.Unlock()
	nr := len(regions)
	for _, e := range ei {
		c := int(e[0])
		if c < 0 || c >= len(steps)*nr {
			continue
		}
		step, region := slices.Index(r.steps, steps[c/nr]), slices.Index(r.regions, regions[c%nr])
		if step < 0 || region < 0 {
			continue
		}
		t := &r.totals[step*len(r.regions)+region]
		t.eiSum += e[1]
		t.eiN += e[2]
	}
}

// MergePacked merges src into dst, either of which may be nil, and returns
// the result (src itself when dst is nil).
func MergePacked(dst, src *hdr.PackedHistogram) *hdr.PackedHistogram {
	if src == nil {
		return dst
	}
	if dst == nil {
		return src
	}
	dst.Merge(src)
	return dst
}
