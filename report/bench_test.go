package report

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// parallel8 makes RunParallel use at least 8 goroutines whatever GOMAXPROCS
// (-cpu) is.
func parallel8(b *testing.B) {
	p := (8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
	b.SetParallelism(p)
}

func benchRecord(b *testing.B, o Options, spread bool, ei time.Duration) {
	r := NewRecorder(o)
	ns, nr := len(r.Steps()), len(r.Regions())
	var ids atomic.Int64
	parallel8(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := int(ids.Add(1))
		i := id * 7919
		for pb.Next() {
			i++
			step, region := 0, 0
			if spread {
				step, region = i%ns, (i/ns)%nr
			}
			// 0.5 … 50 ms latencies; the corrected variant's interval is
			// longer, as a closed agent's think time is.
			r.Record(id, step, region, time.Duration(500+i%50000)*time.Microsecond, OK, ei)
		}
	})
}

// BenchmarkRecordParallel: at least 8 goroutines, each with its own stripe
// hint, all recording into one step × region (the most contended case),
// with the default number of stripes.
func BenchmarkRecordParallel(b *testing.B) {
	benchRecord(b, Options{}, false, 0)
}

// BenchmarkRecordParallelOneStripe: as BenchmarkRecordParallel with a single
// stripe, to show what striping buys (every goroutine on one mutex).
func BenchmarkRecordParallelOneStripe(b *testing.B) {
	benchRecord(b, Options{Stripes: 1}, false, 0)
}

// BenchmarkRecordParallelTwoStripes: as BenchmarkRecordParallel with two
// stripes (GOMAXPROCS on this machine).
func BenchmarkRecordParallelTwoStripes(b *testing.B) {
	benchRecord(b, Options{Stripes: 2}, false, 0)
}

// BenchmarkRecordParallelEightStripes: as BenchmarkRecordParallel with 8.
func BenchmarkRecordParallelEightStripes(b *testing.B) {
	benchRecord(b, Options{Stripes: 8}, false, 0)
}

// BenchmarkRecordParallelSpread: as above over 4 steps × 3 regions.
func BenchmarkRecordParallelSpread(b *testing.B) {
	benchRecord(b, Options{Steps: []string{"a", "b", "c", "d"}, Regions: []string{"x", "y", "z"}}, true, 0)
}

// BenchmarkRecordParallelCorrected: closed model with an expected interval,
// so every call also records into the corrected histogram.
func BenchmarkRecordParallelCorrected(b *testing.B) {
	benchRecord(b, Options{Model: ModelClosed}, false, 2*time.Second)
}

// BenchmarkRecordSerial: one goroutine, no contention.
func BenchmarkRecordSerial(b *testing.B) {
	r := NewRecorder(Options{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Record(i, 0, 0, time.Duration(500+i%50000)*time.Microsecond, OK, 0)
	}
}

// BenchmarkRotate: one rotation of 4 steps × 3 regions with every stripe
// (4 per cell) holding fresh data (raw and corrected), then Release; the
// 48 records per rotation are included.
func BenchmarkRotate(b *testing.B) {
	r := NewRecorder(Options{Steps: []string{"a", "b", "c", "d"}, Regions: []string{"x", "y", "z"}, Stripes: 4, Model: ModelClosed})
	now := time.Now()
	round := func(i int) {
		for c := 0; c < 12; c++ {
			for s := 0; s < 4; s++ {
				r.Record(s, c/3, c%3, time.Duration(1+(i+c+s)%300)*time.Millisecond, OK, 50*time.Millisecond)
			}
		}
		now = now.Add(time.Second)
		r.Release(r.Rotate(now))
	}
	for i := 0; i < 3; i++ { // steady state: stripes, totals and pool exist
		round(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		round(i)
	}
}

// BenchmarkSummary: a summary of 4 steps × 3 regions with data everywhere.
func BenchmarkSummary(b *testing.B) {
	r := NewRecorder(Options{Steps: []string{"a", "b", "c", "d"}, Regions: []string{"x", "y", "z"}, Stripes: 4})
	for i := 0; i < 100000; i++ {
		r.Record(i, i%4, i%3, time.Duration(1+i%300000)*time.Microsecond, OK, 0)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Summary(time.Minute)
	}
}
