// Package report records what a storm measured and says it in words and
// numbers: HDR latency histograms per step × region, outcome counts, the
// per-second intervals that feed the live line, and the end-of-run summary.
//
// Latencies are recorded in microseconds into HdrHistogram histograms
// (github.com/HdrHistogram/hdrhistogram-go) covering 1 µs … 60 s at 3
// significant digits, so the recorder's memory is fixed whatever the length
// of the run. hdrhistogram-go is not safe for concurrent use, so every
// step × region cell has N lock stripes, each with its own mutex and dense
// histograms; readers (Rotate, Summary) merge the stripes. Intervals hold
// sparse PackedHistograms, totals dense ones.
//
// Memory: one dense histogram is 139,332 bytes. The recorder keeps one per
// used stripe (two in the closed model with correction), two totals per
// step × region and a few spares; intervals cost only their populated
// buckets. None of it grows with the length of the run.
//
// Typical use by a run loop:
//
//	rec := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Model: report.ModelOpen})
//	// agents: rec.Record(agentID, step, region, latency, outcome, 0)
//	// once a second: iv := rec.Rotate(time.Now()); print report.LiveLine(iv, ...); rec.Release(iv)
//	// at the end: iv := rec.Rotate(end); rec.Release(iv); s := rec.Summary(elapsed); report.WriteText(os.Stdout, s)
package report

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry shared by every histogram of the recorder. Values are
// microseconds.
const (
	// LowestValue is the lowest discernible latency, in microseconds (1 µs).
	LowestValue = 1
	// HighestValue is the highest trackable latency, in microseconds (60 s).
	// Longer latencies are clamped to it and counted as clamped.
	HighestValue = 60_000_000
	// SignificantDigits is the histograms' precision.
	SignificantDigits = 3
	// ComplianceLimit is the latency the product is about: the share of
	// answers within it is the headline of every summary.
	ComplianceLimit = 100 * time.Millisecond
)

// Workload models, for Options.Model. They decide which latency figure is
// the coordinated-omission-corrected one.
const (
	// ModelClosed is N agents looping with think time. Record's latency runs
	// from the send; a corrected figure is recorded when Record is given an
	// expected interval.
	ModelClosed = "closed"
	// ModelOpen is sessions started at a planned arrival rate. Record's
	// latency runs from the intended start, so it already is the corrected
	// figure; expected intervals are ignored.
	ModelOpen = "open"
)

// NewHistogram returns an empty histogram with the recorder's geometry
// (1 µs … 60 s, 3 significant digits, values in microseconds).
//
// Its 136 KiB of counts are written once here. Fresh from the kernel they
// are not mapped: Rotate's merges read every count, which maps the shared
// zero page, and the Reset after it then copied each page and flushed it
// from the other CPUs' TLBs with an interrupt to each. In a storm's first
// seconds, when every cell's histograms are new, that was half of a
// generator's Rotate. Written first, a page is mapped once, with no flush.
func NewHistogram() *hdr.Histogram {
	h := hdr.New(LowestValue, HighestValue, SignificantDigits)
	h.Reset()
	return h
}

// Options configure a Recorder.
type Options struct {
	// Steps are the step names; a step's index is its id in Record. Empty
	// means one step named "default".
	Steps []string
	// Regions are the region names; a region's index is its id in Record.
	// Empty means one region named "default".
	Regions []string
	// Writes optionally marks the steps that change state (POST, PUT,
	// PATCH, DELETE): Writes[i] for Steps[i]. The text summary's headline
	// names the worst of them. Nil or short: unmarked steps are not writes;
	// when no step is marked, the headline names the worst step of all.
	Writes []bool
	// Stripes is the number of lock stripes per step × region, rounded up to
	// a power of two; <= 0 means GOMAXPROCS, at least 2 and at most 8. Each
	// stripe that is used holds one dense histogram (two in the closed model
	// with correction) of 139,332 bytes, allocated on first use: the bulk of
	// the recorder's memory (7 steps × 4 regions × 2 stripes × 2 = 15.6 MB).
	// Fewer stripes save memory; more cut lock contention (measured in
	// bench/RESULTS.md: 1 stripe ~50 ns, 2 ~30 ns, 4 ~25 ns per Record with 8
	// goroutines on 2 cores).
	Stripes int
	// Model is ModelClosed or ModelOpen; anything else counts as closed.
	Model string
	// Start is when the run (and the first interval) started; zero means
	// the time NewRecorder is called.
	Start time.Time
}

