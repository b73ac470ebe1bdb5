package report

import (
	"testing"
	"time"
)

func TestRecorderGrows(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	r := NewRecorder(Options{Steps: []string{"a"}, Regions: []string{"eu"}, Stripes: 1, Start: start})
	r.Record(0, 0, 0, 5*time.Millisecond, OK, 0)
	iv := r.Rotate(start.Add(time.Second))
	if iv.Count() != 1 {
		t.Fatalf("first interval: %d requests, want 1", iv.Count())
	}
	r.Release(iv)
	b := r.AddStep("b", true)
	if b != 1 || r.AddStep("b", false) != 1 || r.AddStep("a", false) != 0 {
		t.Fatalf("AddStep ids: b=%d", b)
	}
	r.Record(0, 0, 0, 7*time.Millisecond, OK, 0) // pending in a stripe when regions grow
	us := r.AddRegion("us")
	if us != 1 || r.AddRegion("eu") != 0 {
		t.Fatalf("AddRegion id %d", us)
	}
	r.Record(0, b, us, 200*time.Millisecond, BadStatus, 0)
	r.RecordDropped(b, us)
	iv = r.Rotate(start.Add(2 * time.Second))
	if len(iv.Steps) != 2 || len(iv.Regions) != 2 || iv.Count() != 2 || iv.Dropped != 1 {
		t.Fatalf("second interval: steps %v regions %v count %d dropped %d", iv.Steps, iv.Regions, iv.Count(), iv.Dropped)
	}
	if c := iv.Cell(b, us); c == nil || c.Counts[BadStatus] != 1 || c.Latency == nil {
		t.Fatalf("cell b@us: %+v", c)
	}
	if c := iv.Cell(0, 0); c == nil || c.Counts[OK] != 1 {
		t.Fatalf("cell a@eu: %+v", c)
	}
	r.Release(iv)
	s := r.Summary(2 * time.Second)
	if s.Overall.Count != 3 || s.PerStep[0].Count != 2 || s.PerStep[1].Count != 1 || s.PerRegion[1].Dropped != 1 {
		t.Fatalf("summary: all %d, a %d, b %d, us dropped %d", s.Overall.Count, s.PerStep[0].Count, s.PerStep[1].Count, s.PerRegion[1].Dropped)
	}
	if !s.Writes[1] || s.Writes[0] {
		t.Fatalf("writes %v, want [false true]", s.Writes)
	}
	if got := s.PerStep[0].Raw.Max; got < 7*time.Millisecond || got > 7*time.Millisecond+10*time.Microsecond {
		t.Fatalf("step a max %s, want 7ms", got)
	}
}
