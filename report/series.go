package report

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// SeriesPoint is one interval (normally one second) of a run, for the
// over-time charts: a few numbers, fixed in size, so a run's series costs
// about 100 bytes per second plus about 80 per step (an hour of a
// five-step storm is 1.8 MB).
type SeriesPoint struct {
	// At is the interval's end since the start of the run; Seconds its length.
	At      time.Duration
	Seconds float64
	// Count is the requests that ended in the interval, Errors those that
	// failed, Dropped the sessions dropped (open model).
	Count, Errors, Dropped int64
	// P50, P90, P99 and Max are the interval's raw latency figures (from
	// the intended start in the open model).
	P50, P90, P99, Max time.Duration
	// Under is the latencies within ComplianceLimit; Latencies how many
	// latencies there were.
	Under, Latencies int64
	// ActiveAgents is the active-agents gauge at the interval's end.
	ActiveAgents int
	// Corrected is the closed model's corrected latency of the interval
	// (zero when there is none).
	Corrected PointLatency
	// Steps are the interval's figures per step, indexed by step id.
	Steps []StepPoint
	// Sessions are the session outcomes of the interval.
	Sessions Sessions
}

// PointLatency is the latency figures of one interval.
type PointLatency struct {
	// Count is the number of latencies.
	Count int64
	// P50, P90, P99 and Max are percentiles of the latencies (zero when
	// Count is 0).
	P50, P90, P99, Max time.Duration
}

// StepPoint is one step's part of a SeriesPoint.
type StepPoint struct {
	// Count is the step's requests that ended in the interval, Errors
	// those that failed.
	Count, Errors int64
	// Raw is the raw latency (from the intended start in the open model),
	// Corrected the closed model's corrected latency (zero when none).
	Raw, Corrected PointLatency
}

// RPS returns the requests per second of the point.
func (p *SeriesPoint) RPS() float64 {
	if p.Seconds <= 0 {
		return 0
	}
	return float64(p.Count) / p.Seconds
}

// PointOf returns the series point of iv for a run that started at start.
func PointOf(iv *Interval, start time.Time) SeriesPoint {
	var b PointBuilder
	b.Seconds = iv.Duration().Seconds()
	b.ActiveAgents = iv.ActiveAgents
	for i := range iv.Cells {
		c := &iv.Cells[i]
		b.AddCounts(c.Step, &c.Counts, c.Under, c.Dropped)
		b.AddLatency(c.Step, false, c.Latency)
		b.AddLatency(c.Step, true, c.Corrected)
		b.AddSessions(&c.Sessions)
	}
	return b.Point(iv.End.Sub(start), len(iv.Steps))
}

// PointBuilder accumulates one SeriesPoint from parts: the cells of one
// Interval, or the interval records and histograms of one or several hlogs
// that end in the same second. The zero value is ready to use; it is not
// safe for concurrent use.
type PointBuilder struct {
	// Seconds is the interval's length; ActiveAgents the gauge at its end.
	Seconds      float64
	ActiveAgents int

	under, dropped int64
	sessions       Sessions
	steps          []stepAcc
}

type stepAcc struct {
	counts, errors int64
	raw, corr      *hdr.PackedHistogram
}

func (b *PointBuilder) step(i int) *stepAcc {
	if i >= len(b.steps) {
		b.steps = append(b.steps, make([]stepAcc, i+1-len(b.steps))...)
	}
	return &b.steps[i]
}

// AddCounts adds requests of step (counts by outcome class), of which
// under were within ComplianceLimit, and dropped sessions.
func (b *PointBuilder) AddCounts(step int, counts *[NumOutcomes]int64, under, dropped int64) {
	if step < 0 {
		return
	}
	n := sumCounts(counts)
	a := b.step(step)
	a.counts += n
	a.errors += n - counts[OK]
	b.under += under
	b.dropped += dropped
}

// AddSessions adds session outcomes to the point.
func (b *PointBuilder) AddSessions(s *Sessions) { b.sessions.Add(s) }

// AddLatency merges h (nil for none) into step's raw or corrected latency.
func (b *PointBuilder) AddLatency(step int, corrected bool, h *hdr.PackedHistogram) {
	if step < 0 || h == nil || h.TotalCount() == 0 {
		return
	}
	a := b.step(step)
	dst := &a.raw
	if corrected {
		dst = &a.corr
	}
	if *dst == nil {
		*dst = newPacked()
	}
	(*dst).Merge(h)
}

