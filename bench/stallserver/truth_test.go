package main

import (
	"math"
	"testing"
	"time"
)

// synthetic builds a 10 s log with a 1 s stall from 3 s to 4 s: outside the
// stall a request every gap is answered 50 µs later. closed: nothing arrives
// during the stall; open: requests keep arriving and are all answered at 4 s.
func synthetic(gap time.Duration, closed bool) ([]entry, int64, int64) {
	const s = int64(time.Second)
	st, end := 3*s, 4*s
	var log []entry
	for a := int64(0); a <= 10*s; a += int64(gap) {
		switch {
		case a >= st && a < end && closed:
			continue
		case a >= st && a < end:
			log = append(log, entry{a, end + 50_000})
		default:
			log = append(log, entry{a, a + 50_000})
		}
	}
	return log, st, end
}

func TestTruthStall(t *testing.T) {
	for _, closed := range []bool{true, false} {
		log, st, end := synthetic(100*time.Microsecond, closed)
		tr := computeTruth(log, 1000, st, end)
		// 1,000 of 10,001 scheduled sends fall in the stall, waiting 1 s down to 0:
		// the 1% slowest waited more than ~0.9 s.
		if math.Abs(tr.True.P99-900) > 5 {
			t.Errorf("closed=%v: true p99 = %.3f ms, want ~900", closed, tr.True.P99)
		}
		if tr.True.P50 > 0.2 {
			t.Errorf("closed=%v: true p50 = %.3f ms, want ~0.05", closed, tr.True.P50)
		}
		if tr.True.Max < 999 || tr.True.Max > 1001 {
			t.Errorf("closed=%v: true max = %.3f ms, want ~1000", closed, tr.True.Max)
		}
		if tr.Scheduled != 10001 {
			t.Errorf("closed=%v: scheduled = %d, want 10001", closed, tr.Scheduled)
		}
		if tr.StallFrom != 3 || tr.StallTo != 4 {
			t.Errorf("closed=%v: stall %v..%v, want 3..4", closed, tr.StallFrom, tr.StallTo)
		}
	}
	// The closed client's own view: service times hide the stall.
	log, st, end := synthetic(100*time.Microsecond, true)
	if tr := computeTruth(log, 1000, st, end); tr.Service.P99 > 0.051 {
		t.Errorf("service p99 of a closed client = %.3f ms, want 0.05", tr.Service.P99)
	}
}

func TestTruthEmpty(t *testing.T) {
	if tr := computeTruth(nil, 1000, 0, 0); tr.Count != 0 || tr.Scheduled != 0 {
		t.Errorf("empty log: %+v", tr)
	}
}
