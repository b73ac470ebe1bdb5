package budget

import (
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// uniformlySlow records what a closed-model storm of a target that answers
// every request in 1 s records (agents pacing at 50 ms): HdrHistogram's
// correction fills in 950 ms, 900 ms, … 50 ms for each, values below any
// measured one. Raw: 0% within 100 ms, p50 1 s; corrected: ~10% within
// 100 ms and a p50 near 500 ms. Nothing stalled; the target is slow.
func uniformlySlow(t *testing.T) *report.Summary {
	t.Helper()
	r := report.NewRecorder(report.Options{Model: report.ModelClosed, Steps: []string{"checkout"}, Regions: []string{"eu"}, Stripes: 1})
	for i := 0; i < 200; i++ {
		r.Record(i, 0, 0, time.Second, report.OK, 50*time.Millisecond)
	}
	s := r.Summary(10 * time.Second)
	if s.Overall.Corrected == nil || s.Overall.Corrected.Compliance() == 0 || s.Overall.Corrected.P50 >= time.Second {
		t.Fatalf("the correction did not fill in lower values: %+v", s.Overall.Corrected)
	}
	return s
}

// TestBudgetsJudgeTheLessFlattering: a corrected figure is judged as the
// larger of raw and corrected (percentiles) and the smaller (compliance)
// by every budget, at the end and live.
func TestBudgetsJudgeTheLessFlattering(t *testing.T) {
	s := uniformlySlow(t)
	budgets, err := ParseAll([]string{"p50 < 800ms", "under(100ms) > 5%", "p99 < 2s"}, nil, Options{Steps: s.Steps, Regions: s.Regions, Writes: s.Writes})
	if err != nil {
		t.Fatal(err)
	}
	res := Evaluate(budgets, s)
	if res[0].Met || res[0].Actual < 1000 {
		t.Errorf("p50 < 800ms: %s (raw p50 is 1 s)", res[0].Describe())
	}
	if res[1].Met || res[1].Actual != 0 {
		t.Errorf("under(100ms) > 5%%: %s (raw has none within 100 ms)", res[1].Describe())
	}
	if !res[2].Met {
		t.Errorf("p99 < 2s: %s (both figures meet it)", res[2].Describe())
	}

	// Live: the interval's figure is judged the same way.
	abort, err := ParseAll([]string{"p50 < 800ms abort after 0s min 1"}, nil, Options{Steps: s.Steps, Regions: s.Regions, Writes: s.Writes})
	if err != nil {
		t.Fatal(err)
	}
	r := report.NewRecorder(report.Options{Model: report.ModelClosed, Steps: []string{"checkout"}, Regions: []string{"eu"}, Stripes: 1})
	for i := 0; i < 200; i++ {
		r.Record(i, 0, 0, time.Second, report.OK, 50*time.Millisecond)
	}
	iv := r.Rotate(time.Now())
	if f := NewLiveChecker(abort).Check(iv, 5*time.Second); f == nil || f.Actual < 1000 {
		t.Errorf("live p50 < 800ms: %v, want a failure at the raw 1 s", f)
	}
}
