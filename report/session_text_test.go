package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestSessionsHeadline: the text summary leads with what the agents
// skipped, by reason and step, the sales and the lost sales, and the
// abandonment per region; a run without session data has no such line.
func TestSessionsHeadline(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"}})
	r.Record(0, 0, 0, 20*time.Millisecond, OK, 0)
	var plain bytes.Buffer
	if err := WriteText(&plain, r.Summary(time.Second)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "skipped") || strings.Contains(plain.String(), "sales") {
		t.Fatalf("a run without sessions talks about them:\n%s", plain.String())
	}
	// 1,000 sessions: 91 abandoned slow at add_to_cart, 33 slow at
	// checkout, 1 on timeout at checkout (all lost), 875 completed with a
	// sale of 85.00.
	rec := func(n, step, region int, end SessionEnd, reason AbandonReason) {
		for i := 0; i < n; i++ {
			r.RecordSession(step, region, end, reason, end == SessionAbandoned)
		}
	}
	rec(81, 0, 1, SessionAbandoned, AbandonSlow)
	rec(10, 0, 0, SessionAbandoned, AbandonSlow)
	rec(33, 1, 1, SessionAbandoned, AbandonSlow)
	rec(1, 1, 0, SessionAbandoned, AbandonTimeout)
	rec(875, 1, 0, SessionCompleted, 0)
	for i := 0; i < 875; i++ {
		r.RecordSale(1, 0, 8500)
	}
	var out bytes.Buffer
	if err := WriteText(&out, r.Summary(time.Second)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	want := "Agents skipped you: 12.5% of 1,000 sessions abandoned (slow add_to_cart 9.1%, slow checkout 3.3%, timeout checkout 0.1%); 875 sales completed (74,375.00), ~125 lost (~10,625.00 at the average sale)"
	if lines[1] != want {
		t.Errorf("line 2:\n%s\nwant\n%s", lines[1], want)
	}
	if want := "Abandoned by region: us-east 1.3% of 886, ap-tokyo 100.0% of 114"; lines[2] != want {
		t.Errorf("line 3:\n%s\nwant\n%s", lines[2], want)
	}
	if !strings.HasPrefix(lines[3], "Sub-100 ms compliance") {
		t.Errorf("line 4 %q: the compliance follows", lines[3])
	}
}

func TestSharePctRoundsUp(t *testing.T) {
	for _, c := range []struct {
		n, total int64
		want     string
	}{{1, 10000, "0.1%"}, {124, 1000, "12.4%"}, {1241, 10000, "12.5%"}, {0, 5, "0.0%"}, {5, 5, "100.0%"}} {
		if got := SharePct(c.n, c.total); got != c.want {
			t.Errorf("SharePct(%d, %d) = %s, want %s", c.n, c.total, got, c.want)
		}
	}
}
