package budget

import (
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/agentstorm/agentstorm/report"
)

// View is the slice of a run (or of one interval) a budget is judged on:
// the judged latencies of the selected steps and regions, their request
// and error counts, and the run-wide figures.
type View struct {
	// Latency holds the judged latencies in µs (the coordinated-omission
	// corrected figure when there is one); nil or empty when none.
	Latency *hdr.Histogram
	// Raw holds the raw latencies when Latency holds corrected ones, else
	// nil: a budget is judged on the less flattering of the two.
	Raw *hdr.Histogram
	// Requests, Errors and Dropped are counts of the selection.
	Requests, Errors, Dropped int64
	// Seconds is the span the counts cover (for rates).
	Seconds float64
	// Figures are run-wide named figures (report.Summary.Figures).
	Figures map[string]float64
	// Sessions are the session outcomes of the selection; SessionBase
	// those of every step of the selected regions (the denominator of a
	// share: a session ends at one step only).
	Sessions, SessionBase report.Sessions
	// Unmeasured says which session figures the run could not measure
	// (they have no data, whatever the counts say).
	Unmeasured report.SessionsUnmeasured
}

func (v *View) latency() (*hdr.Histogram, bool) {
	if v.Latency == nil || v.Latency.TotalCount() == 0 {
		return nil, false
	}
	return v.Latency, true
}

// latencyMetric is a figure of the judged latency histogram, in ms: a
// percentile ("p99", q 99), or "max", "min" or "mean".
type latencyMetric struct {
	name string
	q    float64 // the percentile, for pNN
}

func (m latencyMetric) Name() string      { return m.name }
func (m latencyMetric) Unit() report.Unit { return report.UnitDuration }
func (m latencyMetric) Value(v *View) (float64, int64, bool) {
	h, ok := v.latency()
	if !ok {
		return 0, 0, false
	}
	var us float64
	switch m.name {
	case "max":
		us = float64(h.Max())
	case "min":
		us = float64(h.Min())
	case "mean":
		us = h.Mean()
	default:
		us = float64(report.ValueAtPercentile(h, m.q))
	}
	return us / 1000, h.TotalCount(), true
}

type underMetric struct{ limit time.Duration }

func (m underMetric) Name() string      { return "under(" + report.FormatDuration(m.limit) + ")" }
func (m underMetric) Unit() report.Unit { return report.UnitPercent }
func (m underMetric) Value(v *View) (float64, int64, bool) {
	h, ok := v.latency()
	if !ok {
		return 0, 0, false
	}
	n := h.TotalCount()
	return 100 * float64(report.CountAtOrBelow(h, m.limit)) / float64(n), n, true
}

// errorsMetric is the share of failed requests (share, a percentage) or
// their count.
type errorsMetric struct{ share bool }

func (errorsMetric) Name() string { return "errors" }
func (m errorsMetric) Unit() report.Unit {
	if m.share {
		return report.UnitPercent
	}
	return report.UnitCount
}
func (m errorsMetric) Value(v *View) (float64, int64, bool) {
	if !m.share {
		return float64(v.Errors), v.Requests, true
	}
	if v.Requests == 0 {
		return 0, 0, false
	}
	return 100 * float64(v.Errors) / float64(v.Requests), v.Requests, true
}

type rpsMetric struct{}

func (rpsMetric) Name() string      { return "rps" }
func (rpsMetric) Unit() report.Unit { return report.UnitRate }
func (rpsMetric) Value(v *View) (float64, int64, bool) {
	if v.Seconds <= 0 {
		return 0, 0, false
	}
	return float64(v.Requests) / v.Seconds, v.Requests, true
}

type requestsMetric struct{}

func (requestsMetric) Name() string      { return "requests" }
func (requestsMetric) Unit() report.Unit { return report.UnitCount }
func (requestsMetric) Value(v *View) (float64, int64, bool) {
	return float64(v.Requests), v.Requests, true
}

type droppedMetric struct{}

