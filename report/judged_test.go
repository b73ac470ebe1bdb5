package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// uniformlySlow records what a closed-model storm of a target that answers
// every request in 1 s records (agents pacing at 50 ms): HdrHistogram's
// correction fills in 950 ms, 900 ms, … 50 ms for each, values below any
// measured one. Raw: 0% within 100 ms, p50 1 s; corrected: ~10% within
// 100 ms and a p50 near 500 ms. Nothing stalled; the target is slow.
func uniformlySlow(t *testing.T) *Summary {
	t.Helper()
	r := NewRecorder(Options{Model: ModelClosed, Steps: []string{"checkout"}, Regions: []string{"eu"}, Stripes: 1})
	for i := 0; i < 200; i++ {
		r.Record(i, 0, 0, time.Second, OK, 50*time.Millisecond)
	}
	s := r.Summary(10 * time.Second)
	if s.Overall.Corrected == nil || s.Overall.Corrected.Compliance() == 0 || s.Overall.Corrected.P50 >= time.Second {
		t.Fatalf("the correction did not fill in lower values: %+v", s.Overall.Corrected)
	}
	return s
}

// TestCorrectedNeverKinderThanRaw: a corrected figure is judged as the
// larger of raw and corrected (percentiles) and the smaller (compliance),
// in the judged figures, the headline and the JSON (budgets: see
// budget.TestBudgetsJudgeTheLessFlattering).
func TestCorrectedNeverKinderThanRaw(t *testing.T) {
	s := uniformlySlow(t)
	j := s.Overall.Judged()
	if j.Compliance() != 0 || j.P50 < time.Second || j.P99 < time.Second {
		t.Errorf("judged: compliance %v, p50 %v, p99 %v; want 0, >= 1s, >= 1s", j.Compliance(), j.P50, j.P99)
	}

	var text bytes.Buffer
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Sub-100 ms compliance: 0.00% of 200 answers within 100 ms, raw") {
		t.Errorf("headline does not judge the raw figure:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"share": 0,`) || !strings.Contains(js.String(), `"figure": "raw"`) {
		t.Errorf("JSON compliance is not the raw 0%%:\n%.600s", js.String())
	}
}

// TestHgrmNotKinderThanRaw: the .hgrm distribution of a uniformly slow
// closed-model run is the raw one, said so, not the corrected one whose
// back-filled values look better than what was measured.
func TestHgrmNotKinderThanRaw(t *testing.T) {
	s := uniformlySlow(t)
	if h := s.Overall.JudgedHistogram(); h != s.Overall.Histogram {
		t.Fatal("the judged distribution is the kinder corrected one")
	}
	var b bytes.Buffer
	if err := WriteHgrmStats(&b, s, "all", &s.Overall); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "raw (the correction for coordinated omission was kinder) latency") {
		t.Errorf("hgrm header:\n%.200s", b.String())
	}
}
