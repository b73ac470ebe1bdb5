package report

import (
	"testing"
	"time"
)

// TestPointOfMatchesDense checks the series' figures, built from the
// cells' packed histograms, against the interval's dense histogram of
// every cell: the same p50, p90, p99 and max (and so the same JSON series
// as before the series carried steps).
func TestPointOfMatchesDense(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := stormRecorder(start)
	for sec := 0; sec < 3; sec++ {
		iv := stormSecond(rec, start, sec)
		p := PointOf(iv, start)
		us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
		h := iv.All
		if p.Latencies != h.TotalCount() || p.P50 != us(ValueAtPercentile(h, 50)) || p.P90 != us(ValueAtPercentile(h, 90)) ||
			p.P99 != us(ValueAtPercentile(h, 99)) || p.Max != us(h.Max()) {
			t.Errorf("second %d: point %d %v %v %v %v, dense %d %v %v %v %v", sec, p.Latencies, p.P50, p.P90, p.P99, p.Max,
				h.TotalCount(), us(ValueAtPercentile(h, 50)), us(ValueAtPercentile(h, 90)), us(ValueAtPercentile(h, 99)), us(h.Max()))
		}
		var n int64
		for _, st := range p.Steps {
			n += st.Raw.Count
		}
		if n != p.Latencies || p.Count != iv.Count() || p.Under != iv.Under || p.Corrected.Count == 0 {
			t.Errorf("second %d: steps hold %d latencies of %d; count %d of %d, under %d of %d, corrected %+v",
				sec, n, p.Latencies, p.Count, iv.Count(), p.Under, iv.Under, p.Corrected)
		}
		rec.Release(iv)
	}
}
