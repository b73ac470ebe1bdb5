package fleet

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/report"
)

// merger sums the workers' intervals by second and emits each second once
// every live worker has delivered it (or it is LateAfter late). Data that
// arrives for a second already emitted joins the next one, so totals are
// exact even when a worker lags.
//
// Every histogram it is handed, and every one it emits once OnInterval has
// returned, goes back to pool, where the decoders of the workers' streams
// take theirs: in a storm the coordinator merges a hundred histograms a
// second, and allocating them anew made it collect its garbage about
// every 3 s, each collection taking one of its two Ps from the third of
// the agents it runs itself (bench/RESULTS.md).
type merger struct {
	cfg     Config
	pending map[int]*report.Interval
	emitted int // the last second emitted
	all     *hdr.Histogram
	pool    *report.PackedPool
}

func newMerger(cfg Config, pool *report.PackedPool) *merger {
	return &merger{cfg: cfg, pending: map[int]*report.Interval{}, all: report.NewHistogram(), pool: pool}
}

func (m *merger) add(k int, iv *report.Interval) {
	late := k <= m.emitted
	if late {
		k = m.emitted + 1
	}
	acc := m.pending[k]
	if acc == nil {
		acc = &report.Interval{Start: iv.Start, End: iv.End, Steps: iv.Steps, Regions: iv.Regions,
			Cells: make([]report.CellInterval, len(iv.Cells))}
		if late {
			// Late data joins second k: the interval is that second.
			acc.Start = m.cfg.Start.Add(time.Duration(k-1) * time.Second)
			acc.End = m.cfg.Start.Add(time.Duration(k) * time.Second)
		}
		for c := range acc.Cells {
			acc.Cells[c].Step, acc.Cells[c].Region = iv.Cells[c].Step, iv.Cells[c].Region
		}
		m.pending[k] = acc
	}
	if !late {
		if iv.Start.Before(acc.Start) {
			acc.Start = iv.Start
		}
		if iv.End.After(acc.End) {
			acc.End = iv.End
		}
	}
	for k := range iv.Counts {
		acc.Counts[k] += iv.Counts[k]
	}
	acc.Under += iv.Under
	acc.Clamped += iv.Clamped
	acc.Dropped += iv.Dropped
	acc.Connections += iv.Connections
	acc.ActiveAgents += iv.ActiveAgents
	acc.Sessions.Add(&iv.Sessions)
	for c := range iv.Cells {
		src, dst := &iv.Cells[c], &acc.Cells[c]
		for k := range src.Counts {
			dst.Counts[k] += src.Counts[k]
		}
		dst.Under += src.Under
		dst.Clamped += src.Clamped
		dst.Dropped += src.Dropped
		dst.Sessions.Add(&src.Sessions)
		dst.Latency = m.merge(dst.Latency, src.Latency)
		dst.Corrected = m.merge(dst.Corrected, src.Corrected)
		src.Latency, src.Corrected = nil, nil
	}
}

// merge adds src to dst (taken from the pool when nil) and gives src back.
func (m *merger) merge(dst, src *hdr.PackedHistogram) *hdr.PackedHistogram {
	if src == nil {
		return dst
	}
	if dst == nil {
		dst = m.pool.Get()
	}
	dst.Merge(src)
	m.pool.Put(src)
	return dst
}

// flush emits the seconds that are complete (all, when final).
func (m *merger) flush(ws []*workerState, final bool) {
	for {
		k := m.emitted + 1
		acc := m.pending[k]
		if !final {
			ready := true
			for _, w := range ws {
				if !w.done && w.lastK < k {
					ready = false
				}
			}
			late := time.Now().After(m.cfg.Start.Add(time.Duration(k)*time.Second + m.cfg.LateAfter))
			if !ready && !late {
				return
			}
			if acc == nil && !late {
				// Nothing for this second yet, but a later one: skip it
				// only once a later second is pending.
				if !m.hasAfter(k) {
					return
				}
			}
		}
		if acc == nil {
			if !m.hasAfter(k) {
				return
			}
			m.emitted = k
			continue
		}
		delete(m.pending, k)
		m.emitted = k
		m.emit(acc, ws)
	}
}

func (m *merger) hasAfter(k int) bool {
	for j := range m.pending {
		if j > k {
			return true
		}
	}
	return false
}

func (m *merger) emit(iv *report.Interval, ws []*workerState) {
	m.all.Reset()
	for c := range iv.Cells {
		if h := iv.Cells[c].Latency; h != nil {
			h.MergeInto(m.all)
		}
	}
	iv.All = m.all
	st := m.stats(ws)
	st.Elapsed = iv.End.Sub(m.cfg.Start)
	iv.ActiveAgents = int(st.Active)
	if m.cfg.OnInterval != nil {
		m.cfg.OnInterval(iv, st)
	}
	iv.All = nil
	m.pool.PutCells(iv) // the observers are done with them (see report.Recorder.Release)
}

// stats sums the workers' latest counters.
func (m *merger) stats(ws []*workerState) agents.Stats {
	st := agents.Stats{Planned: m.cfg.Planned}
	full := true
	for _, w := range ws {
		// The storm is full when the last worker is.
		full = full && w.last.FullAtMs > 0
		st.FullAt = max(st.FullAt, time.Duration(w.last.FullAtMs)*time.Millisecond)
		st.Elapsed = max(st.Elapsed, time.Duration(w.last.ElapsedMs)*time.Millisecond)
		st.Active += w.last.Active
		st.Agents += w.last.Agents
		st.Connected += w.last.Connected
		st.Dials += w.last.Dials
		st.DialErrors += w.last.DialErrors
		st.Dropped += w.last.Dropped
		for h, n := range w.last.HostConnections {
			if st.HostConnections == nil {
				st.HostConnections = map[string]int64{}
			}
			st.HostConnections[h] += n
		}
	}
	if !full {
		st.FullAt = 0
	}
	return st
}
