package report

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Op is a budget's comparison operator.
type Op uint8

// The comparison operators.
const (
	OpLT Op = iota // <
	OpLE           // <=
	OpGT           // >
	OpGE           // >=
	OpEQ           // ==
	OpNE           // !=
)

var opNames = [...]string{OpLT: "<", OpLE: "<=", OpGT: ">", OpGE: ">=", OpEQ: "==", OpNE: "!="}

// String returns the operator as written ("<", ">=", ...).
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// Holds reports whether "actual OP limit" is true.
func (o Op) Holds(actual, limit float64) bool {
	switch o {
	case OpLT:
		return actual < limit
	case OpLE:
		return actual <= limit
	case OpGT:
		return actual > limit
	case OpGE:
		return actual >= limit
	case OpEQ:
		return actual == limit
	case OpNE:
		return actual != limit
	}
	return false
}

// Unit is the unit of a metric's value and of a budget's limit.
type Unit uint8

// The units of budget figures.
const (
	// UnitDuration values are milliseconds.
	UnitDuration Unit = iota
	// UnitPercent values are percentages, 0…100.
	UnitPercent
	// UnitCount values are plain counts.
	UnitCount
	// UnitRate values are per second.
	UnitRate
	// UnitNumber values are plain numbers (other figures).
	UnitNumber
)

var unitNames = [...]string{UnitDuration: "ms", UnitPercent: "%", UnitCount: "count", UnitRate: "per_second", UnitNumber: "number"}

// String returns the unit's stable name: "ms", "%", "count", "per_second", "number".
func (u Unit) String() string {
	if int(u) < len(unitNames) {
		return unitNames[u]
	}
	return "number"
}

// Format formats v (in the unit) for people: "12.3ms", "99.50%", "1,234".
func (u Unit) Format(v float64) string {
	switch u {
	case UnitDuration:
		return FormatDuration(msDuration(v))
	case UnitPercent:
		return strconv.FormatFloat(v, 'f', -1, 64) + "%"
	case UnitCount:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return FormatCount(int64(v))
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	case UnitRate:
		return formatRate(v) + "/s"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// formatActual formats a measured value: percentages with two decimals,
// truncated so a miss never shows as the limit.
func (u Unit) formatActual(v float64) string {
	if u == UnitPercent {
		if v >= 100 {
			return "100%"
		}
		return strconv.FormatFloat(math.Trunc(v*100)/100, 'f', 2, 64) + "%"
	}
	return u.Format(v)
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
	// NoDataReason says why there was no data when the run could not
	// measure the metric at all ("not measured: a k6 run has no agent
	// patience"); "" otherwise.
	NoDataReason string
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

// VerdictText returns Verdict for people: with the reason there was no
// data when known ("MISSED (no data, not measured: a k6 run has no agent
// patience)"). Verdict stays one of its few values, for programs.
func (r *BudgetResult) VerdictText() string {
	if !r.Met && !r.Aborted && r.NoData && r.NoDataReason != "" {
		return "MISSED (no data, " + r.NoDataReason + ")"
	}
	return r.Verdict()
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
	s := fmt.Sprintf("%s: actual %s, limit %s: %s", r.Expr, r.ActualText(), r.LimitText(), r.VerdictText())
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

// LiveFailure is an abort budget that failed on one interval.
type LiveFailure struct {
	// Expr is the budget as written; Source where it came from.
	Expr, Source string
	// Metric is the metric's name and Unit its unit; Op and Limit the
	// comparison.
	Metric string
	Unit   Unit
	Op     Op
	Limit  float64
	// Actual is the interval's figure and Samples its sample count.
	Actual  float64
	Samples int64
	// At is the interval's end since the start of the run.
	At time.Duration
}

// String says which budget failed, when and by how much.
func (f *LiveFailure) String() string {
	return fmt.Sprintf("budget %q failed live at %s: %s %s in that second (%d samples), limit %s %s",
		f.Expr, formatClock(f.At), f.Metric, f.Unit.formatActual(f.Actual), f.Samples, f.Op, f.Unit.Format(f.Limit))
}

// Abort is a live budget failure as the verdicts need it: the budget that
// stopped a run, when, and its figure in that second. It comes from the
// run's LiveFailure or from a logged run's end line (hlog.Abort).
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
	return &Abort{Expr: f.Expr, Source: f.Source, At: f.At, Actual: f.Actual}
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
