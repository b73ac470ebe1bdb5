package report

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency is the latency distribution of a set of requests, from an HDR
// histogram: percentiles are within the histogram's precision (3
// significant digits: a reported value is the highest value equivalent to
// the true one, at most 0.1% above it).
type Latency struct {
	// Count is the number of latency values (requests whose outcome has a
	// latency, see Outcome.HasLatency; the corrected figure also counts the
	// fill-in values of HdrHistogram's correction).
	Count int64
	// P50, P90, P99, P999 (99.9th) and Max are percentiles of the values.
	P50, P90, P99, P999, Max time.Duration
	// Mean is the mean value.
	Mean time.Duration
	// Under is the number of values within ComplianceLimit (100 ms), judged
	// by HDR equivalence: a value counts when the histogram cannot tell it
	// apart from 100 ms or it is lower, so values up to 100.031 ms count
	// (at 3 significant digits the bucket around 100 ms is 64 µs wide).
	Under int64
}

// Compliance returns the share (0…1) of values within ComplianceLimit, or 0
// when there are none.
func (l *Latency) Compliance() float64 {
	if l.Count == 0 {
		return 0
	}
	return float64(l.Under) / float64(l.Count)
}

// latencyOf fills a Latency from h (µs). under < 0 means count it from h.
func latencyOf(h *hdr.Histogram, under int64) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	if under < 0 {
		under = CountAtOrBelow(h, ComplianceLimit)
	}
	return Latency{
		Count: h.TotalCount(),
		P50:   us(ValueAtPercentile(h, 50)),
		P90:   us(ValueAtPercentile(h, 90)),
		P99:   us(ValueAtPercentile(h, 99)),
		P999:  us(ValueAtPercentile(h, 99.9)),
		Max:   us(h.Max()),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		Under: under,
	}
}

// CountAtOrBelow returns how many values of h (a recorder histogram, in µs)
// are at or below limit, judged by HDR equivalence: values the histogram
// cannot tell apart from limit count as at or below it.
func CountAtOrBelow(h *hdr.Histogram, limit time.Duration) int64 {
	if h == nil {
		return 0
	}
	l := int64(limit / time.Microsecond)
	var n int64
	for _, b := range h.Distribution() {
		if b.From > l {
			break
		}
		n += b.Count
	}
	return n
}

// Stats are the figures of one slice of a run: one step × region, one step,
// one region, or everything.
type Stats struct {
	// Name says which slice: a step name, a region name, "step @ region",
	// or "all".
	Name string
	// Step and Region are the ids of the slice, -1 when it spans them all.
	Step, Region int
	// Count is the number of requests (every outcome; not dropped sessions).
	Count int64
	// Counts are the requests by outcome class.
	Counts [NumOutcomes]int64
	// Errors is the number of requests whose outcome is not OK.
	Errors int64
	// ErrorPct is Errors as a percentage (0…100) of Count.
	ErrorPct float64
	// RPS is Count per second of the run's elapsed time.
	RPS float64
	// Dropped is the number of sessions dropped (open model, no idle agent).
	Dropped int64
	// Clamped is the number of latencies clamped to 0 … 60 s.
	Clamped int64
	// Raw is the latency as measured: from the intended start in the open
	// model (which is already corrected for coordinated omission), from the
	// send in the closed model.
	Raw Latency
	// Corrected is the closed model's latency with HdrHistogram's
	// coordinated-omission correction; nil in the open model or when no
	// expected interval was given.
	Corrected *Latency
	// MeanExpectedInterval is the mean expected interval used by the
	// correction (0 without correction).
	MeanExpectedInterval time.Duration
	// Histogram is the raw latency histogram (µs); never nil. Read only.
	Histogram *hdr.Histogram
	// CorrectedHistogram is the corrected histogram (µs), nil when
	// Corrected is nil. Read only.
	CorrectedHistogram *hdr.Histogram
	// Sessions are the session outcomes counted in the slice (see Sessions
	// for which cell counts what).
	Sessions Sessions
}

