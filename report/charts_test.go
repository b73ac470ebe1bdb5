package report

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestJSNums(t *testing.T) {
	b, err := json.Marshal(jsNums{math.NaN(), 1, 0.51234, 198.015, 12345.6, 1234567, -2.5, 0.000123456})
	if err != nil {
		t.Fatal(err)
	}
	if want := `[null,1,0.5123,198,12350,1234567,-2.5,0.0001235]`; string(b) != want {
		t.Errorf("jsNums = %s, want %s", b, want)
	}
}

// TestChartData checks the charts' data against the summary it comes
// from: per step and second, OK and KO add up to the requests, the
// latency bands are the series' own figures, raw and corrected; the
// distribution holds every latency in the right bucket; the spectrum ends
// at the max.
func TestChartData(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := NewRecorder(Options{Steps: []string{"browse", "buy", "idle"}, Model: ModelClosed, Start: start})
	s := recordStorm(rec, start, 3, func(sec int) {
		for i := 0; i < 200; i++ {
			rec.Record(i, 0, 0, time.Duration(2+i%5)*ms, OK, 0)
			rec.Record(i, 1, 0, 50*ms, OK, 20*ms) // a corrected figure
		}
		rec.Record(0, 1, 0, 50*ms, BadStatus, 0)
	})
	d := chartDataOf(s)
	if len(d.Figures) != 2 || d.Figures[1] != "corrected" || d.BudgetMs != 100 || len(d.T) != 3 || d.T[2] != 3 {
		t.Fatalf("figures %q budget %v t %v", d.Figures, d.BudgetMs, d.T)
	}
	if len(d.Steps) != 3 || d.Steps[0].Name != "all" || d.Steps[1].Name != "browse" || d.Steps[2].Name != "buy" {
		t.Fatalf("steps %+v (idle has no requests: left out)", d.Steps)
	}
	for i, p := range s.Series {
		buy := &d.Steps[2]
		if buy.OK[i] != 200/p.Seconds || buy.KO[i] != 1/p.Seconds || d.Steps[0].OK[i]+d.Steps[0].KO[i] != float64(p.Count)/p.Seconds {
			t.Errorf("second %d: buy ok %v ko %v, all %v+%v, want 200, 1 and %d per %v s", i, buy.OK[i], buy.KO[i], d.Steps[0].OK[i], d.Steps[0].KO[i], p.Count, p.Seconds)
		}
		if got, want := buy.Lat[0][2][i], durMs(p.Steps[1].Raw.P99); got != want || want < 50 {
			t.Errorf("second %d: buy raw p99 %v, want %v", i, got, want)
		}
		if got, want := buy.Lat[1][3][i], durMs(p.Steps[1].Corrected.Max); got != want || want < 50 {
			t.Errorf("second %d: buy corrected max %v, want %v", i, got, want)
		}
		if !math.IsNaN(d.Steps[1].Lat[1][0][i]) {
			t.Errorf("second %d: browse has no corrected figure, got p50 %v", i, d.Steps[1].Lat[1][0][i])
		}
	}
	// buy's raw latencies are all 50 ms: one bucket, 10^(46/10) µs ≤ 50 ms < 10^(47/10) µs.
	if dist := d.Steps[2].Dist[0]; dist.K0 != 46 || len(dist.Pct) != 1 || dist.Pct[0] != 100 {
		t.Errorf("buy distribution %+v, want all in bucket 46", dist)
	}
	var sum float64
	for _, v := range d.Steps[0].Dist[0].Pct {
		sum += v
	}
	if math.Abs(sum-100) > 1e-9 {
		t.Errorf("distribution of all sums to %v %%", sum)
	}
	sp := d.Steps[0].Spec[0]
	if n := len(sp.Y); n == 0 || sp.Y[n-1] != durMs(s.Overall.Raw.Max) || sp.X[0] != 0 {
		t.Errorf("spectrum %+v, want 0 … the max %v", sp, s.Overall.Raw.Max)
	}
}
