package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// FormatDuration formats a duration compactly with at most 3 significant
// digits and no trailing zeros: "0µs", "850µs", "1.23ms", "20ms", "123ms",
// "2.1s", "12.5s", "1m05s", "2h03m".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	num := func(v float64, prec int, unit string) string {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return s + unit
	}
	switch {
	case d < time.Millisecond:
		return strconv.FormatInt(int64(d/time.Microsecond), 10) + "µs"
	case d < 10*time.Millisecond:
		return num(float64(d)/1e6, 2, "ms")
	case d < 100*time.Millisecond:
		return num(float64(d)/1e6, 1, "ms")
	case d < time.Second-500*time.Microsecond:
		return num(float64(d)/1e6, 0, "ms")
	case d < 10*time.Second:
		return num(float64(d)/1e9, 2, "s")
	case d < time.Minute:
		return num(float64(d)/1e9, 1, "s")
	case d < time.Hour:
		s := int64(d.Round(time.Second) / time.Second)
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	m := int64(d.Round(time.Minute) / time.Minute)
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}

// formatPct formats a share (0…1) as a percentage that does not round a
// miss up to 100%: 0.99996 is "99.99%", not "100.00%".
func formatPct(share float64) string {
	if share >= 1 {
		return "100%"
	}
	v := float64(int64(share*10000)) / 100 // truncate to 2 decimals
	return strconv.FormatFloat(v, 'f', 2, 64) + "%"
}

// FormatCount writes n with thousands separators: 1234567 -> "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatErrPct formats errors as a percentage of n; a non-zero share too
// small to show is "<0.01%", never "0.00%".
func formatErrPct(errors, n int64) string {
	if n <= 0 || errors <= 0 {
		return "0.00%"
	}
	p := 100 * float64(errors) / float64(n)
	if p < 0.01 {
		return "<0.01%"
	}
	return strconv.FormatFloat(p, 'f', 2, 64) + "%"
}

