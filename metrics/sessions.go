package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentstorm/agentstorm/report"
)

// sessionVecs are the session-outcome metrics (see the package comment).
type sessionVecs struct {
	ended              *prometheus.CounterVec // step, region, outcome, reason
	sales, value, lost *prometheus.CounterVec // step, region
}

func newSessionVecs(cl prometheus.Labels) sessionVecs {
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: cl}, append([]string{"step", "region"}, labels...))
	}
	return sessionVecs{
		ended: vec("agentstorm_sessions_total",
			"Sessions that ended, counted at the step where they ended, by outcome (completed, abandoned, failed) and, when abandoned, reason (slow, error, timeout).",
			"outcome", "reason"),
		sales: vec("agentstorm_sales_total", "Sale steps answered OK."),
		value: vec("agentstorm_sales_value_total", "Value of the sales, in the profile's minor currency unit (cents)."),
		lost: vec("agentstorm_lost_sales_total",
			"Abandoned sessions that had not made their sale (its step still ahead, or answered later than their patience): sales the abandonment cost."),
	}
}

// cellSessions are one step × region's session counters, each made at
// its first count (a storm whose agents never give up on an error has no
// series of that reason).
type cellSessions struct {
	step, region       string
	completed, failed  prometheus.Counter
	abandoned          [report.NumAbandonReasons]prometheus.Counter
	sales, value, lost prometheus.Counter
}

// observeSessions adds cell c's (index i) session outcomes.
func (m *Metrics) observeSessions(i int, c *report.CellInterval) {
	cs := m.cellSessions[i]
	if cs == nil {
		cs = &cellSessions{step: m.steps[c.Step], region: m.regions[c.Region]}
		m.cellSessions[i] = cs
	}
	v := &m.sessions
	add := func(ctr *prometheus.Counter, n int64, vec *prometheus.CounterVec, extra ...string) {
		if n <= 0 {
			return
		}
		if *ctr == nil {
			*ctr = vec.WithLabelValues(append([]string{cs.step, cs.region}, extra...)...)
		}
		(*ctr).Add(float64(n))
	}
	ss := &c.Sessions
	add(&cs.completed, ss.Completed, v.ended, "completed", "")
	add(&cs.failed, ss.Failed, v.ended, "failed", "")
	for r, n := range ss.Abandoned {
		add(&cs.abandoned[r], n, v.ended, "abandoned", report.AbandonReason(r).String())
	}
	add(&cs.sales, ss.Sales, v.sales)
	add(&cs.value, ss.SalesValue, v.value)
	add(&cs.lost, ss.Lost, v.lost)
}
