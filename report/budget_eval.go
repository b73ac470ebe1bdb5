package report

import (
	"fmt"
	"slices"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
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
	// Figures are run-wide named figures (Summary.Figures).
	Figures map[string]float64
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

func (m latencyMetric) Name() string { return m.name }
func (m latencyMetric) Unit() Unit   { return UnitDuration }
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
		us = float64(ValueAtPercentile(h, m.q))
	}
	return us / 1000, h.TotalCount(), true
}

type underMetric struct{ limit time.Duration }

func (m underMetric) Name() string { return "under(" + FormatDuration(m.limit) + ")" }
func (m underMetric) Unit() Unit   { return UnitPercent }
func (m underMetric) Value(v *View) (float64, int64, bool) {
	h, ok := v.latency()
	if !ok {
		return 0, 0, false
	}
	n := h.TotalCount()
	return 100 * float64(CountAtOrBelow(h, m.limit)) / float64(n), n, true
}

// errorsMetric is the share of failed requests (share, a percentage) or
// their count.
type errorsMetric struct{ share bool }

func (errorsMetric) Name() string { return "errors" }
func (m errorsMetric) Unit() Unit {
	if m.share {
		return UnitPercent
	}
	return UnitCount
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

func (rpsMetric) Name() string { return "rps" }
func (rpsMetric) Unit() Unit   { return UnitRate }
func (rpsMetric) Value(v *View) (float64, int64, bool) {
	if v.Seconds <= 0 {
		return 0, 0, false
	}
	return float64(v.Requests) / v.Seconds, v.Requests, true
}

type requestsMetric struct{}

func (requestsMetric) Name() string { return "requests" }
func (requestsMetric) Unit() Unit   { return UnitCount }
func (requestsMetric) Value(v *View) (float64, int64, bool) {
	return float64(v.Requests), v.Requests, true
}

type droppedMetric struct{}

func (droppedMetric) Name() string { return "dropped" }
func (droppedMetric) Unit() Unit   { return UnitCount }
func (droppedMetric) Value(v *View) (float64, int64, bool) {
	return float64(v.Dropped), v.Requests + v.Dropped, true
}

// figureMetric is a named run-wide figure (BudgetOptions.Figures).
type figureMetric struct {
	name string
	unit Unit
}

func (m figureMetric) Name() string { return m.name }
func (m figureMetric) Unit() Unit   { return m.unit }
func (m figureMetric) Value(v *View) (float64, int64, bool) {
	f, ok := v.Figures[m.name]
	return f, 1, ok
}

// BudgetResult is the verdict of one budget.
type BudgetResult struct {
	// Expr is the budget as written; Source where it came from.
	Expr, Source string
	// Metric is the metric's canonical name; Unit the unit of Actual and Limit.
	Metric string
	Unit   Unit
	// Op and Limit are the comparison.
	Op    Op
	Limit float64
	// Actual is the measured figure and Samples the samples it rests on;
	// NoData is true when there was nothing to measure (which fails the
	// budget: a step that never ran cannot be said to be fast).
	Actual  float64
	Samples int64
	NoData  bool
	// Met is the verdict.
	Met bool
	// Aborted is true when this budget stopped the run live; AbortedAt is
	// when (since the start) and AbortActual the interval's figure.
	Aborted     bool
	AbortedAt   time.Duration
	AbortActual float64
}

// Verdict returns "met", "MISSED", "MISSED (no data)" or "MISSED (aborted the run)".
func (r *BudgetResult) Verdict() string {
	switch {
	case r.Met:
		return "met"
	case r.Aborted:
		return "MISSED (aborted the run)"
	case r.NoData:
		return "MISSED (no data)"
	}
	return "MISSED"
}

// ActualText formats Actual ("-" without data).
func (r *BudgetResult) ActualText() string {
	if r.NoData {
		return "-"
	}
	return r.Unit.formatActual(r.Actual)
}

// LimitText formats the comparison and limit ("< 100ms").
func (r *BudgetResult) LimitText() string { return r.Op.String() + " " + r.Unit.Format(r.Limit) }

// Describe returns one line naming the budget, the actual figure and the limit.
func (r *BudgetResult) Describe() string {
	s := fmt.Sprintf("%s: actual %s, limit %s: %s", r.Expr, r.ActualText(), r.LimitText(), r.Verdict())
	if r.Aborted {
		s += fmt.Sprintf(" (at %s the second's figure was %s)", formatClock(r.AbortedAt), r.Unit.formatActual(r.AbortActual))
	}
	return s
}

// BudgetsMet reports whether every result is met (true for none).
func BudgetsMet(results []BudgetResult) bool { return budgetsMissed(results) == 0 }

// budgetsMissed counts the results that are not met.
func budgetsMissed(results []BudgetResult) int {
	missed := 0
	for i := range results {
		if !results[i].Met {
			missed++
		}
	}
	return missed
}

// selects reports whether the budget selects step and region.
func (b *Budget) selects(step, region int) bool {
	return (b.steps == nil || slices.Contains(b.steps, step)) &&
		(b.regions == nil || slices.Contains(b.regions, region))
}

// judgedHistogram returns the histogram to judge st by (budgets also judge
// the raw one, see Budget.value).
func judgedHistogram(st *Stats) *hdr.Histogram {
	if st.CorrectedHistogram != nil {
		return st.CorrectedHistogram
	}
	return st.Histogram
}

// View returns the part of s the budget selects.
func (b *Budget) View(s *Summary) *View {
	v := &View{Seconds: s.Elapsed.Seconds(), Figures: s.Figures}
	fill := func(st *Stats) {
		v.Latency = judgedHistogram(st)
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
		h, raw := NewHistogram(), NewHistogram()
		corrected := false
		for i := range s.Cells {
			c := &s.Cells[i]
			if !b.selects(c.Step, c.Region) {
				continue
			}
			if jh := judgedHistogram(c); jh != nil {
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
	case b.Op == OpLT || b.Op == OpLE:
		worse = rval > val
	case b.Op == OpGT || b.Op == OpGE:
		worse = rval < val
	}
	if worse {
		return rval, rn, rok
	}
	return val, n, ok
}

// Evaluate judges the budget on s's totals.
func (b *Budget) Evaluate(s *Summary) BudgetResult {
	r := BudgetResult{Expr: b.Expr, Source: b.Source, Metric: b.Metric.Name(), Unit: b.Metric.Unit(), Op: b.Op, Limit: b.Limit}
	val, n, ok := b.value(b.View(s))
	r.Actual, r.Samples, r.NoData = val, n, !ok
	r.Met = ok && b.Op.Holds(val, b.Limit)
	return r
}

// EvaluateBudgets judges every budget on s's totals and returns the
// results; s is not changed (the caller stores them in s.Budgets, after
// MarkAborted, so every output shows them).
func EvaluateBudgets(budgets []*Budget, s *Summary) []BudgetResult {
	out := make([]BudgetResult, 0, len(budgets))
	for _, b := range budgets {
		out = append(out, b.Evaluate(s))
	}
	return out
}

// LiveFailure is an abort budget that failed on one interval.
type LiveFailure struct {
	// Budget is the budget that failed.
	Budget *Budget
	// Actual is the interval's figure and Samples its sample count.
	Actual  float64
	Samples int64
	// At is the interval's end since the start of the run.
	At time.Duration
}

// String says which budget failed, when and by how much.
func (f *LiveFailure) String() string {
	u := f.Budget.Metric.Unit()
	return fmt.Sprintf("budget %q failed live at %s: %s %s in that second (%d samples), limit %s %s",
		f.Budget.Expr, formatClock(f.At), f.Budget.Metric.Name(), u.formatActual(f.Actual), f.Samples, f.Budget.Op, u.Format(f.Budget.Limit))
}

// Abort is a live budget failure as the verdicts need it: the budget that
// stopped a run, when, and its figure in that second. It comes from the
// run's LiveFailure or from a logged run's end line (LogAbort).
type Abort struct {
	// Expr is the budget's expression; Source where it came from, "" when
	// not known (a log records only the expression).
	Expr, Source string
	// At is when it failed, since the start; Actual the second's figure.
	At     time.Duration
	Actual float64
}

// Abort returns f as an Abort (nil f: nil).
func (f *LiveFailure) Abort() *Abort {
	if f == nil {
		return nil
	}
	return &Abort{Expr: f.Budget.Expr, Source: f.Budget.Source, At: f.At, Actual: f.Actual}
}

// MarkAborted records the aborts in results: a budget that stopped the run
// is missed whatever its figure on the totals. An abort marks the results
// of its expression (and of its source, when it has one); nil aborts are
// skipped.
func MarkAborted(results []BudgetResult, aborts ...*Abort) {
	for _, a := range aborts {
		if a == nil {
			continue
		}
		for i := range results {
			if results[i].Expr == a.Expr && (a.Source == "" || results[i].Source == a.Source) {
				results[i].Met = false
				results[i].Aborted = true
				results[i].AbortedAt = a.At
				results[i].AbortActual = a.Actual
			}
		}
	}
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
	return &LiveChecker{budgets: abort, scratch: NewHistogram(), rawScratch: NewHistogram()}
}

// Check judges the interval iv, which ended elapsed after the start of the
// run. It returns the first abort budget that fails on it (after its grace
// period and with at least its minimum of samples), or nil.
func (c *LiveChecker) Check(iv *Interval, elapsed time.Duration) *LiveFailure {
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
			return &LiveFailure{Budget: b, Actual: val, Samples: n, At: elapsed}
		}
	}
	return nil
}

func (c *LiveChecker) intervalView(b *Budget, iv *Interval) *View {
	c.scratch.Reset()
	c.rawScratch.Reset()
	v := &View{Latency: c.scratch, Seconds: iv.Duration().Seconds()}
	for i := range iv.Cells {
		ci := &iv.Cells[i]
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
		n := sumCounts(&ci.Counts)
		v.Requests += n
		v.Errors += n - ci.Counts[OK]
		v.Dropped += ci.Dropped
	}
	return v
}
