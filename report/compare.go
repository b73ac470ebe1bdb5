package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// CompareRow is one figure of one step in a before/after comparison.
type CompareRow struct {
	// Step is the step name, "all", or "sessions" for the run's session
	// figures.
	Step string
	// Figure is "p50", "p90", "p99", "p99.9", "max", "under_100ms",
	// "rps" or "errors"; for the sessions "abandoned" (the share of the
	// ended sessions, rounded up to 2 decimals), "sales", "sales_value",
	// "lost_sales" and "lost_sales_value" (estimates, at the average sale;
	// values in the currency's major unit).
	Figure string
	// Unit is the figures' unit (ms for latencies).
	Unit Unit
	// Before and After are the figures; Has* false when the run has no
	// data for them.
	Before, After       float64
	HasBefore, HasAfter bool

	style  compareStyle // how the figures are formatted
	approx bool         // an estimate, written with "~"
}

// Change returns After - Before and the relative change (After/Before - 1,
// NaN when Before is 0).
func (r *CompareRow) Change() (float64, float64) {
	d := r.After - r.Before
	if r.Before == 0 {
		return d, math.NaN()
	}
	return d, r.After/r.Before - 1
}

// texts formats the row's before and after figures ("no data" without
// data) and the change ("" unless both have data; relative too, except for
// percentages, whose change is in points).
func (r *CompareRow) texts() (before, after, change string) {
	before, after = "no data", "no data"
	if r.HasBefore {
		before = r.format(r.Before)
	}
	if r.HasAfter {
		after = r.format(r.After)
	}
	if r.HasBefore && r.HasAfter {
		d, rel := r.Change()
		change = r.delta(d)
		if !math.IsNaN(rel) && r.Unit != UnitPercent {
			change += fmt.Sprintf(" (%+.1f%%)", 100*rel)
		}
	}
	return before, after, change
}

func compareFigures(st *Stats) []CompareRow {
	l := st.Judged()
	has := l.Count > 0
	rows := []CompareRow{
		{Figure: "p50", Unit: UnitDuration, Before: durMs(l.P50), HasBefore: has},
		{Figure: "p90", Unit: UnitDuration, Before: durMs(l.P90), HasBefore: has},
		{Figure: "p99", Unit: UnitDuration, Before: durMs(l.P99), HasBefore: has},
		{Figure: "p99.9", Unit: UnitDuration, Before: durMs(l.P999), HasBefore: has},
		{Figure: "max", Unit: UnitDuration, Before: durMs(l.Max), HasBefore: has},
		{Figure: "under_100ms", Unit: UnitPercent, Before: 100 * l.Compliance(), HasBefore: has},
		{Figure: "rps", Unit: UnitRate, Before: st.RPS, HasBefore: st.Count > 0},
		{Figure: "errors", Unit: UnitPercent, Before: st.ErrorPct, HasBefore: st.Count > 0},
	}
	for i := range rows {
		rows[i].Step = st.Name
	}
	return rows
}

// Compare returns every figure of every step (by name, the union of both
// runs' steps, then "all") side by side, then the sessions' figures when
// either run has session data. Latencies are the judged figures.
func Compare(before, after *Summary) []CompareRow {
	var out []CompareRow
	names := append([]string(nil), before.Steps...)
	for _, n := range after.Steps {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	find := func(s *Summary, name string) *Stats {
		for i := range s.PerStep {
			if s.PerStep[i].Name == name {
				return &s.PerStep[i]
			}
		}
		return nil
	}
	pair := func(b, a *Stats, name string) {
		var rb, ra []CompareRow
		if b != nil {
			rb = compareFigures(b)
		}
		if a != nil {
			ra = compareFigures(a)
		}
		n := max(len(rb), len(ra))
		for i := 0; i < n; i++ {
			var r CompareRow
			if rb != nil {
				r = rb[i]
			} else {
				r = ra[i]
				r.Before, r.HasBefore = 0, false
			}
			r.Step = name
			if ra != nil {
				r.After, r.HasAfter = ra[i].Before, ra[i].HasBefore
			}
			out = append(out, r)
		}
	}
	for _, n := range names {
		pair(find(before, n), find(after, n), n)
	}
	pair(&before.Overall, &after.Overall, "all")
	if !before.Overall.Sessions.IsZero() || !after.Overall.Sessions.IsZero() {
		rb, ra := compareSessions(before), compareSessions(after)
		for i := range rb {
			rb[i].After, rb[i].HasAfter = ra[i].Before, ra[i].HasBefore
		}
		out = append(out, rb...)
	}
	return out
}

// WriteCompare writes the comparison of two runs as a text table: for each
// step, each percentile before and after with the change.
func WriteCompare(w io.Writer, before, after *Summary, beforeName, afterName string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Comparing %s (before, %s, %s requests) with %s (after, %s, %s requests)\n",
		beforeName, FormatDuration(before.Elapsed), FormatCount(before.Overall.Count),
		afterName, FormatDuration(after.Elapsed), FormatCount(after.Overall.Count))
	fmt.Fprintf(bw, "Latencies: before %s, after %s.\n", before.figureName(&before.Overall), after.figureName(&after.Overall))
	rows := Compare(before, after)
	step := ""
	for i := range rows {
		r := &rows[i]
		if r.Step != step {
			step = r.Step
			fmt.Fprintf(bw, "\n%-18s %12s %12s %22s\n", step, "before", "after", "change")
		}
		b, a, ch := r.texts()
		fmt.Fprintf(bw, "  %-16s %12s %12s %22s\n", r.Figure, b, a, ch)
	}
	if step == compareSessionsStep {
		fmt.Fprintf(bw, "\n%s\n", compareSessionsNote)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}

// delta formats a change d of the row's figure, signed.
func (r *CompareRow) delta(d float64) string {
	sign := "+"
	if d < 0 {
		sign = "-"
		d = -d
	}
	switch {
	case r.style == styleMoney:
		return sign + formatMoney(int64(math.Round(d*100)))
	case r.Unit == UnitDuration:
		return sign + FormatDuration(msDuration(d))
	case r.Unit == UnitPercent:
		return sign + strconv.FormatFloat(d, 'f', 2, 64) + " pts"
	case r.Unit == UnitRate:
		return sign + formatRate(d) + "/s"
	case r.Unit == UnitCount && d == math.Trunc(d) && d < 1e15:
		return sign + FormatCount(int64(d))
	}
	return sign + strings.TrimSpace(strconv.FormatFloat(d, 'g', 6, 64))
}

// WriteCompareMarkdown writes the comparison as a markdown table per step,
// for a pull-request comment or $GITHUB_STEP_SUMMARY.
func WriteCompareMarkdown(w io.Writer, before, after *Summary, beforeName, afterName string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "### agentstorm: %s → %s\n\n", mdCell(beforeName), mdCell(afterName))
	fmt.Fprintf(bw, "| step | figure | before | after | change |\n|---|---|---:|---:|---:|\n")
	rows := Compare(before, after)
	for i := range rows {
		r := &rows[i]
		b, a, ch := r.texts()
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s |\n", mdCell(r.Step), r.Figure, mdCell(b), mdCell(a), mdCell(ch))
	}
	if len(rows) > 0 && rows[len(rows)-1].Step == compareSessionsStep {
		fmt.Fprintf(bw, "\n%s\n", compareSessionsNote)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	return nil
}
