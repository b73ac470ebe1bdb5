package report

import (
	"testing"
	"time"
)

// TestCoordinatedOmissionFigures simulates a target that answers in 1 ms but
// stalls for 1 s in the middle of a 10 s run, measured by a closed-model
// agent (no think time) and by an open-model schedule at the same mean rate.
// The open model's p99 and the closed model's corrected p99 must show the
// stall; the closed model's raw p99 hides it.
func TestCoordinatedOmissionFigures(t *testing.T) {
	const (
		service = time.Millisecond
		run     = 10 * time.Second
		stallAt = 5 * time.Second
		stall   = time.Second
	)
	// done returns when a request sent at t is answered.
	done := func(t time.Duration) time.Duration {
		if t >= stallAt && t < stallAt+stall {
			return stallAt + stall + service
		}
		return t + service
	}

	closed := NewRecorder(Options{Model: ModelClosed})
	n := 0
	for t0 := time.Duration(0); t0 < run; n++ {
		t1 := done(t0)
		// Expected interval: think time (0) plus the agent's usual service time.
		closed.Record(0, 0, 0, t1-t0, OK, service)
		t0 = t1
	}
	open := NewRecorder(Options{Model: ModelOpen})
	for i := 0; i < n; i++ { // same number of requests, evenly spread: same mean rate
		intended := time.Duration(i) * run / time.Duration(n)
		open.Record(i, 0, 0, done(intended)-intended, OK, 0)
	}

	cs := closed.Summary(run).Overall
	op := open.Summary(run).Overall
	t.Logf("closed raw p99 %v, closed corrected p99 %v, open p99 %v", cs.Raw.P99, cs.Corrected.P99, op.Raw.P99)
	if cs.Raw.P99 > 2*service {
		t.Errorf("closed raw p99 = %v: expected it to hide the stall (about %v)", cs.Raw.P99, service)
	}
	if cs.Corrected == nil || cs.Corrected.P99 < stall/2 {
		t.Errorf("closed corrected p99 = %v: expected it to show the 1 s stall", cs.Corrected)
	}
	if op.Raw.P99 < stall/2 {
		t.Errorf("open p99 = %v: expected it to show the 1 s stall", op.Raw.P99)
	}
	if cs.Raw.Compliance() < 0.999 || cs.Corrected.Compliance() > 0.95 || op.Raw.Compliance() > 0.95 {
		t.Errorf("compliance raw %.4f corrected %.4f open %.4f", cs.Raw.Compliance(), cs.Corrected.Compliance(), op.Raw.Compliance())
	}
}
