package budget

import (
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// A State is one budget judged on one interval of a running storm, for a
// live view: "pending" (in its grace period, or too few samples, or no
// figure yet), "pass" or "fail", with the interval's figure when known.
type State struct {
	Expr   string  `json:"expr"`
	State  string  `json:"state"`
	Actual float64 `json:"actual,omitempty"`
}

// States judges every budget (abort or not) on the interval iv, which
// ended elapsed after the start of the run, as the LiveChecker judges the
// abort budgets: on the interval's own figures, not the run's so far. It
// is not safe for concurrent use.
func (c *LiveChecker) States(budgets []*Budget, iv *report.Interval, elapsed time.Duration) []State {
	if iv == nil || len(budgets) == 0 {
		return nil
	}
	out := make([]State, len(budgets))
	for i, b := range budgets {
		out[i] = State{Expr: b.Expr, State: "pending"}
		if elapsed < b.Grace {
			continue
		}
		val, n, ok := b.value(c.intervalView(b, iv))
		if !ok || n < b.MinSamples {
			continue
		}
		out[i].Actual = val
		if b.Op.Holds(val, b.Limit) {
			out[i].State = "pass"
		} else {
			out[i].State = "fail"
		}
	}
	return out
}

// NewStatesChecker returns a checker for States over any budgets (the
// abort ones or not).
func NewStatesChecker() *LiveChecker {
	return &LiveChecker{scratch: report.NewHistogram(), rawScratch: report.NewHistogram()}
}
