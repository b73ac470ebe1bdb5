package budget

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

const ms = time.Millisecond

var testBudgetOpts = Options{
	Steps:   []string{"browse", "add_to_cart", "shipping_quote", "checkout"},
	Regions: []string{"us-east", "ap-tokyo"},
	Writes:  []bool{false, true, true, true},
	Figures: map[string]report.Unit{"lost_orders": report.UnitCount},
	Metrics: map[string]Metric{"recovery": recoveryMetric{}},
}

// recoveryMetric is a metric kind defined outside the parser: the
// "recovery_ms" figure, as a duration.
type recoveryMetric struct{}

func (recoveryMetric) Name() string      { return "recovery" }
func (recoveryMetric) Unit() report.Unit { return report.UnitDuration }
func (recoveryMetric) Value(v *View) (float64, int64, bool) {
	f, ok := v.Figures["recovery_ms"]
	return f, 1, ok
}

func TestParseBudgetValid(t *testing.T) {
	for _, c := range []struct {
		expr, metric, step, region string
		op                         report.Op
		limit                      float64
		unit                       report.Unit
		abort                      bool
		grace                      time.Duration
		min                        int64
	}{
		{expr: "add_to_cart p99 < 100ms", metric: "p99", step: "add_to_cart", op: report.OpLT, limit: 100, unit: report.UnitDuration},
		{expr: "p99.9 < 250ms", metric: "p99.9", op: report.OpLT, limit: 250, unit: report.UnitDuration},
		{expr: "checkout max < 2s", metric: "max", step: "checkout", op: report.OpLT, limit: 2000, unit: report.UnitDuration},
		{expr: "add_to_cart under(100ms) >= 99.5%", metric: "under(100ms)", step: "add_to_cart", op: report.OpGE, limit: 99.5, unit: report.UnitPercent},
		{expr: "errors < 0.1%", metric: "errors", op: report.OpLT, limit: 0.1, unit: report.UnitPercent},
		{expr: "shipping_quote errors < 1%", metric: "errors", step: "shipping_quote", op: report.OpLT, limit: 1, unit: report.UnitPercent},
		{expr: "errors == 0", metric: "errors", op: report.OpEQ, limit: 0, unit: report.UnitCount},
		{expr: "rps >= 20000", metric: "rps", op: report.OpGE, limit: 20000, unit: report.UnitRate},
		{expr: "dropped == 0", metric: "dropped", op: report.OpEQ, limit: 0, unit: report.UnitCount},
		{expr: "region=ap-tokyo add_to_cart p99 < 100ms", metric: "p99", step: "add_to_cart", region: "ap-tokyo", op: report.OpLT, limit: 100, unit: report.UnitDuration},
		{expr: "name=checkout p99 <= 1.5s", metric: "p99", step: "checkout", op: report.OpLE, limit: 1500, unit: report.UnitDuration},
		{expr: "step=checkout region=us-east p50 < 20 ms", metric: "p50", step: "checkout", region: "us-east", op: report.OpLT, limit: 20, unit: report.UnitDuration},
		{expr: "p99(add_to_cart) < 100ms", metric: "p99", step: "add_to_cart", op: report.OpLT, limit: 100, unit: report.UnitDuration},
		{expr: "p99(write) < 100ms", metric: "p99", step: "write", op: report.OpLT, limit: 100, unit: report.UnitDuration},
		{expr: "mean < 850us", metric: "mean", op: report.OpLT, limit: 0.85, unit: report.UnitDuration},
		{expr: "p99 < 850µs", metric: "p99", op: report.OpLT, limit: 0.85, unit: report.UnitDuration},
		{expr: "lost_orders == 0", metric: "lost_orders", op: report.OpEQ, limit: 0, unit: report.UnitCount},
		{expr: "add_to_cart p99 < 100ms abort", metric: "p99", step: "add_to_cart", op: report.OpLT, limit: 100, unit: report.UnitDuration,
			abort: true, grace: DefaultAbortGrace, min: DefaultAbortMinSamples},
		{expr: "errors < 5% abort after 3s min 20 samples", metric: "errors", op: report.OpLT, limit: 5, unit: report.UnitPercent,
			abort: true, grace: 3 * time.Second, min: 20},
	} {
		b, err := Parse(c.expr, testBudgetOpts)
		if err != nil {
			t.Errorf("%q: %v", c.expr, err)
			continue
		}
		if b.Metric.Name() != c.metric || b.Filter.Step != c.step || b.Filter.Region != c.region ||
			b.Op != c.op || math.Abs(b.Limit-c.limit) > 1e-9 || b.Metric.Unit() != c.unit {
			t.Errorf("%q: got metric %q step %q region %q op %s limit %v unit %s", c.expr, b.Metric.Name(),
				b.Filter.Step, b.Filter.Region, b.Op, b.Limit, b.Metric.Unit())
		}
		if b.Abort != c.abort || b.Grace != c.grace || b.MinSamples != c.min {
			t.Errorf("%q: abort %v grace %v min %d", c.expr, b.Abort, b.Grace, b.MinSamples)
		}
	}
}

