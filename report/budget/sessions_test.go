package budget

import (
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// sessionsSummary records 200 ended sessions: in us-east 100 (10
// abandoned at add_to_cart as slow, 2 at checkout on timeout, 88
// completed with a sale at checkout), in ap-tokyo 100 (30 abandoned at
// add_to_cart, 70 completed with a sale); 20 of the 40 abandoned at
// add_to_cart had a sale ahead.
func sessionsSummary(t *testing.T) (*report.Recorder, *report.Summary) {
	t.Helper()
	start := time.UnixMilli(1_700_000_000_000)
	r := report.NewRecorder(report.Options{Steps: testBudgetOpts.Steps, Regions: testBudgetOpts.Regions, Start: start})
	for i := 0; i < 10; i++ {
		r.RecordSession(1, 0, report.SessionAbandoned, report.AbandonSlow, i%2 == 0)
	}
	for i := 0; i < 2; i++ {
		r.RecordSession(3, 0, report.SessionAbandoned, report.AbandonTimeout, true)
	}
	for i := 0; i < 30; i++ {
		r.RecordSession(1, 1, report.SessionAbandoned, report.AbandonSlow, i%2 == 0)
	}
	for region, n := range []int{88, 70} {
		for i := 0; i < n; i++ {
			r.RecordSale(3, region, 8500)
			r.RecordSession(3, region, report.SessionCompleted, 0, false)
		}
	}
	return r, r.Summary(10 * time.Second)
}

func TestSessionBudgets(t *testing.T) {
	_, s := sessionsSummary(t)
	for _, c := range []struct {
		expr   string
		actual float64
		met    bool
	}{
		{"abandoned < 1%", 21, false},                             // 42 of 200
		{"abandoned < 25%", 21, true},                             //
		{"abandoned(add_to_cart) < 0.5%", 20, false},              // 40 of 200
		{"abandoned(checkout) <= 1%", 1, true},                    // 2 of 200
		{"abandoned == 42", 42, true},                             // a count
		{"region=ap-tokyo abandoned < 10%", 30, false},            // 30 of ap-tokyo's 100
		{"region=us-east add_to_cart abandoned < 10%", 10, false}, // 10 of us-east's 100
		{"sales >= 1000", 158, false},                             //
		{"sales >= 150", 158, true},                               //
		{"region=us-east sales == 88", 88, true},                  //
		{"lost_sales < 10", 22, false},                            // 5 + 2 + 15
		{"lost_sales < 15%", 11, true},                            // 22 of 200
	} {
		b, err := Parse(c.expr, testBudgetOpts)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		r := b.Evaluate(s)
		if r.NoData || r.Met != c.met || r.Actual != c.actual {
			t.Errorf("%s: actual %v met %v (no data %v), want %v met %v", c.expr, r.Actual, r.Met, r.NoData, c.actual, c.met)
		}
	}
	if _, err := Parse("sales > 5%", testBudgetOpts); err == nil {
		t.Error("sales as a share parsed; want a count only")
	}
	if _, err := Parse("abandoned(nope) < 1%", testBudgetOpts); err == nil {
		t.Error("abandoned at an unknown step parsed")
	}
}

// TestSessionBudgetsNoData: a run in which no session ended has no data
// for a session budget, whatever its limit (never a pass).
func TestSessionBudgetsNoData(t *testing.T) {
	r := report.NewRecorder(report.Options{Steps: testBudgetOpts.Steps, Regions: testBudgetOpts.Regions})
	r.Record(0, 1, 0, 5*ms, report.OK, 0)
	s := r.Summary(time.Second)
	for _, expr := range []string{"abandoned < 1%", "abandoned == 0", "sales >= 0", "lost_sales < 1"} {
		b, err := Parse(expr, testBudgetOpts)
		if err != nil {
			t.Fatal(err)
		}
		if res := b.Evaluate(s); !res.NoData || res.Met {
			t.Errorf("%s without sessions: %+v, want no data, not met", expr, res)
		}
	}
}

// TestSessionBudgetsUnmeasured: on a k6 ingest (a VU has no patience)
// abandonment and lost sales are not measured, so their budgets have no
// data and say why, whatever the counts (0 by construction); sales are
// measured once the ingest names a sale step, or made some.
func TestSessionBudgetsUnmeasured(t *testing.T) {
	r := report.NewRecorder(report.Options{Steps: testBudgetOpts.Steps, Regions: testBudgetOpts.Regions})
	for i := 0; i < 50; i++ {
		r.RecordSession(3, 0, report.SessionCompleted, 0, false)
	}
	s := r.Summary(time.Second)
	s.Meta = map[string]string{"source": "k6"}
	for _, c := range []struct{ expr, reason string }{
		{"abandoned < 1%", "not measured: a k6 run has no agent patience"},
		{"abandoned(add_to_cart) < 0.5%", "not measured: a k6 run has no agent patience"},
		{"region=us-east abandoned == 0", "not measured: a k6 run has no agent patience"},
		{"lost_sales < 1", "not measured: a k6 run has no agent patience, so no sale is ever lost"},
		{"sales < 1", "not measured: the k6 ingest named no sale step (--sale-step)"},
	} {
		b, err := Parse(c.expr, testBudgetOpts)
		if err != nil {
			t.Fatal(err)
		}
		res := b.Evaluate(s)
		if !res.NoData || res.Met || res.NoDataReason != c.reason {
			t.Errorf("%s on a k6 run: %+v, want no data, not met, because %q", c.expr, res, c.reason)
		}
		if want := "MISSED (no data, " + c.reason + ")"; res.VerdictText() != want || res.Verdict() != "MISSED (no data)" {
			t.Errorf("%s: verdicts %q, %q; want %q, %q", c.expr, res.VerdictText(), res.Verdict(), want, "MISSED (no data)")
		}
	}
	// With a sale step named, sales are measured (none made here).
	s.Meta[report.MetaSaleSteps] = "checkout"
	b, err := Parse("sales < 1", testBudgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	if res := b.Evaluate(s); res.NoData || !res.Met || res.NoDataReason != "" {
		t.Errorf("sales < 1 with --sale-step on a k6 run: %+v, want met at 0", res)
	}
	// The same counts from an agentstorm run are measured.
	delete(s.Meta, "source")
	if b, err = Parse("abandoned < 1%", testBudgetOpts); err != nil {
		t.Fatal(err)
	}
	if res := b.Evaluate(s); res.NoData || !res.Met {
		t.Errorf("abandoned < 1%% on an agentstorm run with none abandoned: %+v, want met", res)
	}
}

// TestSessionBudgetLive: an abort budget on abandonment fires on the
// interval that misses it, and not on one without sessions.
func TestSessionBudgetLive(t *testing.T) {
	b, err := Parse("abandoned < 5% abort after 1s min 10", testBudgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	lc := NewLiveChecker([]*Budget{b})
	r, _ := sessionsSummary(t)
	iv := r.Rotate(r.Start().Add(2 * time.Second))
	f := lc.Check(iv, 2*time.Second)
	if f == nil || f.Actual != 21 || f.Samples != 200 {
		t.Fatalf("live failure %+v, want abandoned 21%% of 200", f)
	}
	iv = r.Rotate(r.Start().Add(3 * time.Second)) // nothing ended since
	if f := lc.Check(iv, 3*time.Second); f != nil {
		t.Fatalf("an interval without sessions failed live: %+v", f)
	}
}

// TestSessionStepBudgetLive: live, a step's abandoned share is of every
// session that ended in the second, as at the end (40 of 200 = 20%), not
// of the sessions that ended at that step (which would be 100%).
func TestSessionStepBudgetLive(t *testing.T) {
	b, err := Parse("abandoned(add_to_cart) < 25% abort after 1s min 10", testBudgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	lc := NewLiveChecker([]*Budget{b})
	r, sum := sessionsSummary(t)
	if f := lc.Check(r.Rotate(r.Start().Add(2*time.Second)), 2*time.Second); f != nil {
		t.Fatalf("live failure %+v; add_to_cart abandoned 40 of 200 sessions (20%%)", f)
	}
	if res := Evaluate([]*Budget{b}, sum); !res[0].Met || res[0].Actual != 20 {
		t.Fatalf("at the end: %+v, want met at 20%%", res[0])
	}
}
