package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/report"
)

// TestRunFlashDropScaled is the built-in flash drop, shrunk (300 shoppers
// in flight after 1 s, held 3 s, 100 ms between clicks so that sessions end
// and are replaced within the run) against the bundled target: its sessions
// in flight reach the level, almost none is dropped, and the summary is
// the checkout's (every step answered and timed; its order queue and the
// share of orders pre-ordered, from the shards' own counters, in the
// footnote, the JSON's figures and budgets).
func TestRunFlashDropScaled(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm against the bundled target")
	}
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // the shards are this test binary (see TestMain)
	js := filepath.Join(t.TempDir(), "flash.json")
	code, out, errOut := runIt(t, nil, "--profile", "flash-drop", "--agents", "300", "--duration", "4s", "--ramp", "1s", "--think", "100ms", "--out", "json="+js,
		"--budget", "orders_preorder_share <= 100%", "--budget", "order_queue_peak >= 0", "--budget", "machine_busy <= 100%")
	if code != exitOK && code != exitBudgetMissed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"stages (sessions in flight,", "Checkout: the bundled target's order queue", "hold pre-ordered units",
		"Machine: ", "the generator used", "the bundled target used"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var sum report.JSONReport
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	// The checkout's own figures, for the JSON and budgets.
	if share, ok := sum.Figures["orders_preorder_share"]; !ok || share < 0 || share > 100 {
		t.Errorf("figures %v: want orders_preorder_share in 0..100", sum.Figures)
	}
	if _, ok := sum.Figures["order_queue_peak"]; !ok {
		t.Errorf("figures %v: want order_queue_peak", sum.Figures)
	}
	// The machine's load over the run (Linux: this test process and its shards).
	if busy, ok := sum.Figures["machine_busy"]; !ok || busy <= 0 || busy > 100 {
		t.Errorf("figures %v: want machine_busy in (0, 100]", sum.Figures)
	}
	steps := map[string]int64{}
	for _, st := range sum.Steps {
		steps[st.Name] = st.Requests
	}
	started := steps["open_cart"]
	// Sessions of 5 to 7 requests 100 ms apart: each of the 300 agents
	// runs several in 4 s.
	if started < 600 {
		t.Fatalf("%d sessions answered their first step, want well over the 300 in flight (sessions replaced as they end):\n%s", started, out)
	}
	if sum.Dropped*100 > started+sum.Dropped {
		t.Errorf("%d of %d sessions dropped, want at most 1%%", sum.Dropped, started+sum.Dropped)
	}
	if sum.PeakActiveAgents < 285 || sum.PeakActiveAgents > 300 {
		t.Errorf("peak sessions in flight %d, want about 300", sum.PeakActiveAgents)
	}
	for _, name := range []string{"inventory", "add_to_cart", "checkout", "order_status"} {
		if steps[name] == 0 {
			t.Errorf("step %s never answered:\n%s", name, out)
		}
	}
}
