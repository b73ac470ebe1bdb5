package budget

import (
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// benchInterval returns an empty recorder of 7 steps × 4 regions (the
// agent-storm profile's shape) and its first interval, one second with
// ~25,000 answers spread over every step × region.
func benchInterval() (*report.Recorder, *report.Interval) {
	steps := []string{"open_cart", "add_to_cart", "remove_item", "inventory", "shipping_quote", "checkout", "order_status"}
	regions := []string{"us-east", "us-west", "eu-west", "ap-tokyo"}
	r := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Model: report.ModelOpen, Start: time.UnixMilli(1_700_000_000_000)})
	for i := 0; i < 25_000; i++ {
		r.Record(i, i%7, (i/7)%4, time.Duration(500+(i*7919)%150_000)*time.Microsecond, report.OK, 0)
	}
	return r, r.Rotate(r.Start().Add(time.Second))
}

// BenchmarkLiveCheck is the per-second cost of three abort budgets.
func BenchmarkLiveCheck(b *testing.B) {
	r, iv := benchInterval()
	o := Options{Steps: r.Steps(), Regions: r.Regions()}
	var bs []*Budget
	for _, e := range []string{"add_to_cart p99 < 1s abort", "region=ap-tokyo p99 < 1s abort", "errors < 1% abort"} {
		bu, err := Parse(e, o)
		if err != nil {
			b.Fatal(err)
		}
		bs = append(bs, bu)
	}
	lc := NewLiveChecker(bs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if f := lc.Check(iv, time.Minute); f != nil {
			b.Fatal(f)
		}
	}
}