func (droppedMetric) Name() string      { return "dropped" }
func (droppedMetric) Unit() report.Unit { return report.UnitCount }
func (droppedMetric) Value(v *View) (float64, int64, bool) {
	return float64(v.Dropped), v.Requests + v.Dropped, true
}

// figureMetric is a named run-wide figure (Options.Figures).
type figureMetric struct {
	name string
	unit report.Unit
}

func (m figureMetric) Name() string      { return m.name }
func (m figureMetric) Unit() report.Unit { return m.unit }
func (m figureMetric) Value(v *View) (float64, int64, bool) {
	f, ok := v.Figures[m.name]
	return f, 1, ok
}

// selects reports whether the budget selects step and region.
func (b *Budget) selects(step, region int) bool {
	return (b.steps == nil || slices.Contains(b.steps, step)) &&
		(b.regions == nil || slices.Contains(b.regions, region))
}

// View returns the part of s the budget selects.
func (b *Budget) View(s *report.Summary) *View {
	v := &View{Seconds: s.Elapsed.Seconds(), Figures: s.Figures, Unmeasured: s.SessionsUnmeasured()}
	fill := func(st *report.Stats) {
		v.Latency = st.JudgedHistogram()
		if st.CorrectedHistogram != nil {
			v.Raw = st.Histogram
		}
		v.Requests, v.Errors, v.Dropped = st.Count, st.Errors, st.Dropped
	}
	switch {
	case b.steps == nil && b.regions == nil:
		fill(&s.Overall)
	case len(b.steps) == 1 && b.regions == nil && b.steps[0] < len(s.PerStep):
		fill(&s.PerStep[b.steps[0]])
	case b.steps == nil && len(b.regions) == 1 && b.regions[0] < len(s.PerRegion):
		fill(&s.PerRegion[b.regions[0]])
	default:
		h, raw := report.NewHistogram(), report.NewHistogram()
		corrected := false
		for i := range s.Cells {
			c := &s.Cells[i]
			if !b.selects(c.Step, c.Region) {
				continue
			}
			if jh := c.JudgedHistogram(); jh != nil {
				h.Merge(jh)
			}
			if c.Histogram != nil {
				raw.Merge(c.Histogram)
			}
			corrected = corrected || c.CorrectedHistogram != nil
			v.Requests += c.Count
			v.Errors += c.Errors
			v.Dropped += c.Dropped
		}
		v.Latency = h
		if corrected {
			v.Raw = raw
		}
	}
	for i := range s.Cells {
		c := &s.Cells[i]
		b.addSessions(v, c.Step, c.Region, &c.Sessions)
	}
	return v
}

// value returns the budget's metric on v. When v has both corrected and
// raw latencies it is the less flattering of the two: the one that misses
// the budget if only one does, else the one further on the wrong side
// (the larger for < and <=, the smaller for > and >=).
func (b *Budget) value(v *View) (float64, int64, bool) {
	val, n, ok := b.Metric.Value(v)
	if v.Raw == nil || !ok {
		return val, n, ok
	}
	rv := *v
	rv.Latency, rv.Raw = v.Raw, nil
	rval, rn, rok := b.Metric.Value(&rv)
	if !rok {
		return val, n, ok
	}
	holds, rholds := b.Op.Holds(val, b.Limit), b.Op.Holds(rval, b.Limit)
	worse := false
	switch {
	case holds != rholds:
		worse = !rholds
	case b.Op == report.OpLT || b.Op == report.OpLE:
		worse = rval > val
	case b.Op == report.OpGT || b.Op == report.OpGE:
		worse = rval < val
	}
	if worse {
		return rval, rn, rok
	}
	return val, n, ok
}