// stripe is one lock stripe of one step × region cell. Its size is a
// multiple of 64 bytes (checked in tests) so that stripes on neighbouring
// cache lines do not false-share.
type stripe struct {
	mu      sync.Mutex
	raw     *hdr.Histogram // nil until first recorded value
	corr    *hdr.Histogram // nil until first corrected value
	counts  [NumOutcomes]int64
	under   int64    // latency values <= ComplianceLimit (HDR equivalence)
	clamped int64    // latency values outside 0 … HighestValue, clamped
	eiSum   int64    // sum of expected intervals (µs) of corrected records
	eiN     int64    // number of corrected records
	_       [48]byte // pads the stripe to 192 bytes, three cache lines
}

// cellTotal holds the cumulated totals of one cell; guarded by rotMu.
type cellTotal struct {
	raw, corr *hdr.Histogram // nil until data
	counts    [NumOutcomes]int64
	under     int64
	clamped   int64
	eiSum     int64
	eiN       int64
	sessions  Sessions
}

// Recorder records latencies and outcomes of a storm. All its methods are
// safe for concurrent use. Its memory is fixed whatever the run length:
// intervals are handed to the caller by Rotate, not kept.
type Recorder struct {
	steps, regions []string
	writes         []bool
	open           bool
	shift          uint // log2(stripes per cell)
	mask           int  // stripes per cell - 1
	underLimit     int64
	start          time.Time

	stripes []stripe

	invalid     atomic.Int64 // Record/RecordDropped calls with a bad step or region
	connections atomic.Int64
	redirects   atomic.Int64
	active      atomic.Int64
	dropped     []atomic.Int64 // per cell
	sessions    []sessionCell  // per cell

	rotMu       sync.Mutex // serialises Rotate and Summary; guards the fields below
	totals      []cellTotal
	lastRotate  time.Time
	prevDropped []int64
	prevConns   int64
	prevRedirs  int64
	peakActive  int64
	spareRaw    *hdr.Histogram
	spareCorr   *hdr.Histogram
	scratch     *hdr.PackedHistogram // Rotate's buffer to fold a stripe into a cell

	dense  freeList[hdr.Histogram, *hdr.Histogram] // stripe spares and Interval.All
	packed *PackedPool                             // interval cells: one interval's worth
}

// NewRecorder returns a Recorder for the given steps and regions. Missing
// options take the defaults documented on Options.
func NewRecorder(o Options) *Recorder {
	steps := append([]string(nil), o.Steps...)
	if len(steps) == 0 {
		steps = []string{"default"}
	}
	regions := append([]string(nil), o.Regions...)
	if len(regions) == 0 {
		regions = []string{"default"}
	}
	writes := make([]bool, len(steps))
	copy(writes, o.Writes)
	n := o.Stripes
	if n <= 0 {
		n = min(max(runtime.GOMAXPROCS(0), 2), 8)
	}
	if n > 1<<16 {
		n = 1 << 16
	}
	shift := uint(bits.Len(uint(n - 1)))
	start := o.Start
	if start.IsZero() {
		start = time.Now()
	}
	cells := len(steps) * len(regions)
	r := &Recorder{
		steps:       steps,
		regions:     regions,
		writes:      writes,
		open:        o.Model == ModelOpen,
		shift:       shift,
		mask:        1<<shift - 1,
		start:       start,
		lastRotate:  start,
		stripes:     make([]stripe, cells<<shift),
		dropped:     make([]atomic.Int64, cells),
		sessions:    make([]sessionCell, cells),
		totals:      make([]cellTotal, cells),
		prevDropped: make([]int64, cells),
		packed:      NewPackedPool(2*cells + 2), // the raw and corrected histograms of every cell
	}
	// A value counts as within the limit when HDR cannot tell it apart
	// from the limit: everything up to the highest value equivalent to it.
	h := NewHistogram()
	_ = h.RecordValue(int64(ComplianceLimit / time.Microsecond))
	r.underLimit = h.Max()
	return r
}

