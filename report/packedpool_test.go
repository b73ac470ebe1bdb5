package report

import (
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestPackedPool: a histogram given back comes out again empty; one of
// another geometry, or beyond the limit, is not kept.
func TestPackedPool(t *testing.T) {
	p := NewPackedPool(1)
	h := p.Get()
	if h.TotalCount() != 0 || h.HighestTrackableValue() != HighestValue {
		t.Fatalf("a new histogram: count %d, highest %d", h.TotalCount(), h.HighestTrackableValue())
	}
	_ = h.RecordValue(1234)
	h.SetTag("x")
	p.Put(h)
	p.Put(p.Get() /* a second one, beyond the limit once h is back */)
	got := p.Get()
	if got != h {
		t.Fatal("the histogram given back was not reused")
	}
	if got.TotalCount() != 0 || got.Tag() != "" {
		t.Fatalf("a reused histogram holds count %d, tag %q", got.TotalCount(), got.Tag())
	}
	if p.Get() == h {
		t.Fatal("one histogram came out twice")
	}
	foreign := hdr.NewPacked(1, 1000, 2)
	p.Put(foreign)
	if p.Get() == foreign {
		t.Fatal("a histogram of another geometry was kept")
	}
}
