package report

import (
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// SeriesPoint is one interval (normally one second) of a run, for the
// over-time charts: a few numbers, fixed in size, so a run's series costs
// about 100 bytes per second (an hour is 360 KB).
type SeriesPoint struct {
	// At is the interval's end since the start of the run; Seconds its length.
	At      time.Duration
	Seconds float64
	// Count is the requests that ended in the interval, Errors those that
	// failed, Dropped the sessions dropped (open model).
	Count, Errors, Dropped int64
	// P50, P99 and Max are the interval's raw latency figures (from the
	// intended start in the open model).
	P50, P99, Max time.Duration
	// Under is the latencies within ComplianceLimit; Latencies how many
	// latencies there were.
	Under, Latencies int64
	// ActiveAgents is the active-agents gauge at the interval's end.
	ActiveAgents int
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
	p := SeriesPoint{
		At:           iv.End.Sub(start),
		Seconds:      iv.Duration().Seconds(),
		Count:        iv.Count(),
		Errors:       iv.Errors(),
		Dropped:      iv.Dropped,
		Under:        iv.Under,
		ActiveAgents: iv.ActiveAgents,
	}
	p.SetLatency(iv.All)
	return p
}

// SetLatency sets the point's latency figures (count, p50, p99, max) from h.
func (p *SeriesPoint) SetLatency(h *hdr.Histogram) {
	if h == nil || h.TotalCount() == 0 {
		return
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	p.Latencies = h.TotalCount()
	p.P50 = us(ValueAtPercentile(h, 50))
	p.P99 = us(ValueAtPercentile(h, 99))
	p.Max = us(h.Max())
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
// under half a second (the end of a run): counts add up, the max is the
// larger, the percentiles stay those of the full second.
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
	last.Max = max(last.Max, p.Max)
	return points
}

// Points returns a copy of the series so far.
func (c *SeriesCollector) Points() []SeriesPoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]SeriesPoint(nil), c.points...)
}