// Evaluate judges the budget on s's totals.
func (b *Budget) Evaluate(s *report.Summary) report.BudgetResult {
	r := report.BudgetResult{Expr: b.Expr, Source: b.Source, Metric: b.Metric.Name(), Unit: b.Metric.Unit(), Op: b.Op, Limit: b.Limit}
	v := b.View(s)
	val, n, ok := b.value(v)
	r.Actual, r.Samples, r.NoData = val, n, !ok
	if m, isSession := b.Metric.(sessionMetric); isSession && !ok {
		r.NoDataReason = m.unmeasured(v)
	}
	r.Met = ok && b.Op.Holds(val, b.Limit)
	return r
}

// Evaluate judges every budget on s's totals and returns the
// results; s is not changed (the caller stores them in s.Budgets, after
// report.MarkAborted, so every output shows them).
func Evaluate(budgets []*Budget, s *report.Summary) []report.BudgetResult {
	out := make([]report.BudgetResult, 0, len(budgets))
	for _, b := range budgets {
		out = append(out, b.Evaluate(s))
	}
	return out
}

// LiveChecker judges the abort budgets on each interval of a running
// storm. It is not safe for concurrent use (call it from the goroutine
// that rotates the recorder).
type LiveChecker struct {
	budgets             []*Budget
	scratch, rawScratch *hdr.Histogram
}

// NewLiveChecker returns a checker of the budgets that have Abort set, or
// nil when none has.
func NewLiveChecker(budgets []*Budget) *LiveChecker {
	var abort []*Budget
	for _, b := range budgets {
		if b.Abort {
			abort = append(abort, b)
		}
	}
	if len(abort) == 0 {
		return nil
	}
	return &LiveChecker{budgets: abort, scratch: report.NewHistogram(), rawScratch: report.NewHistogram()}
}

// Check judges the interval iv, which ended elapsed after the start of the
// run. It returns the first abort budget that fails on it (after its grace
// period and with at least its minimum of samples), or nil.
func (c *LiveChecker) Check(iv *report.Interval, elapsed time.Duration) *report.LiveFailure {
	if c == nil || iv == nil {
		return nil
	}
	for _, b := range c.budgets {
		if elapsed < b.Grace {
			continue
		}
		v := c.intervalView(b, iv)
		val, n, ok := b.value(v)
		if !ok || n < b.MinSamples {
			continue
		}
		if !b.Op.Holds(val, b.Limit) {
			return b.failure(val, n, elapsed)
		}
	}
	return nil
}

func (c *LiveChecker) intervalView(b *Budget, iv *report.Interval) *View {
	c.scratch.Reset()
	c.rawScratch.Reset()
	v := &View{Latency: c.scratch, Seconds: iv.Duration().Seconds()}
	for i := range iv.Cells {
		ci := &iv.Cells[i]
		// Every cell's sessions: a step's abandoned share is of all the
		// sessions that ended (SessionBase), as at the end.
		b.addSessions(v, ci.Step, ci.Region, &ci.Sessions)
		if !b.selects(ci.Step, ci.Region) {
			continue
		}
		h := ci.Corrected
		if h == nil {
			h = ci.Latency
		} else {
			v.Raw = c.rawScratch // judge the raw figure too (see Budget.value)
		}
		if h != nil {
			h.MergeInto(c.scratch)
		}
		if ci.Latency != nil {
			ci.Latency.MergeInto(c.rawScratch)
		}
		n := ci.Count()
		v.Requests += n
		v.Errors += n - ci.Counts[report.OK]
		v.Dropped += ci.Dropped
	}
	return v
}

// failure is b's live failure with the interval's figure, its samples and
// when it ended.
func (b *Budget) failure(actual float64, samples int64, at time.Duration) *report.LiveFailure {
	return &report.LiveFailure{Expr: b.Expr, Source: b.Source, Metric: b.Metric.Name(), Unit: b.Metric.Unit(),
		Op: b.Op, Limit: b.Limit, Actual: actual, Samples: samples, At: at}
}

// Failure returns the live failure of b with an interval's figure and
// when it ended (as LiveChecker.Check does; for a failure known from a log).
func (b *Budget) Failure(actual float64, at time.Duration) *report.LiveFailure {
	return b.failure(actual, 0, at)
}
