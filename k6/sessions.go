package k6

import (
	"slices"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// Sessions from k6's iterations (report.Sessions). An agentstorm session is
// one pass of an agent through its flow; a k6 iteration is one pass of a VU
// through the script's default function. The mapping:
//
//   - iterations (a counter point at the end of each iteration that ran to
//     its end, k6 writes none for one cut by the end of the test or its
//     graceful stop): each is a completed session. k6 does not say at
//     which request an iteration ended, so it is counted at the request
//     step named last for the first time so far, which is the script's
//     last request for a script that makes its requests in one order (an
//     iteration's requests come before its iterations point), and in the
//     region of its own region tag (Options.RegionTag, which iterations
//     carry when the scenario or the options set it), else the first
//     region.
//   - dropped_iterations (arrival-rate executors: an iteration due with no
//     VU free to run it): dropped sessions, as agentstorm's open model
//     counts arrivals with no idle agent, at the first request step.
//   - iterations cut by the end are counted nowhere, as agentstorm's
//     sessions cut by the end of a run.
//   - abandoned: none. k6's VUs have no patience: a VU waits for every
//     answer up to its timeout and goes on whatever came, so no iteration
//     is given up; an exception ends an iteration early but k6 still
//     writes its iterations point, so it cannot be told apart.
//   - sales: with Options.SaleSteps, each OK answer of a sale step.
//
// So budgets on sales (sales >= N) judge k6 runs too. The abandoned share
// of a k6 run is 0 by construction, not by measurement: budgets on
// abandoned sessions and lost sales have no data (report.SessionsUnmeasured),
// as do budgets on sales when the ingest names no sale step.

// maxSessionsPerPoint bounds the sessions one counter point may record
// (k6 writes 1 per iteration; a dropped_iterations point counts a few).
const maxSessionsPerPoint = 1 << 20

// flowStep notes a request step: the first one, and the last one named
// for the first time (added says it was just added), and whether it is a
// sale step.
func (in *Ingester) flowStep(step int, added bool) {
	if step == in.otherStep {
		return
	}
	if in.firstStep < 0 {
		in.firstStep = step
	}
	if added || in.lastStep < 0 {
		in.lastStep = step
		if len(in.o.SaleSteps) > 0 {
			for len(in.saleStep) <= step {
				in.saleStep = append(in.saleStep, false)
			}
			name := in.rec.Steps()[step]
			in.saleStep[step] = slices.Contains(in.o.SaleSteps, name)
		}
	}
}

// sessions files an iterations or dropped_iterations point. Points before
// the first request have no step to be counted at and are left out of the
// sessions (the figure counts them).
func (in *Ingester) sessions(metric string, r *record) {
	if in.rec == nil || in.lastStep < 0 || r.value < 1 {
		return
	}
	nanos, ok := in.parseTime(r.time)
	if !ok {
		return
	}
	p := pending{lat: time.Duration(min(r.value, maxSessionsPerPoint)), what: pointIterations, step: int32(in.lastStep)}
	if metric == "dropped_iterations" {
		p.what, p.step = pointDropped, int32(in.firstStep)
	}
	if tag := r.tags[tagRegion]; tag != nil && in.o.RegionTag != "" {
		p.region = int32(in.regionID(tag))
	}
	in.bucket(nanos, p)
}

// applySessions records a sessions point.
func (in *Ingester) applySessions(p pending) {
	for n := int64(p.lat); n > 0; n-- {
		if p.what == pointDropped {
			in.rec.RecordDropped(int(p.step), int(p.region))
		} else {
			in.rec.RecordSession(int(p.step), int(p.region), report.SessionCompleted, 0, false)
		}
	}
}
