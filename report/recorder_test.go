package report

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
	"unsafe"
)

const ms = time.Millisecond

// within reports whether got is the HDR rendering of want: the highest value
// equivalent to want at 3 significant digits, so want <= got <= want+0.1%.
func within(got, want time.Duration) bool {
	slack := want/1000 + time.Microsecond
	return got >= want && got <= want+slack
}

func checkLat(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if !within(got, want) {
		t.Errorf("%s = %v, want %v (within HDR precision)", what, got, want)
	}
}

func TestStripeSizeIsCacheLineMultiple(t *testing.T) {
	if s := unsafe.Sizeof(stripe{}); s%64 != 0 {
		t.Fatalf("stripe is %d bytes, not a multiple of 64: neighbouring stripes would false-share", s)
	}
}

func TestUniformDistribution(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"add"}, Stripes: 4})
	// 1 ms … 1000 ms, each once, in shuffled order over different stripes.
	perm := rand.New(rand.NewPCG(1, 2)).Perm(1000)
	for i, p := range perm {
		r.Record(i, 0, 0, time.Duration(p+1)*ms, OK, 0)
	}
	s := r.Summary(10 * time.Second)
	l := s.Overall.Raw
	if l.Count != 1000 || s.Overall.Count != 1000 {
		t.Fatalf("count = %d/%d, want 1000", l.Count, s.Overall.Count)
	}
	checkLat(t, "p50", l.P50, 500*ms)
	checkLat(t, "p90", l.P90, 900*ms)
	checkLat(t, "p99", l.P99, 990*ms)
	checkLat(t, "p99.9", l.P999, 999*ms)
	checkLat(t, "max", l.Max, 1000*ms)
	if l.Under != 100 {
		t.Errorf("under 100ms = %d, want 100", l.Under)
	}
	if got := l.Compliance(); got != 0.1 {
		t.Errorf("compliance = %v, want 0.1", got)
	}
	if s.Overall.RPS != 100 {
		t.Errorf("rps = %v, want 100", s.Overall.RPS)
	}
	if s.Overall.Corrected != nil {
		t.Errorf("corrected figure without expected interval")
	}
}

func TestBimodalDistribution(t *testing.T) {
	r := NewRecorder(Options{Model: ModelOpen})
	for i := 0; i < 9850; i++ {
		r.Record(i, 0, 0, 5*ms, OK, 0)
	}
	for i := 0; i < 150; i++ {
		r.Record(i, 0, 0, 800*ms, OK, 0)
	}
	l := r.Summary(time.Second).Overall.Raw
	checkLat(t, "p50", l.P50, 5*ms)
	checkLat(t, "p90", l.P90, 5*ms)
	checkLat(t, "p99", l.P99, 800*ms) // rank 9900 > 9850 fast values
	checkLat(t, "max", l.Max, 800*ms)
	if l.Under != 9850 || l.Count != 10000 {
		t.Errorf("under/count = %d/%d, want 9850/10000", l.Under, l.Count)
	}
	if want := 0.985; l.Compliance() != want {
		t.Errorf("compliance = %v, want %v", l.Compliance(), want)
	}
	if mean := l.Mean; mean < 16*ms || mean > 17*ms { // 0.985*5 + 0.015*800 = 16.925
		t.Errorf("mean = %v, want about 16.9ms", mean)
	}
}