func formatRate(r float64) string {
	if r >= 100 {
		return FormatCount(int64(r + 0.5))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// WriteText writes s as a readable text summary: the sub-100 ms compliance
// headline first, then tables per step, per region (and per step × region
// when there are several regions), errors by class, connections, dropped
// sessions, and the coordinated-omission note saying which figure is which.
func WriteText(w io.Writer, s *Summary) error {
	if s == nil {
		return fmt.Errorf("write text summary: nil summary")
	}
	bw := bufio.NewWriter(w)
	closedCorrected := s.Overall.Corrected != nil

	// Headline.
	fmt.Fprintf(bw, "agentstorm summary: %s model, %s elapsed, %s requests (%s req/s)\n",
		s.Model, FormatDuration(s.Elapsed), FormatCount(s.Overall.Count), formatRate(s.Overall.RPS))
	switch s.Status() {
	case StatusFailed:
		fmt.Fprintf(bw, "RUN FAILED: %s. Do not judge the target by the figures below.\n", s.StatusReason())
	case StatusInterrupted:
		fmt.Fprintf(bw, "RUN INTERRUPTED: %s. The figures below cover only what was recorded until then.\n", s.StatusReason())
	}
	writeSessionsHeadline(bw, s)
	o := &s.Overall
	if o.Raw.Count == 0 {
		fmt.Fprintf(bw, "Sub-100 ms compliance: no answers recorded\n")
	} else {
		switch {
		case s.Model == ModelOpen:
			fmt.Fprintf(bw, "Sub-100 ms compliance: %s of %s answers within 100 ms (from intended start)\n",
				formatPct(o.Raw.Compliance()), FormatCount(o.Raw.Count))
		case closedCorrected && o.Raw.Compliance() < o.Corrected.Compliance():
			fmt.Fprintf(bw, "Sub-100 ms compliance: %s of %s answers within 100 ms, raw (the correction for coordinated omission gives %s, kinder, so it is not judged)\n",
				formatPct(o.Raw.Compliance()), FormatCount(o.Raw.Count), formatPct(o.Corrected.Compliance()))
		case closedCorrected:
			fmt.Fprintf(bw, "Sub-100 ms compliance: %s of answers within 100 ms, corrected for coordinated omission (raw: %s of %s answers)\n",
				formatPct(o.Corrected.Compliance()), formatPct(o.Raw.Compliance()), FormatCount(o.Raw.Count))
		default:
			fmt.Fprintf(bw, "Sub-100 ms compliance: %s of %s answers within 100 ms (raw, not corrected)\n",
				formatPct(o.Raw.Compliance()), FormatCount(o.Raw.Count))
		}
		if worst, isWrite := s.WorstWriteStep(); worst != nil {
			label := "Worst write step"
			if !isWrite {
				label = "Worst step"
			}
			lat := worst.Judged()
			which := ""
			if worst.Corrected != nil {
				which = "corrected "
				if lat.P99 != worst.Corrected.P99 {
					which = "raw "
				}
			}
			fmt.Fprintf(bw, "%s: %s, %s within 100 ms, %sp99 %s, errors %s\n",
				label, worst.Name, formatPct(lat.Compliance()), which, FormatDuration(lat.P99),
				formatErrPct(worst.Errors, worst.Count))
		}
	}

	// Tables.
	rawTitle := "latency from send"
	if s.Model == ModelOpen {
		rawTitle = "latency from intended start"
	}
	writeTable(bw, "Per step ("+rawTitle+")", s.PerStep, false)
	writeTable(bw, "Per region ("+rawTitle+")", s.PerRegion, false)
	if len(s.Regions) > 1 && len(s.Steps) > 1 {
		var cells []Stats // only the cells that saw requests
		for _, c := range s.Cells {
			if c.Count > 0 || c.Dropped > 0 {
				cells = append(cells, c)
			}
		}
		writeTable(bw, "Per step × region ("+rawTitle+")", cells, false)
	}
	writeTable(bw, "All", []Stats{s.Overall}, false)
	if closedCorrected {
		writeTable(bw, "Per step (corrected for coordinated omission)", s.PerStep, true)
		writeTable(bw, "Per region (corrected for coordinated omission)", s.PerRegion, true)
		writeTable(bw, "All (corrected)", []Stats{s.Overall}, true)
	}

	// Errors, connections, dropped.
	fmt.Fprintf(bw, "\nErrors: %s of %s requests (%s)", FormatCount(o.Errors), FormatCount(o.Count),
		formatErrPct(o.Errors, o.Count))
	if o.Errors > 0 {
		var parts []string
		for k := 1; k < NumOutcomes; k++ {
			if o.Counts[k] > 0 {
				parts = append(parts, Outcome(k).String()+" "+FormatCount(o.Counts[k]))
			}
		}
		fmt.Fprintf(bw, ": %s", strings.Join(parts, ", "))
	}
	fmt.Fprintf(bw, "\nConnections opened: %s\n", FormatCount(s.Connections))
	if s.Redirects > 0 {
		fmt.Fprintf(bw, "Redirects followed: %s (each hop timed as part of its step)\n", FormatCount(s.Redirects))
	}
	fmt.Fprintf(bw, "Dropped sessions: %s", FormatCount(s.Dropped))
	if s.Model == ModelOpen && s.Dropped > 0 {
		fmt.Fprintf(bw, " (no idle agent when due: raise the agent maximum or lower the rate)")
	}
	fmt.Fprintln(bw)
	if s.PeakActiveAgents > 0 {
		fmt.Fprintf(bw, "Peak active agents: %s\n", FormatCount(int64(s.PeakActiveAgents)))
	}
	if s.Clamped > 0 {
		fmt.Fprintf(bw, "Clamped latencies: %s outside 0 … 60 s, recorded as 60 s (or 0)\n", FormatCount(s.Clamped))
	}
	if s.Invalid > 0 {
		fmt.Fprintf(bw, "Invalid records: %s with an unknown step or region (not counted above)\n", FormatCount(s.Invalid))
	}

	// Coordinated-omission note.
	fmt.Fprintln(bw)
	switch {
	case s.Model == ModelOpen:
		fmt.Fprintln(bw, "Latency note: open model. Every latency runs from the request's intended (scheduled)")
		fmt.Fprintln(bw, "start, not from when it was sent, so time spent waiting behind a slow target is counted:")
		fmt.Fprintln(bw, "these figures are already corrected for coordinated omission (as wrk2).")
	case closedCorrected:
		fmt.Fprintf(bw, "Latency note: closed model. \"Raw\" latency runs from the send and hides stalls (each agent\n")
		fmt.Fprintf(bw, "waits, so it sends fewer requests while the target is slow: coordinated omission).\n")
		fmt.Fprintf(bw, "\"Corrected\" adds the requests a steady agent would have sent during each stall\n")
		fmt.Fprintf(bw, "(HdrHistogram's RecordCorrectedValue, expected interval: the agent's planned pace, mean %s).\n",
			FormatDuration(s.Overall.MeanExpectedInterval))
		fmt.Fprintf(bw, "Judge the target by the corrected figures.\n")
	default:
		fmt.Fprintln(bw, "Latency note: closed model, raw latency from the send, not corrected for coordinated")
		fmt.Fprintln(bw, "omission (no expected interval was given): stalls are under-represented.")
	}
	fmt.Fprintln(bw, "Within 100 ms: judged at the histogram's 3-digit precision (values up to 100.031 ms count).")
	if s.Aborted != nil {
		fmt.Fprintf(bw, "\nRun aborted: %s\n", s.Aborted)
	}
	writeSections(bw, s)
	writeBudgetTable(bw, s)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write text summary: %w", err)
	}
	return nil
}

func writeTable(w io.Writer, title string, rows []Stats, corrected bool) {
	nameW := 10
	for i := range rows {
		nameW = max(nameW, len([]rune(rows[i].Name)))
	}
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "  %-*s %12s %10s %7s %8s %8s %8s %8s %8s %8s\n", nameW, "", "count", "req/s", "err",
		"p50", "p90", "p99", "p99.9", "max", "<=100ms")
	for i := range rows {
		st := &rows[i]
		lat := &st.Raw
		if corrected {
			if st.Corrected == nil {
				continue
			}
			lat = st.Corrected
		}
		cols := [6]string{"-", "-", "-", "-", "-", "-"} // no latencies: no figures
		if lat.Count > 0 {
			cols = [6]string{FormatDuration(lat.P50), FormatDuration(lat.P90), FormatDuration(lat.P99),
				FormatDuration(lat.P999), FormatDuration(lat.Max), formatPct(lat.Compliance())}
		}
		pad := nameW - len([]rune(st.Name))
		fmt.Fprintf(w, "  %s%s %12s %10s %7s %8s %8s %8s %8s %8s %8s\n", st.Name, strings.Repeat(" ", pad),
			FormatCount(st.Count), formatRate(st.RPS), formatErrPct(st.Errors, st.Count),
			cols[0], cols[1], cols[2], cols[3], cols[4], cols[5])
	}
}

