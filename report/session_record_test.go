package report

import (
	"testing"
	"time"
)

// TestRecordSessionsAndSales: session ends and sales land in their cell's
// interval, the interval's total, the summary's slices (before and after
// Rotate) and the series point, and add up exactly.
func TestRecordSessionsAndSales(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	r := NewRecorder(Options{Steps: []string{"cart", "checkout"}, Regions: []string{"eu", "us"}, Start: start})
	r.RecordSession(0, 1, SessionAbandoned, AbandonSlow, true)
	r.RecordSession(0, 1, SessionAbandoned, AbandonTimeout, false)
	r.RecordSession(1, 0, SessionCompleted, AbandonSlow, true) // reason and lost ignored
	r.RecordSession(1, 1, SessionFailed, AbandonSlow, false)
	r.RecordSale(1, 0, 8500)
	r.RecordSession(2, 0, SessionCompleted, 0, false) // out of range
	r.RecordSale(0, 2, 1)                             // out of range

	// Before any Rotate, the summary already counts them.
	pre := r.Summary(time.Second)
	if got := pre.Overall.Sessions; got.Ended() != 4 || got.Sales != 1 {
		t.Fatalf("summary before rotate: %+v", got)
	}
	iv := r.Rotate(start.Add(time.Second))
	c := iv.Cell(0, 1).Sessions
	if c.Abandoned[AbandonSlow] != 1 || c.Abandoned[AbandonTimeout] != 1 || c.Lost != 1 || c.Ended() != 2 {
		t.Errorf("cart @ us: %+v", c)
	}
	if c := iv.Cell(1, 0).Sessions; c.Completed != 1 || c.Lost != 0 || c.Sales != 1 || c.SalesValue != 8500 {
		t.Errorf("checkout @ eu: %+v", c)
	}
	want := Sessions{Completed: 1, Failed: 1, Lost: 1, Sales: 1, SalesValue: 8500}
	want.Abandoned[AbandonSlow], want.Abandoned[AbandonTimeout] = 1, 1
	if iv.Sessions != want {
		t.Errorf("interval sessions %+v, want %+v", iv.Sessions, want)
	}
	if p := PointOf(iv, start); p.Sessions != want {
		t.Errorf("series point sessions %+v, want %+v", p.Sessions, want)
	}
	r.Release(iv)
	r.RecordSession(1, 0, SessionCompleted, 0, false)
	iv = r.Rotate(start.Add(2 * time.Second))
	if iv.Sessions.Completed != 1 || iv.Sessions.Ended() != 1 {
		t.Errorf("second interval: %+v, want only the one new session", iv.Sessions)
	}
	r.Release(iv)
	s := r.Summary(2 * time.Second)
	want.Completed++
	if s.Overall.Sessions != want {
		t.Errorf("overall %+v, want %+v", s.Overall.Sessions, want)
	}
	if s.PerStep[0].Sessions.AbandonedTotal() != 2 || s.PerStep[1].Sessions.Completed != 2 || s.PerRegion[1].Sessions.Ended() != 3 ||
		s.Cell(1, 1).Sessions.Failed != 1 {
		t.Errorf("slices: steps %+v %+v, us %+v", s.PerStep[0].Sessions, s.PerStep[1].Sessions, s.PerRegion[1].Sessions)
	}
	if s.Invalid != 2 {
		t.Errorf("invalid %d, want the 2 out-of-range calls", s.Invalid)
	}
}

// TestMergeIntervalKeepsSessions: an interval merged from elsewhere (a
// worker's, a log's) brings its session counts along.
func TestMergeIntervalKeepsSessions(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	opts := Options{Steps: []string{"cart"}, Regions: []string{"eu"}, Start: start}
	a, b := NewRecorder(opts), NewRecorder(opts)
	a.RecordSession(0, 0, SessionAbandoned, AbandonError, true)
	a.RecordSale(0, 0, 10)
	iv := a.Rotate(start.Add(time.Second))
	b.MergeInterval(iv)
	b.MergeInterval(iv)
	got := b.Rotate(start.Add(time.Second)).Sessions
	if got.Abandoned[AbandonError] != 2 || got.Lost != 2 || got.Sales != 2 || got.SalesValue != 20 {
		t.Errorf("merged twice: %+v", got)
	}
}
