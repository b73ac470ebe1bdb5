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
			"Abandoned sessions that had not reached their flow's sale step: sales the abandonment cost."),
	}
}

// cellSessions are one step × region's session counters.
type cellSessions struct {
	completed, failed  prometheus.Counter
	abandoned          [report.NumAbandonReasons]prometheus.Counter
	sales, value, lost prometheus.Counter
}

// observeSessions adds cell c's (index i) session outcomes, making its
// series at its first session or sale.
func (m *Metrics) observeSessions(i int, c *report.CellInterval) {
	cs := m.cellSessions[i]
	if cs == nil {
		step, region := m.steps[c.Step], m.regions[c.Region]
		v := &m.sessions
		cs = &cellSessions{
			completed: v.ended.WithLabelValues(step, region, "completed", ""),
			failed:    v.ended.WithLabelValues(step, region, "failed", ""),
			sales:     v.sales.WithLabelValues(step, region),
			value:     v.value.WithLabelValues(step, region),
			lost:      v.lost.WithLabelValues(step, region),
		}
		for r := range cs.abandoned {
			cs.abandoned[r] = v.ended.WithLabelValues(step, region, "abandoned", report.AbandonReason(r).String())
		}
		m.cellSessions[i] = cs
	}
	ss := &c.Sessions
	add := func(ctr prometheus.Counter, n int64) {
		if n > 0 {
			ctr.Add(float64(n))
		}
	}
	add(cs.completed, ss.Completed)
	add(cs.failed, ss.Failed)
	for r, n := range ss.Abandoned {
		add(cs.abandoned[r], n)
	}
	add(cs.sales, ss.Sales)
	add(cs.value, ss.SalesValue)
	add(cs.lost, ss.Lost)
}
