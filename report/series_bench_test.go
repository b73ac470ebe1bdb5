package report

import (
	"testing"
	"time"
)

// stormSecond returns an interval like one second of the default storm:
// 25,000 answers over 7 steps × 4 regions, a tenth of them with a
// corrected figure.
func stormSecond(rec *Recorder, start time.Time, sec int) *Interval {
	for i := 0; i < 25000; i++ {
		var ei time.Duration
		if i%10 == 0 {
			ei = 20 * ms
		}
		rec.Record(i, i%7, i%4, time.Duration(500+(i*7919)%90000)*time.Microsecond, OK, ei)
	}
	return rec.Rotate(start.Add(time.Duration(sec+1) * time.Second))
}

func stormRecorder(start time.Time) *Recorder {
	return NewRecorder(Options{Steps: []string{"a", "b", "c", "d", "e", "f", "g"}, Regions: []string{"r1", "r2", "r3", "r4"},
		Model: ModelClosed, Start: start})
}

// BenchmarkPointOf is the per-second cost of the live series.
func BenchmarkPointOf(b *testing.B) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := stormRecorder(start)
	iv := stormSecond(rec, start, 0)
	b.ReportAllocs()
	for b.Loop() {
		PointOf(iv, start)
	}
}