// Steps returns the step names, index = step id. The slice must not be modified.
func (r *Recorder) Steps() []string { return r.steps }

// Regions returns the region names, index = region id. The slice must not be modified.
func (r *Recorder) Regions() []string { return r.regions }

// Writes returns the write marks of the steps, by step id (read only; nil
// when none is a write).
func (r *Recorder) Writes() []bool { return r.writes }

// Model returns ModelOpen or ModelClosed.
func (r *Recorder) Model() string {
	if r.open {
		return ModelOpen
	}
	return ModelClosed
}

// Start returns when the run (and the first interval) started.
func (r *Recorder) Start() time.Time { return r.start }

// Stripes returns the number of lock stripes per step × region.
func (r *Recorder) Stripes() int { return r.mask + 1 }

// Record records one request's outcome and, for outcomes with a latency
// (see Outcome.HasLatency), its latency.
//
// stripe is a hint that spreads lock contention (the agent id is a good
// one); the stripe used is stripe mod Stripes(). step and region are ids
// into Options.Steps and Options.Regions; calls with ids out of range are
// counted as invalid (Summary.Invalid) and otherwise ignored.
//
// latency runs from the intended start in the open model and from the send
// in the closed model. It is recorded in whole microseconds; values above
// 60 s (or below 0) are clamped and counted (Summary.Clamped).
//
// expectedInterval > 0 (closed model only; ignored in the open model) also
// records the latency into the corrected histogram with HdrHistogram's
// RecordCorrectedValue: a latency L > expectedInterval E adds the values
// L-E, L-2E, … down to E, the requests a steady client would have sent
// during the stall.
//
// Record does not allocate once the stripe's histograms exist (first use).
func (r *Recorder) Record(stripe, step, region int, latency time.Duration, outcome Outcome, expectedInterval time.Duration) {
	if uint(step) >= uint(len(r.steps)) || uint(region) >= uint(len(r.regions)) {
		r.invalid.Add(1)
		return
	}
	if int(outcome) >= NumOutcomes {
		outcome = OtherError
	}
	st := &r.stripes[(step*len(r.regions)+region)<<r.shift|(int(uint(stripe))&r.mask)]
	if !outcome.HasLatency() {
		st.mu.Lock()
		st.counts[outcome]++
		st.mu.Unlock()
		return
	}
	v := int64(latency / time.Microsecond)
	var clamped int64
	if v > HighestValue {
		v, clamped = HighestValue, 1
	} else if v < 0 {
		v, clamped = 0, 1
	}
	var under int64
	if v <= r.underLimit {
		under = 1
	}
	var ei int64
	if expectedInterval > 0 && !r.open {
		ei = int64(expectedInterval / time.Microsecond)
		if ei < 1 {
			ei = 1
		}
	}
	st.mu.Lock()
	st.counts[outcome]++
	st.under += under
	st.clamped += clamped
	if st.raw == nil {
		st.raw = NewHistogram()
	}
	_ = st.raw.RecordValue(v) // cannot fail: 0 <= v <= HighestValue
	if ei > 0 {
		if st.corr == nil {
			st.corr = NewHistogram()
		}
		_ = st.corr.RecordCorrectedValue(v, ei) // every fill-in is < v: cannot fail
		st.eiSum += ei
		st.eiN++
	}
	st.mu.Unlock()
}

