package report

import (
	"io"
	"strings"
	"testing"
)

// compareRow returns the row of step and figure, or fails.
func compareRow(t *testing.T, rows []CompareRow, step, figure string) *CompareRow {
	t.Helper()
	for i := range rows {
		if rows[i].Step == step && rows[i].Figure == figure {
			return &rows[i]
		}
	}
	t.Fatalf("no %s %s row", step, figure)
	return nil
}

// TestCompareSessions: the comparison carries the run's abandoned share
// (rounded up, as the tables), sales and lost sales in count and value,
// with their change, in text and markdown.
func TestCompareSessions(t *testing.T) {
	before := withSessions(fullSummary(t))
	after := withSessions(fullSummary(t))
	o := &after.Overall.Sessions
	o.Abandoned[AbandonSlow] -= 100 // 77 of 1,683: 4.575…%, 4.58% rounded up
	o.Lost = 27

	rows := Compare(before, after)
	for _, c := range []struct {
		figure                string
		before, after, change string
		wantBefore, wantAfter float64
	}{
		{"abandoned", "9.93%", "4.58%", "-5.35 pts", 9.93, 4.58},
		{"sales", "1,650", "1,650", "+0 (+0.0%)", 1650, 1650},
		{"sales_value", "82,483.50", "82,483.50", "+0.00 (+0.0%)", 82483.50, 82483.50},
		{"lost_sales", "~127", "~27", "-100 (-78.7%)", 127, 27},
		{"lost_sales_value", "~6,348.73", "~1,349.73", "-4,999.00 (-78.7%)", 6348.73, 1349.73},
	} {
		r := compareRow(t, rows, "sessions", c.figure)
		b, a, ch := r.texts()
		if b != c.before || a != c.after || ch != c.change || r.Before != c.wantBefore || r.After != c.wantAfter {
			t.Errorf("%s: %q %q %q (%v, %v), want %q %q %q (%v, %v)", c.figure, b, a, ch, r.Before, r.After,
				c.before, c.after, c.change, c.wantBefore, c.wantAfter)
		}
	}
	txt := written(t, func(w io.Writer, s *Summary) error { return WriteCompare(w, before, s, "a.hlog", "b.hlog") }, after)
	md := written(t, func(w io.Writer, s *Summary) error { return WriteCompareMarkdown(w, before, s, "a.hlog", "b.hlog") }, after)
	for _, want := range []string{"\nsessions ", "  abandoned               9.93%        4.58%              -5.35 pts\n", "  lost_sales_value    ~6,348.73    ~1,349.73     -4,999.00 (-78.7%)\n", "~ lost sales are estimates"} {
		if !strings.Contains(txt, want) {
			t.Errorf("text compare lacks %q:\n%s", want, txt)
		}
	}
	for _, want := range []string{"| sessions | abandoned | 9.93% | 4.58% | -5.35 pts |", "| sessions | lost_sales | ~127 | ~27 | -100 (-78.7%) |",
		"| sessions | sales_value | 82,483.50 | 82,483.50 | +0.00 (+0.0%) |", "~ lost sales are estimates"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown compare lacks %q:\n%s", want, md)
		}
	}
}

// TestCompareSessionsNoData: a run without session data (an older log)
// and a k6 run (no patience: abandonment not measured) say "no data",
// never 0; two runs without sessions have no session rows.
func TestCompareSessionsNoData(t *testing.T) {
	with, without := withSessions(fullSummary(t)), fullSummary(t)
	md := written(t, func(w io.Writer, s *Summary) error { return WriteCompareMarkdown(w, s, with, "old.hlog", "new.hlog") }, without)
	for _, want := range []string{"| sessions | abandoned | no data | 9.93% |  |", "| sessions | sales | no data | 1,650 |  |",
		"| sessions | lost_sales_value | no data | ~6,348.73 |  |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown compare with an older log lacks %q:\n%s", want, md)
		}
	}
	if rows := Compare(without, fullSummary(t)); rows[len(rows)-1].Step == "sessions" {
		t.Errorf("runs without sessions compare sessions: %+v", rows[len(rows)-1])
	}

	k6 := withSessions(fullSummary(t))
	k6.Meta = map[string]string{"source": "k6", MetaSaleSteps: "checkout"}
	rows := Compare(with, k6)
	for fig, has := range map[string]bool{"abandoned": false, "sales": true, "sales_value": true, "lost_sales": false, "lost_sales_value": false} {
		r := compareRow(t, rows, "sessions", fig)
		if _, a, _ := r.texts(); r.HasAfter != has || (!has && a != "no data") {
			t.Errorf("k6 run's %s: after %q (has %v), want has %v", fig, a, r.HasAfter, has)
		}
	}
	delete(k6.Meta, MetaSaleSteps)
	k6.Overall.Sessions.Sales, k6.Overall.Sessions.SalesValue = 0, 0
	if r := compareRow(t, Compare(with, k6), "sessions", "sales"); r.HasAfter {
		t.Errorf("k6 run without --sale-step: sales %+v, want no data", r)
	}
}