func TestParseBudgetErrors(t *testing.T) {
	for _, c := range []struct {
		expr string
		col  int
		want string
	}{
		{"add_to_cart p99 < 100", 19, "expected a unit"},
		{"add_to_cart p99 < 100xs", 19, `unknown duration unit "xs"`},
		{"add_to_cart p99 100ms", 17, "expected an operator"},
		{"cart p99 < 100ms", 1, `unknown step "cart"; known steps: browse, add_to_cart, shipping_quote, checkout`},
		{"region=mars p99 < 100ms", 8, `unknown region "mars"; known regions: us-east, ap-tokyo`},
		{"add_to_cart p1000 < 1s", 13, "bad percentile"},
		{"add_to_cart latency < 1s", 13, `unknown metric "latency"`},
		{"add_to_cart < 100ms", 1, `"add_to_cart" is a step, not a metric`},
		{"under(100ms) >= 99.5", 17, "expected a percentage"},
		{"under 100ms >= 99%", 7, "expected ( after under"},
		{"errors < 200%", 10, "at most 100%"},
		{"rps >= 20k", 8, "expected a plain number"},
		{"p99 < 100ms abort after", 24, "expected a duration after after"},
		{"p99 < 100ms please", 13, `unexpected "please"`},
		{"p99 <", 6, "expected a limit"},
		{"zone=x p99 < 1s", 1, `unknown filter "zone"`},
		{"p99 ! 1s", 5, "expected an operator"},
		{"", 1, "empty budget"},
		{"p99 < 850µx", 7, `unknown duration unit "µx"`}, // columns count characters, not bytes
		{"p99 < 1s abort min 0", 20, "expected a whole number of samples"},
	} {
		_, err := Parse(c.expr, testBudgetOpts)
		var be *Error
		if !errors.As(err, &be) {
			t.Errorf("%q: error %v, want a *Error", c.expr, err)
			continue
		}
		if be.Column != c.col || !strings.Contains(be.Msg, c.want) {
			t.Errorf("%q: column %d msg %q; want column %d and %q", c.expr, be.Column, be.Msg, c.col, c.want)
		}
		if !strings.Contains(err.Error(), c.expr) {
			t.Errorf("%q: error does not quote the expression: %v", c.expr, err)
		}
	}
}

// budgetSummary: add_to_cart 1..1000 ms in us-east (1 ms steps) and 10 ms
// in ap-tokyo; checkout 50 ms everywhere with 10 errors; 10 s elapsed.
func budgetSummary(t *testing.T) *report.Summary {
	t.Helper()
	r := report.NewRecorder(report.Options{Steps: testBudgetOpts.Steps, Regions: testBudgetOpts.Regions, Writes: testBudgetOpts.Writes, Model: report.ModelOpen})
	for i := 1; i <= 1000; i++ {
		r.Record(i, 1, 0, time.Duration(i)*ms, report.OK, 0)
		r.Record(i, 1, 1, 10*ms, report.OK, 0)
		r.Record(i, 3, i%2, 50*ms, report.OK, 0)
	}
	for i := 0; i < 10; i++ {
		r.Record(i, 3, 0, 50*ms, report.BadStatus, 0)
	}
	r.RecordDropped(0, 0)
	r.Release(r.Rotate(time.Now()))
	s := r.Summary(10 * time.Second)
	s.Figures = map[string]float64{"lost_orders": 0, "recovery_ms": 4200}
	return s
}