// RecordDropped counts one open-model session that was due to start but
// found no idle agent (it is not run and has no latency). step is the
// session's first step and region its region; ids out of range are counted
// as invalid.
func (r *Recorder) RecordDropped(step, region int) {
	if uint(step) >= uint(len(r.steps)) || uint(region) >= uint(len(r.regions)) {
		r.invalid.Add(1)
		return
	}
	r.dropped[step*len(r.regions)+region].Add(1)
}

// AddConnections adds n to the count of connections opened (dials that
// succeeded).
func (r *Recorder) AddConnections(n int) { r.connections.Add(int64(n)) }

// AddRedirects adds n to the count of redirects followed.
func (r *Recorder) AddRedirects(n int) { r.redirects.Add(int64(n)) }

// SetActiveAgents sets the active-agents gauge, sampled into each interval.
func (r *Recorder) SetActiveAgents(n int) { r.active.Store(int64(n)) }

// AddActiveAgents adds delta (which may be negative) to the active-agents
// gauge, for callers that track agents starting and stopping.
func (r *Recorder) AddActiveAgents(delta int) { r.active.Add(int64(delta)) }

// Interval is the snapshot of one interval (normally one second) returned by
// Rotate. It belongs to the caller; give its histograms back for reuse with
// Recorder.Release when done with it (optional, but it keeps the steady
// state free of large allocations).
type Interval struct {
	// Start and End bound the interval (End is the time given to Rotate).
	Start, End time.Time
	// Steps and Regions are the recorder's names (shared, read-only).
	Steps, Regions []string
	// Cells holds one entry per step × region, at index
	// step*len(Regions)+region (see Cell).
	Cells []CellInterval
	// All is the raw latency histogram of every cell merged (µs); never
	// nil from Rotate, nil in intervals read back from a log (hlog.Record).
	All *hdr.Histogram
	// Counts are the outcomes of the interval by class, all cells.
	Counts [NumOutcomes]int64
	// Under is the number of latencies <= ComplianceLimit, all cells.
	Under int64
	// Clamped is the number of latencies clamped to 0 … 60 s.
	Clamped int64
	// Dropped is the number of sessions dropped in the interval.
	Dropped int64
	// ActiveAgents is the active-agents gauge when the interval ended.
	ActiveAgents int
	// Connections is the number of connections opened in the interval.
	Connections int64
	// Redirects is the number of redirects followed in the interval.
	Redirects int64
	// Sessions are the session outcomes of the interval, all cells.
	Sessions Sessions
}

// CellInterval is one step × region of an Interval.
type CellInterval struct {
	// Step and Region are the cell's ids.
	Step, Region int
	// Latency is the raw latency histogram (µs), with its start and end
	// times set to the interval's (Unix ms); nil when nothing was recorded.
	// It is a sparse PackedHistogram (same buckets as the dense ones, memory
	// proportional to the populated buckets): it has ValueAtPercentile,
	// MergeInto a dense histogram, and Encode/the log writer's
	// OutputIntervalPackedHistogram for .hlog files.
	Latency *hdr.PackedHistogram
	// Corrected is the closed model's corrected histogram (µs), packed like
	// Latency; nil when nothing was recorded with an expected interval.
	Corrected *hdr.PackedHistogram
	// Counts are the outcomes by class.
	Counts [NumOutcomes]int64
	// Under is the number of latencies <= ComplianceLimit.
	Under int64
	// Clamped is the number of latencies clamped to 0 … 60 s.
	Clamped int64
	// Dropped is the number of dropped sessions.
	Dropped int64
	// Sessions are the sessions that ended (and the sales made) in this
	// cell during the interval (see Sessions for which cell counts what).
	Sessions Sessions
}

// Count returns the cell's requests (all outcomes).
func (c *CellInterval) Count() int64 { return sumCounts(&c.Counts) }

// Cell returns the cell of step and region, or nil if either is out of range.
func (iv *Interval) Cell(step, region int) *CellInterval {
	return cellAt(iv.Cells, len(iv.Steps), len(iv.Regions), step, region)
}