// Summary is the end-of-run (or so-far) report of a Recorder, or of hlogs
// read back (hlog.Set.Summary).
type Summary struct {
	// Model is ModelOpen or ModelClosed.
	Model string
	// Start is when the run started; Elapsed how long it ran (used for req/s).
	Start   time.Time
	Elapsed time.Duration
	// Steps, Regions and Writes are the recorder's (or the logs') step and
	// region names and write marks (read only).
	Steps, Regions []string
	Writes         []bool
	// Overall covers every step and region.
	Overall Stats
	// PerStep is indexed by step id, PerRegion by region id.
	PerStep, PerRegion []Stats
	// Cells is indexed by step*len(Regions)+region (see Cell).
	Cells []Stats
	// Connections is the number of connections opened.
	Connections int64
	// Redirects is the number of redirects followed (each hop is timed as
	// part of its step's request).
	Redirects int64
	// Dropped is the number of sessions dropped (open model).
	Dropped int64
	// Clamped is the number of latencies clamped to 0 … 60 s.
	Clamped int64
	// Invalid is the number of Record/RecordDropped calls with a step or
	// region id out of range (a bug in the caller; they are not counted
	// anywhere else).
	Invalid int64
	// PeakActiveAgents is the highest active-agents gauge seen by Rotate.
	PeakActiveAgents int

	// The fields below are filled by the caller (the run, or a report
	// re-read from an hlog), not by Recorder.Summary.

	// Meta is free-form run metadata: "profile", "target", "command",
	// "version", "seed", ... (nil when none).
	Meta map[string]string
	// Series is the per-second series for the over-time charts (see
	// PointOf and SeriesCollector); nil when not collected.
	Series []SeriesPoint
	// Failures are the failed checks by step, kind and status.
	Failures []CheckFailure
	// Figures are extra run-wide figures budgets may judge (audit or
	// ingest figures such as "lost_orders"); nil when none.
	Figures map[string]float64
	// Budgets are the budget verdicts (budget.Evaluate); nil when the run
	// had no budgets.
	Budgets []BudgetResult
	// Aborted is the live budget failure that stopped the run, if any.
	Aborted *LiveFailure
	// Interrupted says why the run was cut short from outside ("interrupted
	// by SIGINT after 12s"), "" when it was not; Failed why the run failed
	// ("no request was answered"), "" when it did not. See Status.
	Interrupted, Failed string
	// Events are marks on the timeline (game-day chaos actions); nil when none.
	Events []TimelineEvent
	// Sections are extra titled parts of the report (the game-day audit).
	Sections []Section
}

// CheckFailure is one class of failed checks: a step's answers that failed
// the same way (an unexpected status, a JSON check, a capture).
type CheckFailure struct {
	// Step is the step name.
	Step string
	// Kind is what failed: "status", "json:PATH", "body", "capture", ...
	Kind string
	// Status is the answers' HTTP status (0 when none).
	Status int
	// Count is how many answers failed this way.
	Count int64
}

// Cell returns the stats of step × region, or nil if out of range.
func (s *Summary) Cell(step, region int) *Stats {
	return cellAt(s.Cells, len(s.Steps), len(s.Regions), step, region)
}

// WorstWriteStep returns the write step (Options.Writes) with the lowest
// share of answers within 100 ms, among steps with answers (a tie goes to
// the higher judged p99, then to the first name in sort order), and whether it
// was chosen among write steps (false: no step is marked as a write, so it
// is the worst of all steps). It returns nil when no step has answers.
func (s *Summary) WorstWriteStep() (*Stats, bool) {
	anyWrite := false
	for i := range s.PerStep {
		if i < len(s.Writes) && s.Writes[i] && s.PerStep[i].Raw.Count > 0 {
			anyWrite = true
		}
	}
	var worst *Stats
	for i := range s.PerStep {
		st := &s.PerStep[i]
		if st.Raw.Count == 0 || (anyWrite && !(i < len(s.Writes) && s.Writes[i])) {
			continue
		}
		if worst == nil || worseThan(st, worst) {
			worst = st
		}
	}
	return worst, anyWrite
}

// worseThan reports whether a is worse than b for the headline: a lower
// judged compliance, on a tie a higher judged p99, then the earlier name.
func worseThan(a, b *Stats) bool {
	if ca, cb := a.headlineCompliance(), b.headlineCompliance(); ca != cb {
		return ca < cb
	}
	if pa, pb := a.Judged().P99, b.Judged().P99; pa != pb {
		return pa > pb
	}
	return a.Name < b.Name
}