func TestStepRegionSeparation(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"cart", "checkout"}, Regions: []string{"eu", "tokyo"}})
	// cell (s, g) gets n = 10*(1+2s+g) values of (1+2s+g) ms.
	for s := 0; s < 2; s++ {
		for g := 0; g < 2; g++ {
			k := 1 + 2*s + g
			for i := 0; i < 10*k; i++ {
				r.Record(i, s, g, time.Duration(k)*ms, OK, 0)
			}
		}
	}
	sum := r.Summary(time.Second)
	for s := 0; s < 2; s++ {
		for g := 0; g < 2; g++ {
			k := 1 + 2*s + g
			c := sum.Cell(s, g)
			if c.Count != int64(10*k) || c.Step != s || c.Region != g {
				t.Errorf("cell %d,%d: count %d step %d region %d, want %d", s, g, c.Count, c.Step, c.Region, 10*k)
			}
			checkLat(t, c.Name+" p50", c.Raw.P50, time.Duration(k)*ms)
			checkLat(t, c.Name+" max", c.Raw.Max, time.Duration(k)*ms)
		}
	}
	if got := sum.Cell(1, 0).Name; got != "checkout @ eu" {
		t.Errorf("cell name = %q", got)
	}
	// Step 0: 10×1ms + 20×2ms; step 1: 30×3ms + 40×4ms.
	if sum.PerStep[0].Count != 30 || sum.PerStep[1].Count != 70 {
		t.Errorf("per step counts %d, %d; want 30, 70", sum.PerStep[0].Count, sum.PerStep[1].Count)
	}
	checkLat(t, "step0 max", sum.PerStep[0].Raw.Max, 2*ms)
	checkLat(t, "step1 p50", sum.PerStep[1].Raw.P50, 4*ms) // rank 35 of 30×3 + 40×4
	// Region eu: 10×1ms + 30×3ms; tokyo: 20×2ms + 40×4ms.
	if sum.PerRegion[0].Count != 40 || sum.PerRegion[1].Count != 60 {
		t.Errorf("per region counts %d, %d; want 40, 60", sum.PerRegion[0].Count, sum.PerRegion[1].Count)
	}
	checkLat(t, "eu max", sum.PerRegion[0].Raw.Max, 3*ms)
	checkLat(t, "tokyo p50", sum.PerRegion[1].Raw.P50, 4*ms)
	if sum.PerRegion[1].Name != "tokyo" || sum.PerRegion[1].Step != -1 || sum.PerStep[1].Region != -1 {
		t.Errorf("per region labels wrong: %+v", sum.PerRegion[1].Name)
	}
	if sum.Overall.Count != 100 {
		t.Errorf("overall count %d, want 100", sum.Overall.Count)
	}
	if sum.Cell(2, 0) != nil || sum.Cell(0, -1) != nil {
		t.Errorf("Cell out of range should be nil")
	}
}

// exactCorrected lists the values RecordCorrectedValue records for v with
// expected interval ei, computed independently from its definition.
func exactCorrected(v, ei int64) []int64 {
	out := []int64{v}
	if ei <= 0 {
		return out
	}
	for m := v - ei; m >= ei; m -= ei {
		out = append(out, m)
	}
	return out
}