// Point returns the point of what was added, ending at since the start,
// with nSteps steps (at least those added).
func (b *PointBuilder) Point(at time.Duration, nSteps int) SeriesPoint {
	p := SeriesPoint{At: at, Seconds: b.Seconds, Under: b.under, Dropped: b.dropped, ActiveAgents: b.ActiveAgents,
		Sessions: b.sessions, Steps: make([]StepPoint, max(nSteps, len(b.steps)))}
	var all, allCorr *hdr.PackedHistogram
	for i := range b.steps {
		a := &b.steps[i]
		p.Count += a.counts
		p.Errors += a.errors
		p.Steps[i] = StepPoint{Count: a.counts, Errors: a.errors, Raw: pointLatency(a.raw), Corrected: pointLatency(a.corr)}
		all = mergePacked(all, a.raw)
		allCorr = mergePacked(allCorr, a.corr)
	}
	raw := pointLatency(all)
	p.Latencies, p.P50, p.P90, p.P99, p.Max = raw.Count, raw.P50, raw.P90, raw.P99, raw.Max
	p.Corrected = pointLatency(allCorr)
	return p
}

// mergePacked merges h into dst, making dst when it is nil.
func mergePacked(dst, h *hdr.PackedHistogram) *hdr.PackedHistogram {
	if h == nil {
		return dst
	}
	if dst == nil {
		dst = newPacked()
	}
	dst.Merge(h)
	return dst
}

func pointLatency(h *hdr.PackedHistogram) PointLatency {
	if h == nil || h.TotalCount() == 0 {
		return PointLatency{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return PointLatency{Count: h.TotalCount(), P50: us(ValueAtPercentile(h, 50)), P90: us(ValueAtPercentile(h, 90)),
		P99: us(ValueAtPercentile(h, 99)), Max: us(ValueAtPercentile(h, 100))}
}

// SeriesCollector keeps the series of a running storm. It is safe for
// concurrent use.
type SeriesCollector struct {
	mu     sync.Mutex
	start  time.Time
	points []SeriesPoint
}

// NewSeriesCollector returns a collector for a run that started at start.
func NewSeriesCollector(start time.Time) *SeriesCollector {
	return &SeriesCollector{start: start}
}

// Add appends iv's point. A sliver of an interval (under half a second,
// such as the last one of a run) is folded into the point before it, so
// the charts do not show a drop that is only the short interval.
func (c *SeriesCollector) Add(iv *Interval) {
	p := PointOf(iv, c.start)
	c.mu.Lock()
	c.points = AppendPoint(c.points, p)
	c.mu.Unlock()
}

// AppendPoint appends p, or folds it into the last point when p covers
// under half a second: counts add up, the max is the larger, the
// percentiles stay those of the full second.
func AppendPoint(points []SeriesPoint, p SeriesPoint) []SeriesPoint {
	n := len(points)
	if p.Seconds >= 0.5 || n == 0 {
		return append(points, p)
	}
	last := &points[n-1]
	last.At = p.At
	last.Seconds += p.Seconds
	last.Count += p.Count
	last.Errors += p.Errors
	last.Dropped += p.Dropped
	last.Under += p.Under
	last.Latencies += p.Latencies
	last.Sessions.Add(&p.Sessions)
	last.Max = max(last.Max, p.Max)
	foldLatency(&last.Corrected, &p.Corrected)
	for i := range p.Steps {
		if i >= len(last.Steps) {
			last.Steps = append(last.Steps, StepPoint{})
		}
		ls, ps := &last.Steps[i], &p.Steps[i]
		ls.Count += ps.Count
		ls.Errors += ps.Errors
		foldLatency(&ls.Raw, &ps.Raw)
		foldLatency(&ls.Corrected, &ps.Corrected)
	}
	return points
}

// foldLatency folds the latency of a sliver of an interval into dst: the
// count adds up, the max is the larger, the percentiles stay dst's unless
// dst had none.
func foldLatency(dst, l *PointLatency) {
	if dst.Count == 0 {
		*dst = *l
		return
	}
	dst.Count += l.Count
	dst.Max = max(dst.Max, l.Max)
}

// Points returns a copy of the series so far.
func (c *SeriesCollector) Points() []SeriesPoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SeriesPoint(nil), c.points...)
}