// Judged returns the latency figure to judge the target by. In the open
// model Raw runs from the intended start, so it is the corrected figure. In
// the closed model the raw figure hides stalls, but HdrHistogram's
// correction adds values below the measured ones, so for a uniformly slow
// target the corrected figure is the kinder one: each percentile, the max
// and the mean are the larger of Raw and Corrected, and Count and Under
// (the compliance) come from whichever complies less. No figure is kinder
// than either measurement.
func (st *Stats) Judged() *Latency {
	if st.Corrected == nil {
		return &st.Raw
	}
	j, r := *st.Corrected, &st.Raw
	j.P50, j.P90, j.P99, j.P999 = max(j.P50, r.P50), max(j.P90, r.P90), max(j.P99, r.P99), max(j.P999, r.P999)
	j.Max, j.Mean = max(j.Max, r.Max), max(j.Mean, r.Mean)
	if r.Count > 0 && r.Compliance() < j.Compliance() {
		j.Count, j.Under = r.Count, r.Under
	}
	return &j
}

func (st *Stats) headlineCompliance() float64 { return st.Judged().Compliance() }

// acc accumulates one slice's data while a summary is built.
type acc struct {
	raw, corr      *hdr.Histogram
	counts         [NumOutcomes]int64
	under, clamped int64
	eiSum, eiN     int64
	dropped        int64
	sessions       Sessions
}

func (a *acc) add(b *acc) {
	if b.raw != nil && b.raw.TotalCount() > 0 {
		if a.raw == nil {
			a.raw = NewHistogram()
		}
		a.raw.Merge(b.raw)
	}
	if b.corr != nil && b.corr.TotalCount() > 0 {
		if a.corr == nil {
			a.corr = NewHistogram()
		}
		a.corr.Merge(b.corr)
	}
	for k, v := range b.counts {
		a.counts[k] += v
	}
	a.under += b.under
	a.clamped += b.clamped
	a.eiSum += b.eiSum
	a.eiN += b.eiN
	a.dropped += b.dropped
	a.sessions.Add(&b.sessions)
}

func (a *acc) stats(name string, step, region int, elapsed time.Duration) Stats {
	st := Stats{Name: name, Step: step, Region: region, Counts: a.counts, Dropped: a.dropped, Clamped: a.clamped,
		Sessions: a.sessions}
	st.Count = sumCounts(&a.counts)
	st.Errors = st.Count - a.counts[OK]
	if st.Count > 0 {
		st.ErrorPct = 100 * float64(st.Errors) / float64(st.Count)
	}
	if elapsed > 0 {
		st.RPS = float64(st.Count) / elapsed.Seconds()
	}
	if a.raw == nil {
		a.raw = NewHistogram()
	}
	st.Histogram = a.raw
	st.Raw = latencyOf(a.raw, a.under)
	if a.corr != nil && a.corr.TotalCount() > 0 {
		c := latencyOf(a.corr, -1)
		st.Corrected = &c
		st.CorrectedHistogram = a.corr
	}
	if a.eiN > 0 {
		st.MeanExpectedInterval = time.Duration(a.eiSum/a.eiN) * time.Microsecond
	}
	return st
}

// Summary returns the figures recorded so far: the totals of every rotated
// interval plus what was recorded since the last Rotate. elapsed is the
// run's duration, used for req/s. Summary does not rotate; it can be called
// at any time, also while recording goes on.
func (r *Recorder) Summary(elapsed time.Duration) *Summary {
	r.rotMu.Lock()
	defer r.rotMu.Unlock()

	cells := make([]acc, len(r.totals))
	for c := range cells {
		a := &cells[c]
		t := &r.totals[c]
		if t.raw != nil {
			a.raw = t.raw.Clone()
		}
		if t.corr != nil {
			a.corr = t.corr.Clone()
		}
		a.counts, a.under, a.clamped, a.eiSum, a.eiN = t.counts, t.under, t.clamped, t.eiSum, t.eiN
		a.dropped = r.dropped[c].Load()
		a.sessions = t.sessions
		pendingSessions := r.sessions[c].peek()
		a.sessions.Add(&pendingSessions)
		for s := 0; s <= r.mask; s++ {
			st := &r.stripes[c<<r.shift+s]
			st.mu.Lock()
			pending := acc{raw: st.raw, corr: st.corr, counts: st.counts, under: st.under,
				clamped: st.clamped, eiSum: st.eiSum, eiN: st.eiN}
			a.add(&pending)
			st.mu.Unlock()
		}
	}

	s := &Summary{
		Model:            r.Model(),
		Start:            r.start,
		Elapsed:          elapsed,
		Steps:            r.steps,
		Regions:          r.regions,
		Writes:           r.writes,
		Connections:      r.connections.Load(),
		Redirects:        r.redirects.Load(),
		Invalid:          r.invalid.Load(),
		PeakActiveAgents: int(max(r.peakActive, r.active.Load())),
	}
	s.fill(cells)
	return s
}