func TestEvaluate(t *testing.T) {
	s := budgetSummary(t)
	for _, c := range []struct {
		expr   string
		actual float64 // with 0.2% tolerance (HDR precision)
		met    bool
	}{
		{"region=us-east add_to_cart p99 < 100ms", 990, false},
		{"region=us-east add_to_cart p50 < 600ms", 500, true},
		{"region=ap-tokyo add_to_cart p99 < 100ms", 10, true},
		{"add_to_cart p50 <= 15ms", 10, true}, // half of the 2,000 answers are 10 ms
		{"add_to_cart max < 2s", 1000, true},
		{"region=us-east add_to_cart under(100ms) >= 99.5%", 10, false},
		{"add_to_cart under(100ms) >= 50%", 55, true},
		{"checkout errors < 1%", 100 * 10.0 / 1010, true},
		{"checkout errors < 0.5%", 100 * 10.0 / 1010, false},
		{"errors == 10", 10, true},
		{"rps >= 300", 3010.0 / 10, true},
		{"requests == 3010", 3010, true},
		{"dropped == 0", 1, false},
		{"lost_orders == 0", 0, true},
		{"recovery < 10s", 4200, true},
		{"p99(write) < 1s", 970, true}, // 3,010 answers: the top 30 are 971…1000 ms
		{"browse p99 < 1s", 0, false},  // no data: missed
	} {
		b, err := Parse(c.expr, testBudgetOpts)
		if err != nil {
			t.Fatal(err)
		}
		r := b.Evaluate(s)
		if r.Met != c.met {
			t.Errorf("%q: met %v, want %v (%s)", c.expr, r.Met, c.met, r.Describe())
		}
		if !r.NoData && math.Abs(r.Actual-c.actual) > 0.002*math.Max(c.actual, 1) {
			t.Errorf("%q: actual %v, want %v", c.expr, r.Actual, c.actual)
		}
	}
	bs, err := ParseAll([]string{"errors < 1%", "checkout p99 < 10ms"}, []string{"--budget", "p.yaml:3:5"}, testBudgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	res := Evaluate(bs, s)
	if report.BudgetsMet(res) || !res[0].Met || res[1].Met || s.Budgets != nil { // pure: the summary is left alone
		t.Errorf("results %+v", res)
	}
	if got := res[1].Describe(); !strings.Contains(got, "checkout p99 < 10ms: actual 50ms, limit < 10ms: MISSED") {
		t.Errorf("describe = %q", got)
	}
	if _, err := ParseAll([]string{"p99 < 1", "ok < 1s"}, []string{"a.yaml:1:1", "--budget"}, testBudgetOpts); err == nil ||
		!strings.Contains(err.Error(), "a.yaml:1:1: budget") || !strings.Contains(err.Error(), "--budget: budget") {
		t.Errorf("ParseAll errors: %v", err)
	} else if be := (*Error)(nil); !errors.As(err, &be) || be.Expr != "p99 < 1" {
		t.Errorf("ParseAll error does not wrap the first *Error: %#v", be)
	}
}

func TestLiveChecker(t *testing.T) {
	b, err := Parse("add_to_cart p99 < 100ms abort after 2s min 50", testBudgetOpts)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Parse("errors < 1%", testBudgetOpts)
	lc := NewLiveChecker([]*Budget{other, b})
	if lc == nil || NewLiveChecker([]*Budget{other}) != nil {
		t.Fatal("NewLiveChecker: only abort budgets count")
	}
	start := time.Unix(1000, 0)
	r := report.NewRecorder(report.Options{Steps: testBudgetOpts.Steps, Regions: testBudgetOpts.Regions, Model: report.ModelOpen, Start: start})
	slow := func(n int) {
		for i := 0; i < n; i++ {
			r.Record(i, 1, 0, 300*ms, report.OK, 0)
		}
	}
	slow(100)
	iv := r.Rotate(start.Add(time.Second))
	if f := lc.Check(iv, time.Second); f != nil {
		t.Errorf("failed within the grace period: %v", f)
	}
	r.Release(iv)
	slow(10) // too few samples
	iv = r.Rotate(start.Add(3 * time.Second))
	if f := lc.Check(iv, 3*time.Second); f != nil {
		t.Errorf("failed on 10 samples: %v", f)
	}
	r.Release(iv)
	slow(60)
	iv = r.Rotate(start.Add(4 * time.Second))
	f := lc.Check(iv, 4*time.Second)
	r.Release(iv)
	if f == nil || f.Expr != b.Expr || f.Source != b.Source || f.Metric != b.Metric.Name() || f.Unit != b.Metric.Unit() || f.Op != b.Op || f.Limit != b.Limit || f.Samples != 60 || math.Abs(f.Actual-300) > 1 {
		t.Fatalf("live failure = %+v", f)
	}
	if !strings.Contains(f.String(), "failed live at 0:04") {
		t.Errorf("String = %q", f.String())
	}
	s := r.Summary(4 * time.Second)
	res := Evaluate([]*Budget{b}, s)
	report.MarkAborted(res, f.Abort())
	if res[0].Met || !res[0].Aborted || !strings.Contains(res[0].Verdict(), "aborted") {
		t.Errorf("after MarkAborted: %+v", res[0])
	}
}

// TestIsKeyword: the language's own words, from the parser's tables,
// and nothing else.
func TestIsKeyword(t *testing.T) {
	for _, w := range []string{"p99", "P99.9", "max", "min", "mean", "avg", "median", "errors", "error_rate", "failures",
		"rps", "throughput", "requests", "count", "dropped", "under", "within", "abort", "after", "samples",
		"region", "step", "name", "shard"} {
		if !IsKeyword(w) {
			t.Errorf("%q is not a keyword", w)
		}
		if strings.ToLower(w) != "min" && strings.ToLower(w) != "samples" && !strings.HasPrefix(strings.ToLower(w), "p") && !filterKeys[w] && !clauseWords[w] {
			if _, err := Parse(w+" < 1", testBudgetOpts); err != nil && strings.Contains(err.Error(), "unknown metric") {
				t.Errorf("%q is a keyword the parser does not know as a metric: %v", w, err)
			}
		}
	}
	for _, w := range []string{"checks", "lost_orders", "p", "pp99", "vus", "dropped_iterations"} {
		if IsKeyword(w) {
			t.Errorf("%q is taken for a keyword", w)
		}
	}
}