func TestCorrectedMatchesExactFillIn(t *testing.T) {
	r := NewRecorder(Options{Model: ModelClosed, Stripes: 2})
	rng := rand.New(rand.NewPCG(3, 4))
	var exact []int64
	for i := 0; i < 2000; i++ {
		ei := time.Duration(1+rng.IntN(20)) * ms
		lat := time.Duration(rng.IntN(5000)) * 100 * time.Microsecond // 0 … 500 ms
		if i%100 == 0 {
			lat = time.Second // a stall
		}
		r.Record(i, 0, 0, lat, OK, ei)
		exact = append(exact, exactCorrected(int64(lat/time.Microsecond), int64(ei/time.Microsecond))...)
	}
	s := r.Summary(time.Second)
	c := s.Overall.Corrected
	if c == nil {
		t.Fatal("no corrected figure in the closed model with an expected interval")
	}
	if c.Count != int64(len(exact)) {
		t.Fatalf("corrected count %d, want %d", c.Count, len(exact))
	}
	want := NewHistogram()
	for _, v := range exact {
		if err := want.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	if !want.Equals(s.Overall.CorrectedHistogram) {
		t.Fatal("corrected histogram differs from the exact fill-in")
	}
	slices.Sort(exact)
	for _, q := range []struct {
		p   float64
		got time.Duration
	}{{50, c.P50}, {90, c.P90}, {99, c.P99}, {99.9, c.P999}} {
		rank := max(1, int(math.Ceil(q.p/100*float64(len(exact))-1e-9))) // nearest rank, ceiling (HdrHistogram's reference rule)
		checkLat(t, "corrected percentile", q.got, time.Duration(exact[rank-1])*time.Microsecond)
	}
	var under int64
	for _, v := range exact {
		if v <= 100_031 {
			under++
		}
	}
	if c.Under != under {
		t.Errorf("corrected under = %d, want %d", c.Under, under)
	}
	if s.Overall.Raw.Count != 2000 {
		t.Errorf("raw count %d, want 2000", s.Overall.Raw.Count)
	}
	if c.P99 <= s.Overall.Raw.P99 {
		t.Errorf("corrected p99 %v should exceed raw p99 %v with stalls", c.P99, s.Overall.Raw.P99)
	}
	if s.Overall.MeanExpectedInterval < ms || s.Overall.MeanExpectedInterval > 20*ms {
		t.Errorf("mean expected interval %v out of 1…20ms", s.Overall.MeanExpectedInterval)
	}
}

func TestOpenModelIgnoresExpectedInterval(t *testing.T) {
	r := NewRecorder(Options{Model: ModelOpen})
	r.Record(0, 0, 0, time.Second, OK, ms)
	s := r.Summary(time.Second)
	if s.Overall.Corrected != nil || s.Overall.Raw.Count != 1 {
		t.Fatalf("open model: corrected %v, raw count %d; want none, 1", s.Overall.Corrected, s.Overall.Raw.Count)
	}
}

func TestCountsByClass(t *testing.T) {
	r := NewRecorder(Options{Regions: []string{"a", "b"}})
	want := [NumOutcomes]int64{}
	for o := 0; o < NumOutcomes; o++ {
		for i := 0; i <= o*3; i++ {
			r.Record(i, 0, o%2, 2*ms, Outcome(o), 0)
			want[o]++
		}
	}
	r.Record(0, 0, 0, 2*ms, Outcome(200), 0) // out of range: other_error
	want[OtherError]++
	s := r.Summary(time.Second)
	if s.Overall.Counts != want {
		t.Fatalf("counts %v, want %v", s.Overall.Counts, want)
	}
	var total, withLat int64
	for o, n := range want {
		total += n
		if Outcome(o).HasLatency() {
			withLat += n
		}
	}
	if s.Overall.Count != total || s.Overall.Errors != total-want[OK] {
		t.Errorf("count/errors %d/%d, want %d/%d", s.Overall.Count, s.Overall.Errors, total, total-want[OK])
	}
	if s.Overall.Raw.Count != withLat {
		t.Errorf("latency count %d, want %d (answers and timeouts only)", s.Overall.Raw.Count, withLat)
	}
	if got, w := s.Overall.ErrorPct, 100*float64(total-want[OK])/float64(total); got != w {
		t.Errorf("error%% %v, want %v", got, w)
	}
	if s.PerRegion[0].Counts[BadStatus] != 0 || s.PerRegion[1].Counts[BadStatus] != want[BadStatus] {
		t.Errorf("bad_status per region %d/%d", s.PerRegion[0].Counts[BadStatus], s.PerRegion[1].Counts[BadStatus])
	}
	for o := 0; o < NumOutcomes; o++ {
		if Outcome(o).String() == "" || Outcome(o).IsError() == (o == int(OK)) {
			t.Errorf("outcome %d: name %q, IsError %v", o, Outcome(o), Outcome(o).IsError())
		}
	}
}

func TestComplianceBoundaryAndClamping(t *testing.T) {
	r := NewRecorder(Options{})
	r.Record(0, 0, 0, 100*ms, OK, 0)
	r.Record(0, 0, 0, 100031*time.Microsecond, OK, 0) // equivalent to 100 ms at 3 digits
	r.Record(0, 0, 0, 100032*time.Microsecond, OK, 0) // next bucket
	r.Record(0, 0, 0, 2*time.Minute, Timeout, 0)      // clamped to 60 s
	r.Record(0, 0, 0, -time.Second, OK, 0)            // clamped to 0
	r.Record(0, 5, 0, ms, OK, 0)                      // invalid step
	r.Record(0, 0, -1, ms, OK, 0)                     // invalid region
	r.RecordDropped(0, 3)                             // invalid region
	s := r.Summary(time.Second)
	if s.Overall.Raw.Under != 3 {
		t.Errorf("under = %d, want 3 (100ms, 100.031ms, 0)", s.Overall.Raw.Under)
	}
	if got := CountAtOrBelow(s.Overall.Histogram, ComplianceLimit); got != s.Overall.Raw.Under {
		t.Errorf("CountAtOrBelow = %d, record-time counter = %d", got, s.Overall.Raw.Under)
	}
	if s.Clamped != 2 || s.Invalid != 3 {
		t.Errorf("clamped/invalid = %d/%d, want 2/3", s.Clamped, s.Invalid)
	}
	checkLat(t, "max", s.Overall.Raw.Max, time.Minute)
	if s.Overall.Count != 5 {
		t.Errorf("count = %d, want 5", s.Overall.Count)
	}
}

func TestRotateIntervalsSumToTotals(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	r := NewRecorder(Options{Steps: []string{"a", "b"}, Regions: []string{"x", "y", "z"}, Start: start, Stripes: 4})
	rng := rand.New(rand.NewPCG(5, 6))
	all := NewHistogram()
	var counts [NumOutcomes]int64
	var conns, dropped int64
	now := start
	for sec := 0; sec < 5; sec++ {
		secHist := NewHistogram()
		var secCount int64
		for i := 0; i < 500+sec*100; i++ {
			lat := time.Duration(1+rng.IntN(300_000)) * time.Microsecond
			o := Outcome(rng.IntN(NumOutcomes))
			r.Record(rng.IntN(64), rng.IntN(2), rng.IntN(3), lat, o, 0)
			counts[o]++
			secCount++
			if o.HasLatency() {
				_ = all.RecordValue(int64(lat / time.Microsecond))
				_ = secHist.RecordValue(int64(lat / time.Microsecond))
			}
		}
		r.AddConnections(sec)
		conns += int64(sec)
		for i := 0; i < sec; i++ {
			r.RecordDropped(1, 2)
		}
		dropped += int64(sec)
		r.SetActiveAgents(10 * (sec + 1))
		now = now.Add(time.Second)
		iv := r.Rotate(now)
		if !iv.Start.Equal(now.Add(-time.Second)) || iv.Duration() != time.Second {
			t.Fatalf("interval %d: %v … %v", sec, iv.Start, iv.End)
		}
		if iv.Count() != secCount || !iv.All.Equals(secHist) {
			t.Fatalf("interval %d: count %d (want %d) or histogram differs", sec, iv.Count(), secCount)
		}
		if iv.Connections != int64(sec) || iv.Dropped != int64(sec) || iv.ActiveAgents != 10*(sec+1) {
			t.Errorf("interval %d: conns %d dropped %d active %d", sec, iv.Connections, iv.Dropped, iv.ActiveAgents)
		}
		if c := iv.Cell(1, 2); c.Dropped != int64(sec) || c.Step != 1 || c.Region != 2 {
			t.Errorf("interval %d: cell dropped %d", sec, c.Dropped)
		}
		var cellSum int64
		merged := NewHistogram()
		for _, c := range iv.Cells {
			cellSum += sumCounts(&c.Counts)
			if c.Latency != nil {
				c.Latency.MergeInto(merged)
				if c.Latency.StartTimeMs() != iv.Start.UnixMilli() || c.Latency.EndTimeMs() != now.UnixMilli() {
					t.Errorf("cell histogram times %d…%d", c.Latency.StartTimeMs(), c.Latency.EndTimeMs())
				}
			}
		}
		if cellSum != secCount || !merged.Equals(secHist) {
			t.Errorf("interval %d: cells don't sum to the interval", sec)
		}
		if iv.RPS() != float64(secCount) {
			t.Errorf("interval rps %v, want %v", iv.RPS(), secCount)
		}
		r.Release(iv)
	}
	// Some more, not rotated: Summary must include them.
	r.Record(0, 0, 0, 7*ms, OK, 0)
	counts[OK]++
	_ = all.RecordValue(7000)
	s := r.Summary(5 * time.Second)
	if s.Overall.Counts != counts || !s.Overall.Histogram.Equals(all) {
		t.Fatalf("totals differ from the sum of recorded data: %v vs %v", s.Overall.Counts, counts)
	}
	if s.Connections != conns || s.Dropped != dropped || s.Cell(1, 2).Dropped != dropped || s.PeakActiveAgents != 50 {
		t.Errorf("conns %d dropped %d peak %d", s.Connections, s.Dropped, s.PeakActiveAgents)
	}
	// The final rotation holds just the pending record.
	iv := r.Rotate(now.Add(300 * time.Millisecond))
	if iv.Count() != 1 || iv.All.TotalCount() != 1 || iv.Dropped != 0 || iv.Connections != 0 {
		t.Errorf("last interval count %d", iv.Count())
	}
	if s2 := r.Summary(5 * time.Second); !s2.Overall.Histogram.Equals(all) || s2.Overall.Counts != counts {
		t.Errorf("summary after final rotate differs")
	}
}

func TestConcurrentRecordingSumsExactly(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"a", "b"}, Regions: []string{"x", "y"}, Stripes: 4, Model: ModelClosed})
	const workers, per = 16, 3000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var rotated sync.WaitGroup
	rotated.Add(1)
	var ivCount, ivLat, ivCorr int64
	rotations := 0
	started := make(chan struct{})
	go func() { // rotate concurrently while recording
		defer rotated.Done()
		for i := 0; i < 100000; i++ { // back to back, so rotations overlap recording
			select {
			case <-stop:
				return
			default:
			}
			rotations++
			iv := r.Rotate(time.Now())
			ivCount += iv.Count()
			ivLat += iv.All.TotalCount()
			for _, c := range iv.Cells {
				if c.Corrected != nil {
					ivCorr += c.Corrected.TotalCount()
				}
			}
			r.Release(iv)
			if i == 0 {
				close(started)
			}
			if i%50 == 49 {
				_ = r.Summary(time.Second)
			}
		}
	}()
	<-started
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				o := OK
				if i%10 == 0 {
					o = ConnRefused
				}
				r.Record(w, i%2, (i/2)%2, time.Duration(i%50)*ms, o, 10*ms)
				if i%100 == 0 {
					r.AddConnections(1)
					r.RecordDropped(0, 1)
					runtime.Gosched() // let the rotator in between
				}
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	rotated.Wait()
	iv := r.Rotate(time.Now())
	ivCount += iv.Count()
	ivLat += iv.All.TotalCount()
	for _, c := range iv.Cells {
		if c.Corrected != nil {
			ivCorr += c.Corrected.TotalCount()
		}
	}
	s := r.Summary(time.Second)
	const n = workers * per
	t.Logf("%d rotations while recording", rotations)
	if s.Overall.Count != n || ivCount != n {
		t.Fatalf("count %d, intervals %d; want %d", s.Overall.Count, ivCount, n)
	}
	wantLat := int64(n - n/10)
	if s.Overall.Raw.Count != wantLat || ivLat != wantLat || s.Overall.Counts[ConnRefused] != n/10 {
		t.Errorf("latency count %d, intervals %d; want %d", s.Overall.Raw.Count, ivLat, wantLat)
	}
	// Per worker: latencies i%50 ms with interval 10 ms add fill-ins.
	var corr int64
	for i := 0; i < per; i++ {
		if i%10 != 0 {
			corr += int64(len(exactCorrected(int64(i%50)*1000, 10000)))
		}
	}
	if s.Overall.Corrected.Count != corr*workers || ivCorr != corr*workers {
		t.Errorf("corrected count %d, intervals %d; want %d", s.Overall.Corrected.Count, ivCorr, corr*workers)
	}
	if s.Connections != workers*per/100 || s.Dropped != workers*per/100 {
		t.Errorf("connections %d dropped %d", s.Connections, s.Dropped)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := NewRecorder(Options{Stripes: 2})
	r.Record(0, 0, 0, ms, OK, 10*ms)
	r.Record(1, 0, 0, ms, OK, 10*ms)
	allocs := testing.AllocsPerRun(1000, func() {
		r.Record(3, 0, 0, 25*ms, OK, 10*ms)
		r.Record(2, 0, 0, 3*ms, Timeout, 0)
		r.Record(2, 0, 0, 0, ConnReset, 0)
	})
	if allocs != 0 {
		t.Fatalf("Record allocates %v times per call", allocs)
	}
}

func TestRotateReusesHistograms(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"a", "b"}, Regions: []string{"x", "y"}, Stripes: 4, Model: ModelClosed})
	fill := func() {
		for i := 0; i < 100; i++ {
			r.Record(i/4, i%2, (i/2)%2, time.Duration(i)*ms, OK, 5*ms) // every stripe of every cell
		}
	}
	for i := 0; i < 3; i++ { // warm up: stripes, totals, spares and pool exist
		fill()
		r.Release(r.Rotate(time.Now()))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 20; i++ {
		fill()
		r.Release(r.Rotate(time.Now()))
	}
	runtime.ReadMemStats(&after)
	// A histogram is ~140 KB: 20 rotations must not allocate even one.
	if d := after.TotalAlloc - before.TotalAlloc; d > 100<<10 {
		t.Errorf("20 rotations allocated %d bytes: histograms are not reused", d)
	}
}
