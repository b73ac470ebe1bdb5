package dashboard

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// A Frame is one second of the storm as the page receives it (one SSE
// "frame" event, compact JSON). Latencies are milliseconds.
type Frame struct {
	// T is the run time at the interval's end, in seconds.
	T float64 `json:"t"`
	// Short marks the run's last interval, cut short by its end (under
	// half a second): its rates and percentiles rest on a sliver, so the
	// page counts its requests and events but charts nothing of it.
	Short bool `json:"short,omitempty"`
	// Requests is the run's requests so far; RPS the interval's rate.
	Requests int64   `json:"n"`
	RPS      float64 `json:"rps"`
	// Compliance is the share of the interval's answers within 100 ms, and
	// Overall the share of the run's so far (nil with no answer yet).
	Compliance *float64 `json:"c"`
	Overall    *float64 `json:"cAll"`
	// Errors counts the interval's failed requests by class.
	Errors map[string]int64 `json:"err,omitempty"`
	// Agents and Conns are the agents active and connections open.
	Agents int64  `json:"agents"`
	Conns  *int64 `json:"conns,omitempty"`
	// Workers is the processes a storm is spread over: the run's own (it
	// runs segment 0) and its workers (0: one process); Lost how many of
	// the workers died so far.
	Workers int `json:"workers,omitempty"`
	Lost    int `json:"lost,omitempty"`
	// Steps has one entry per step with answers in the interval.
	Steps []StepFrame `json:"steps,omitempty"`
	// Budgets are every budget judged on this interval.
	Budgets []budget.State `json:"budgets,omitempty"`
	// Events are the markers (chaos actions, notes) since the last frame.
	Events []string `json:"events,omitempty"`
	// Sessions are the session outcomes, from the run's first ended
	// session or sale on (nil before, and in runs without sessions).
	Sessions *SessionFrame `json:"s,omitempty"`
}

// A SessionFrame is the session outcomes of an interval and of the run so
// far: the agents that skipped the target.
type SessionFrame struct {
	// Ended and Abandoned are the sessions that ended in the interval, and
	// were abandoned; Share is Abandoned / Ended (nil when none ended).
	Ended     int64    `json:"ended"`
	Abandoned int64    `json:"ab"`
	Share     *float64 `json:"share"`
	// ShareAll is the run's abandoned share so far (nil when no session
	// ended yet); Sales and Lost the run's sales and lost sales so far.
	ShareAll *float64 `json:"shareAll"`
	Sales    int64    `json:"sales"`
	Lost     int64    `json:"lost"`
	// NoAbandon says why the run cannot measure abandonment (a k6 VU has
	// no patience), "" when it can; then the shares are nil and Lost is
	// not a figure. NoSales says likewise why it cannot measure sales.
	NoAbandon string `json:"nab,omitempty"`
	NoSales   string `json:"nsales,omitempty"`
}

// sessionFrame adds iv's sessions to the run's (run) and returns the
// frame's, nil while the run has none; u is what the run cannot measure.
func sessionFrame(iv *report.Interval, run *report.Sessions, u report.SessionsUnmeasured) *SessionFrame {
	run.Add(&iv.Sessions)
	if run.IsZero() {
		return nil
	}
	share := func(ss *report.Sessions) *float64 {
		if ss.Ended() == 0 || u.Abandoned != "" {
			return nil
		}
		v := float64(ss.AbandonedTotal()) / float64(ss.Ended())
		return &v
	}
	return &SessionFrame{Ended: iv.Sessions.Ended(), Abandoned: iv.Sessions.AbandonedTotal(), Share: share(&iv.Sessions),
		ShareAll: share(run), Sales: run.Sales, Lost: run.Lost, NoAbandon: u.Abandoned, NoSales: u.Sales}
}

// A StepFrame is one step's latency in an interval: p50 and p99 raw, and
// corrected for coordinated omission where the closed model has it.
type StepFrame struct {
	Name     string   `json:"name"`
	P50      float64  `json:"p50"`
	P99      float64  `json:"p99"`
	P50C     *float64 `json:"p50c,omitempty"`
	P99C     *float64 `json:"p99c,omitempty"`
	Requests int64    `json:"n"`
}

// stepFrames computes each step's percentiles over its regions' cells.
func stepFrames(iv *report.Interval, raw, corr *hdr.Histogram) []StepFrame {
	var out []StepFrame
	for s, name := range iv.Steps {
		raw.Reset()
		corr.Reset()
		var n int64
		hasCorr := false
		for i := range iv.Cells {
			c := &iv.Cells[i]
			if c.Step != s {
				continue
			}
			n += c.Count()
			if c.Latency != nil {
				c.Latency.MergeInto(raw)
			}
			if c.Corrected != nil {
				hasCorr = true
				c.Corrected.MergeInto(corr)
			}
		}
		if raw.TotalCount() == 0 {
			continue
		}
		f := StepFrame{Name: name, Requests: n,
			P50: ms(report.ValueAtPercentile(raw, 50)), P99: ms(report.ValueAtPercentile(raw, 99))}
		if hasCorr && corr.TotalCount() > 0 {
			p50, p99 := ms(report.ValueAtPercentile(corr, 50)), ms(report.ValueAtPercentile(corr, 99))
			f.P50C, f.P99C = &p50, &p99
		}
		out = append(out, f)
	}
	return out
}

// ms converts a histogram value (µs) to milliseconds.
func ms(us int64) float64 {
	return float64(time.Duration(us)*time.Microsecond) / float64(time.Millisecond)
}