// CellTotals are the totals of one step × region cell: what Fill makes a
// summary from when it was not recorded here (logs read back).
type CellTotals struct {
	// Raw and Corrected are the latency histograms (µs); nil when empty.
	Raw, Corrected *hdr.Histogram
	// Counts are the answers by outcome.
	Counts [NumOutcomes]int64
	// Under counts the raw latencies within ComplianceLimit; Clamped the
	// latencies clamped to the range; Dropped the open model's dropped
	// sessions.
	Under, Clamped, Dropped int64
	// EISum and EIN are the sum (µs) and count of the closed model's
	// expected intervals.
	EISum, EIN int64
	// Sessions are the cell's session outcomes.
	Sessions Sessions
}

// Fill computes the per-cell, per-step, per-region and overall stats from
// cells, indexed step*len(Regions)+region, as Recorder.Summary does. Model,
// Elapsed, Steps and Regions must be set.
func (s *Summary) Fill(cells []CellTotals) {
	accs := make([]acc, len(cells))
	for i, c := range cells {
		accs[i] = acc{raw: c.Raw, corr: c.Corrected, counts: c.Counts, under: c.Under, clamped: c.Clamped,
			eiSum: c.EISum, eiN: c.EIN, dropped: c.Dropped, sessions: c.Sessions}
	}
	s.fill(accs)
}

// fill computes the per-cell, per-step, per-region and overall stats from
// the cells' accumulated data (index step*len(Regions)+region). Model,
// Elapsed, Steps and Regions must be set.
func (s *Summary) fill(cells []acc) {
	nr := len(s.Regions)
	s.PerStep = make([]Stats, len(s.Steps))
	s.PerRegion = make([]Stats, nr)
	s.Cells = make([]Stats, len(cells))
	elapsed := s.Elapsed
	var all acc
	steps := make([]acc, len(s.Steps))
	regions := make([]acc, nr)
	for c := range cells {
		step, region := c/nr, c%nr
		steps[step].add(&cells[c])
		regions[region].add(&cells[c])
		all.add(&cells[c])
		s.Cells[c] = cells[c].stats(s.Steps[step]+" @ "+s.Regions[region], step, region, elapsed)
	}
	for i := range steps {
		s.PerStep[i] = steps[i].stats(s.Steps[i], i, -1, elapsed)
	}
	for i := range regions {
		s.PerRegion[i] = regions[i].stats(s.Regions[i], -1, i, elapsed)
	}
	s.Overall = all.stats("all", -1, -1, elapsed)
	s.Dropped = s.Overall.Dropped
	s.Clamped = s.Overall.Clamped
}

// JudgedHistogram returns the one distribution st is judged by: the
// corrected one when there is one, unless the correction made it look
// better than measured (a higher share within 100 ms or a lower p99, as
// for a uniformly slow target), then the raw one. A budget also judges the
// raw one and keeps the less flattering figure.
func (st *Stats) JudgedHistogram() *hdr.Histogram { return judgedHistogram(st) }

// judgedHistogram is Stats.JudgedHistogram.
func judgedHistogram(st *Stats) *hdr.Histogram {
	if st.CorrectedHistogram == nil || correctionKinder(st) {
		return st.Histogram
	}
	return st.CorrectedHistogram
}

// correctionKinder reports whether st's corrected figure looks better than
// its raw one.
func correctionKinder(st *Stats) bool {
	c, r := st.Corrected, &st.Raw
	return c != nil && r.Count > 0 && (c.Compliance() > r.Compliance() || c.P99 < r.P99)
}
