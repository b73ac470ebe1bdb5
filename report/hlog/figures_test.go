package hlog

import (
	"maps"
	"testing"
)

// TestFigureSum: counts add up; a share is the largest of the logs' and
// has no data when any log lacks it (unmeasured, or cut short).
func TestFigureSum(t *testing.T) {
	shares := map[string]bool{"machine_busy": true}
	f := figureSum{shares: shares}
	f.add(map[string]float64{"lost_orders": 2, "machine_busy": 50})
	f.add(map[string]float64{"lost_orders": 3, "machine_busy": 90})
	f.add(map[string]float64{"lost_orders": 1, "machine_busy": 60})
	if got, want := f.result(), map[string]float64{"lost_orders": 6, "machine_busy": 90}; !maps.Equal(got, want) {
		t.Errorf("three measured logs: %v, want %v", got, want)
	}
	g := figureSum{shares: shares}
	g.add(map[string]float64{"lost_orders": 2, "machine_busy": 50})
	g.add(map[string]float64{"lost_orders": 1}) // this machine was not measured
	g.add(nil)                                  // a log cut short before its end line
	if got, want := g.result(), map[string]float64{"lost_orders": 3}; !maps.Equal(got, want) {
		t.Errorf("one log without machine_busy: %v, want %v (no data, not the measured part's 50)", got, want)
	}
	// A result taken midway changes nothing: more logs still combine.
	h := figureSum{shares: shares}
	h.add(map[string]float64{"lost_orders": 2, "machine_busy": 50})
	h.add(map[string]float64{"lost_orders": 1})
	mid := h.result()
	mid["lost_orders"] = 100 // the caller's copy
	h.add(map[string]float64{"lost_orders": 1, "machine_busy": 70})
	if got, want := h.result(), map[string]float64{"lost_orders": 4}; !maps.Equal(got, want) {
		t.Errorf("after a result midway: %v, want %v", got, want)
	}
	var none figureSum
	none.add(nil)
	if got := none.result(); got != nil {
		t.Errorf("no figures: %v, want nil", got)
	}
}