// LiveLine returns the one-line progress report for an interval: elapsed /
// planned, active agents, req/s, p50 and p99 of the interval, the share of
// answers within 100 ms and the errors. It has no newline: the caller
// redraws it in place on a terminal (with "\r") or prints it every few
// seconds in CI. planned <= 0 leaves out the planned duration; iv may be
// nil (nothing measured yet).
func LiveLine(iv *Interval, elapsed, planned time.Duration, activeAgents int) string {
	var b strings.Builder
	b.WriteString(formatClock(elapsed))
	if planned > 0 {
		b.WriteByte('/')
		b.WriteString(formatClock(planned))
	}
	fmt.Fprintf(&b, "  agents %s", FormatCount(int64(activeAgents)))
	if iv == nil {
		return b.String()
	}
	fmt.Fprintf(&b, "  %s req/s", formatRate(iv.RPS()))
	if iv.All != nil && iv.All.TotalCount() > 0 {
		us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
		fmt.Fprintf(&b, "  p50 %s  p99 %s  <=100ms %s",
			FormatDuration(us(ValueAtPercentile(iv.All, 50))), FormatDuration(us(ValueAtPercentile(iv.All, 99))),
			formatPct(float64(iv.Under)/float64(iv.All.TotalCount())))
	} else {
		b.WriteString("  p50 -  p99 -  <=100ms -")
	}
	n := iv.Count()
	errs := iv.Errors()
	if n > 0 {
		fmt.Fprintf(&b, "  errors %s (%s)", FormatCount(errs), formatErrPct(errs, n))
	} else {
		b.WriteString("  errors 0")
	}
	if iv.Dropped > 0 {
		fmt.Fprintf(&b, "  dropped %s", FormatCount(iv.Dropped))
	}
	return b.String()
}

// formatClock formats a run time as m:ss (or h:mm:ss).
func formatClock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s < 0 {
		s = 0
	}
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// writeBudgetTable writes the budget table (expression, actual, limit,
// verdict) and a line saying whether every budget was met.
func writeBudgetTable(w io.Writer, s *Summary) {
	results := s.Budgets
	if len(results) == 0 {
		return
	}
	note := "raw latencies"
	switch {
	case s.Model == ModelOpen:
		note = "latencies from each request's intended start"
	case s.Overall.Corrected != nil:
		note = "latencies corrected for coordinated omission"
	}
	exprW, actW, limW := len("budget"), len("actual"), len("limit")
	for i := range results {
		r := &results[i]
		exprW = max(exprW, len([]rune(r.Expr)))
		actW = max(actW, len([]rune(r.ActualText())))
		limW = max(limW, len([]rune(r.LimitText())))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", max(n-len([]rune(s)), 0)) }
	fmt.Fprintf(w, "\nBudgets (judged on the totals; %s)\n", note)
	fmt.Fprintf(w, "  %s  %s  %s  %s\n", pad("budget", exprW), pad("actual", actW), pad("limit", limW), "verdict")
	for i := range results {
		r := &results[i]
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", pad(r.Expr, exprW), pad(r.ActualText(), actW), pad(r.LimitText(), limW), r.VerdictText())
	}
	if missed := budgetsMissed(results); missed == 0 {
		fmt.Fprintf(w, "All %d budgets met.\n", len(results))
	} else {
		fmt.Fprintf(w, "%d of %d budgets MISSED.\n", missed, len(results))
	}
}