// cellAt returns &cells[step*nRegions+region], the layout of Interval and
// Summary cells, or nil if step or region is out of range.
func cellAt[T any](cells []T, nSteps, nRegions, step, region int) *T {
	if uint(step) >= uint(nSteps) || uint(region) >= uint(nRegions) {
		return nil
	}
	return &cells[step*nRegions+region]
}

// Duration returns End - Start.
func (iv *Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Count returns the number of requests that ended in the interval (all
// outcomes; dropped sessions are not requests).
func (iv *Interval) Count() int64 { return sumCounts(&iv.Counts) }

// Errors returns the number of requests with an error outcome.
func (iv *Interval) Errors() int64 { return iv.Count() - iv.Counts[OK] }

// RPS returns the requests per second of the interval.
func (iv *Interval) RPS() float64 {
	d := iv.Duration().Seconds()
	if d <= 0 {
		return 0
	}
	return float64(iv.Count()) / d
}

func sumCounts(c *[NumOutcomes]int64) int64 {
	var n int64
	for _, v := range c {
		n += v
	}
	return n
}

// newPacked returns an empty packed histogram with the recorder's geometry.
func newPacked() *hdr.PackedHistogram {
	return hdr.NewPacked(LowestValue, HighestValue, SignificantDigits)
}

// densePoolMax bounds the dense pool: Rotate holds at most two stripe spares
// and Interval.All at a time, plus the stripe histogram it is folding.
const densePoolMax = 6

// freeList is a mutex-guarded stack of reset histograms kept for reuse.
type freeList[T any, P interface {
	*T
	Reset()
}] struct {
	mu    sync.Mutex
	items []P
}

// get returns a kept item, or newP() when none is kept.
func (f *freeList[T, P]) get(newP func() P) P {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := len(f.items); n > 0 {
		x := f.items[n-1]
		f.items = f.items[:n-1]
		return x
	}
	return newP()
}

// put resets x and keeps it if fewer than limit items are kept; nil is ignored.
func (f *freeList[T, P]) put(x P, limit int) {
	if x == nil {
		return
	}
	x.Reset()
	f.mu.Lock()
	if len(f.items) < limit {
		f.items = append(f.items, x)
	}
	f.mu.Unlock()
}

// getDense returns an empty dense histogram from the pool, or a new one.
func (r *Recorder) getDense() *hdr.Histogram { return r.dense.get(NewHistogram) }

// putDense resets h and keeps it for reuse, up to densePoolMax.
func (r *Recorder) putDense(h *hdr.Histogram) { r.dense.put(h, densePoolMax) }

// Release gives iv's histograms back to the recorder for reuse by later
// intervals. iv must not be used afterwards. Calling it is optional, but
// without it every Rotate allocates its histograms anew.
func (r *Recorder) Release(iv *Interval) {
	if iv == nil {
		return
	}
	r.packed.PutCells(iv)
	r.putDense(iv.All)
	iv.All = nil
}

// fold adds the dense stripe histogram src to the cell's packed histogram
// *dst, which it takes from the pool when nil. Both steps are linear: an
// empty packed histogram is filled by one scan of src's counts, and a
// non-empty one is merged with a packed copy of src in one pass.
func (r *Recorder) fold(dst **hdr.PackedHistogram, src *hdr.Histogram) {
	if *dst == nil {
		*dst = r.packed.Get()
		(*dst).MergeFrom(src)
		return
	}
	if r.scratch == nil {
		r.scratch = newPacked()
	}
	r.scratch.Reset()
	r.scratch.MergeFrom(src)
	(*dst).Merge(r.scratch)
}

// Rotate closes the current interval at now and returns its snapshot; the
// next interval starts at now. Call it once a second (and once at the end,
// before Summary, so the last partial second is also an interval). The
// interval's data is added to the totals that Summary reports.
//
// Rotate holds each stripe's lock only to swap its histograms for a spare
// and take its counts; merging happens outside the locks, so recording
// goes on undisturbed.
func (r *Recorder) Rotate(now time.Time) *Interval {
	r.rotMu.Lock()
	defer r.rotMu.Unlock()

	nr := len(r.regions)
	iv := &Interval{
		Start:   r.lastRotate,
		End:     now,
		Steps:   r.steps,
		Regions: r.regions,
		Cells:   make([]CellInterval, len(r.totals)),
		All:     r.getDense(),
	}
	startMs, endMs := iv.Start.UnixMilli(), now.UnixMilli()
	perCell := r.mask + 1
	for c := range r.totals {
		ci := &iv.Cells[c]
		ci.Step, ci.Region = c/nr, c%nr
		t := &r.totals[c]
		for s := 0; s < perCell; s++ {
			st := &r.stripes[c<<r.shift+s]
			// Spares come from the pool outside the stripe's lock.
			if r.spareRaw == nil {
				r.spareRaw = r.getDense()
			}
			if r.spareCorr == nil {
				r.spareCorr = r.getDense()
			}
			var raw, corr *hdr.Histogram
			st.mu.Lock()
			if st.raw != nil && st.raw.TotalCount() > 0 {
				raw, st.raw, r.spareRaw = st.raw, r.spareRaw, nil
			}
			if st.corr != nil && st.corr.TotalCount() > 0 {
				corr, st.corr, r.spareCorr = st.corr, r.spareCorr, nil
			}
			counts := st.counts
			under, clamped, eiSum, eiN := st.under, st.clamped, st.eiSum, st.eiN
			st.counts = [NumOutcomes]int64{}
			st.under, st.clamped, st.eiSum, st.eiN = 0, 0, 0, 0
			st.mu.Unlock()

			for k, v := range counts {
				ci.Counts[k] += v
			}
			ci.Under += under
			ci.Clamped += clamped
			t.eiSum += eiSum
			t.eiN += eiN
			if raw != nil {
				r.fold(&ci.Latency, raw)
				r.putDense(raw)
			}
			if corr != nil {
				r.fold(&ci.Corrected, corr)
				r.putDense(corr)
			}
		}
		for k, v := range ci.Counts {
			t.counts[k] += v
			iv.Counts[k] += v
		}
		t.under += ci.Under
		t.clamped += ci.Clamped
		iv.Under += ci.Under
		iv.Clamped += ci.Clamped
		d := r.dropped[c].Load()
		ci.Dropped = d - r.prevDropped[c]
		r.prevDropped[c] = d
		iv.Dropped += ci.Dropped
		ci.Sessions = r.sessions[c].take()
		t.sessions.Add(&ci.Sessions)
		iv.Sessions.Add(&ci.Sessions)
		// Packed into dense merges touch only the populated buckets.
		if ci.Latency != nil {
			if t.raw == nil {
				t.raw = NewHistogram()
			}
			ci.Latency.MergeInto(t.raw)
			ci.Latency.MergeInto(iv.All)
			ci.Latency.SetStartTimeMs(startMs)
			ci.Latency.SetEndTimeMs(endMs)
		}
		if ci.Corrected != nil {
			if t.corr == nil {
				t.corr = NewHistogram()
			}
			ci.Corrected.MergeInto(t.corr)
			ci.Corrected.SetStartTimeMs(startMs)
			ci.Corrected.SetEndTimeMs(endMs)
		}
	}
	iv.All.SetStartTimeMs(startMs)
	iv.All.SetEndTimeMs(endMs)
	conns := r.connections.Load()
	iv.Connections = conns - r.prevConns
	r.prevConns = conns
	redirs := r.redirects.Load()
	iv.Redirects = redirs - r.prevRedirs
	r.prevRedirs = redirs
	active := r.active.Load()
	iv.ActiveAgents = int(active)
	if active > r.peakActive {
		r.peakActive = active
	}
	r.lastRotate = now
	return iv
}
