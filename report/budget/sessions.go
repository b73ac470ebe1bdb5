package budget

import (
	"slices"

	"github.com/agentstorm/agentstorm/report"
)

// Session budgets (issue 18): how many sessions the agents abandoned, how
// many sales they made and how many they did not.
//
//	abandoned < 1%               abandoned sessions / sessions ended
//	abandoned(add_to_cart) < 0.5%   abandoned at the step / sessions ended
//	abandoned < 50               a count without %
//	sales >= 1000                sale steps answered OK
//	lost_sales < 100             abandoned sessions that had a sale ahead (or a share with %)
//
// A step filter selects where sessions ended (or sales were made); the
// share's denominator is every session that ended in the selected regions,
// whatever its step, since a session ends at one step only. A run (or an
// interval) in which no session ended has no data for these budgets, and
// so has a run that could not measure the figure at all (a k6 ingest's
// abandoned sessions and lost sales: report.SessionsUnmeasured), whose
// verdict says why.

// sessionKind is what a session metric counts.
type sessionKind uint8

const (
	sessAbandoned sessionKind = iota
	sessSales
	sessLost
)

// sessionMetric is a session budget's figure: a share of the ended
// sessions (share, a percentage) or a count.
type sessionMetric struct {
	kind  sessionKind
	share bool
}

func (m sessionMetric) Name() string {
	switch m.kind {
	case sessSales:
		return "sales"
	case sessLost:
		return "lost_sales"
	}
	return "abandoned"
}

func (m sessionMetric) Unit() report.Unit {
	if m.share {
		return report.UnitPercent
	}
	return report.UnitCount
}

// sharable reports whether the metric may be written as a share (%).
func (m sessionMetric) sharable() bool { return m.kind != sessSales }

// unmeasured returns why the run behind v could not measure the metric,
// "" when it could.
func (m sessionMetric) unmeasured(v *View) string {
	switch m.kind {
	case sessSales:
		return v.Unmeasured.Sales
	case sessLost:
		return v.Unmeasured.LostSales
	}
	return v.Unmeasured.Abandoned
}

func (m sessionMetric) Value(v *View) (float64, int64, bool) {
	ended := v.SessionBase.Ended()
	if ended == 0 || m.unmeasured(v) != "" {
		return 0, 0, false
	}
	var n int64
	switch m.kind {
	case sessAbandoned:
		n = v.Sessions.AbandonedTotal()
	case sessSales:
		n = v.Sessions.Sales
	case sessLost:
		n = v.Sessions.Lost
	}
	if m.share {
		return 100 * float64(n) / float64(ended), ended, true
	}
	return float64(n), ended, true
}

// addSessions adds a cell's sessions to the view: to the selection when
// the budget selects the cell, to the base when it selects its region.
func (b *Budget) addSessions(v *View, step, region int, s *report.Sessions) {
	if b.regions != nil && !slices.Contains(b.regions, region) {
		return
	}
	v.SessionBase.Add(s)
	if b.selects(step, region) {
		v.Sessions.Add(s)
	}
}
