package report

import (
	"math"
	"strconv"
)

// The sessions part of a before/after comparison (issue 18): the run's
// abandoned share, sales and lost sales, each in count and value. A run
// without session data (a log from before sessions, a profile without
// patience or sale steps) or that could not measure a figure (a k6 ingest's
// abandonment: Summary.SessionsUnmeasured) has no data for it, never a 0.

// compareSessionsStep is the Step of the session rows.
const compareSessionsStep = "sessions"

// compareSessionsNote says how to read the session rows.
const compareSessionsNote = "Sessions: abandoned is the share of the sessions that ended, rounded up; " +
	"~ lost sales are estimates (sessions abandoned before their sale, valued at the average sale); " +
	"no data: the run has no session data or could not measure it (a k6 run has no agent patience)."

// compareStyle is how a comparison row formats its figures when its unit
// alone does not say it.
type compareStyle uint8

const (
	styleUnit    compareStyle = iota // Unit.formatActual
	styleShareUp                     // a share already rounded up to 2 decimals, in %
	styleMoney                       // an amount in the currency's major unit, 2 decimals
)

// compareSessions returns the session rows of s, its figures in Before.
func compareSessions(s *Summary) []CompareRow {
	o := &s.Overall.Sessions
	u := s.SessionsUnmeasured()
	has := !o.IsZero()
	ended := o.Ended()
	sales := has && u.Sales == ""
	lost := has && u.LostSales == ""
	var lostValue float64
	if o.Sales > 0 {
		lostValue = math.Round(float64(o.SalesValue)/float64(o.Sales)*float64(o.Lost)) / 100
	}
	rows := []CompareRow{
		{Figure: "abandoned", Unit: UnitPercent, style: styleShareUp, Before: shareUpPct(o.AbandonedTotal(), ended),
			HasBefore: has && u.Abandoned == "" && ended > 0},
		{Figure: "sales", Unit: UnitCount, Before: float64(o.Sales), HasBefore: sales},
		// A value needs sale values: sales worth nothing in all say none was given.
		{Figure: "sales_value", Unit: UnitNumber, style: styleMoney, Before: float64(o.SalesValue) / 100,
			HasBefore: sales && (o.SalesValue > 0 || o.Sales == 0)},
		{Figure: "lost_sales", Unit: UnitCount, approx: true, Before: float64(o.Lost), HasBefore: lost},
		{Figure: "lost_sales_value", Unit: UnitNumber, style: styleMoney, approx: true, Before: lostValue,
			HasBefore: lost && (o.Lost == 0 || o.SalesValue > 0)},
	}
	for i := range rows {
		rows[i].Step = compareSessionsStep
	}
	return rows
}

// format formats one of the row's figures.
func (r *CompareRow) format(v float64) string {
	var s string
	switch r.style {
	case styleShareUp:
		s = strconv.FormatFloat(v, 'f', 2, 64) + "%" // as abandonedPct
	case styleMoney:
		s = formatMoney(int64(math.Round(v * 100)))
	default:
		s = r.Unit.formatActual(v)
	}
	if r.approx {
		s = "~" + s
	}
	return s
}
