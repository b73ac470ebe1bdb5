package report

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// What the output writers (JSON, JUnit, markdown, HTML) show of session
// outcomes, and how they share them out.

// sessionsShown reports whether the run has session outcomes to show: runs
// without patience or sale steps (and k6 ingests without iterations) end
// no session, and their outputs stay as they were.
func (s *Summary) sessionsShown() bool { return !s.Overall.Sessions.IsZero() }

// sessionBase returns the sessions a slice's abandoned sessions are a share
// of: the sessions of the regions the slice covers. A session is counted
// at the step it ended at, so a step's own sessions are no base (at a
// middle step every one of them is abandoned); its abandoned sessions are
// a share of the run's, which add up over the steps to the run's share. A
// region's (and a step × region cell's) are a share of that region's.
func (s *Summary) sessionBase(st *Stats) int64 {
	if st.Region >= 0 && st.Region < len(s.PerRegion) {
		return s.PerRegion[st.Region].Sessions.Ended()
	}
	return s.Overall.Sessions.Ended()
}

// abandonedShare returns st's abandoned sessions as a share (0…1) of its
// base (sessionBase), 0 when there is none.
func (s *Summary) abandonedShare(st *Stats) float64 {
	return shareOf(st.Sessions.AbandonedTotal(), s.sessionBase(st))
}

// abandonedPct formats n of base as a percentage with two decimals,
// rounded up as the headline's are (shareUpPct).
func abandonedPct(n, base int64) string {
	return strconv.FormatFloat(shareUpPct(n, base), 'f', 2, 64) + "%"
}

// shareUpPct returns n of base as a percentage rounded up to two decimals,
// so that a loss never reads smaller than it was (0.001% is 0.01), 0
// without a base.
func shareUpPct(n, base int64) float64 {
	if base <= 0 || n <= 0 {
		return 0
	}
	return math.Ceil(10000*float64(n)/float64(base)-1e-9) / 100
}

func shareOf(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// abandonReasons formats the abandoned sessions by reason, the reasons
// with none left out: "slow 120, timeout 3" ("" when none).
func abandonReasons(ss *Sessions) string {
	var parts []string
	for r, n := range ss.Abandoned {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", AbandonReason(r), FormatCount(n)))
		}
	}
	return strings.Join(parts, ", ")
}

// sessionRow is one row of the sessions tables (markdown, HTML).
type sessionRow struct {
	Name                                   string
	Completed, Failed                      string
	Abandoned, Share, Slow, Error, Timeout string
	Sales, Lost, Value                     string
	// Bad marks an abandoned share of 1% or more; All the run's row.
	Bad, All bool
}

// sessionTable is a sessions table: per step or per region.
type sessionTable struct {
	ID, Head string
	Rows     []sessionRow
}

// sessionTables returns the sessions tables: per step, and per region
// when there are several.
func (s *Summary) sessionTables() []sessionTable {
	t := []sessionTable{{ID: "steps", Head: "step", Rows: s.sessionRows(s.PerStep)}}
	if len(s.PerRegion) > 1 {
		t = append(t, sessionTable{ID: "regions", Head: "region", Rows: s.sessionRows(s.PerRegion)})
	}
	return t
}

// sessionRows returns the rows of the sessions table of rows (the steps or
// the regions) and the run's, last, leaving out slices without sessions
// or sales.
func (s *Summary) sessionRows(rows []Stats) []sessionRow {
	u := s.SessionsUnmeasured()
	out := make([]sessionRow, 0, len(rows)+1)
	for i := 0; i <= len(rows); i++ {
		st := &s.Overall
		if i < len(rows) {
			st = &rows[i]
		}
		ss := &st.Sessions
		if ss.IsZero() {
			continue
		}
		share := s.abandonedShare(st)
		r := sessionRow{Name: st.Name, Completed: FormatCount(ss.Completed), Failed: FormatCount(ss.Failed),
			Abandoned: FormatCount(ss.AbandonedTotal()), Share: abandonedPct(ss.AbandonedTotal(), s.sessionBase(st)),
			Slow: FormatCount(ss.Abandoned[AbandonSlow]), Error: FormatCount(ss.Abandoned[AbandonError]),
			Timeout: FormatCount(ss.Abandoned[AbandonTimeout]), Sales: FormatCount(ss.Sales), Lost: FormatCount(ss.Lost),
			Value: "-", Bad: share >= 0.01, All: st == &s.Overall}
		if s.Overall.Sessions.SalesValue > 0 {
			r.Value = formatMoney(ss.SalesValue)
		}
		// Not measured is "-", never a 0 (SessionsUnmeasured.Note says why).
		if u.Abandoned != "" {
			r.Abandoned, r.Share, r.Slow, r.Error, r.Timeout, r.Bad = "-", "-", "-", "-", "-", false
		}
		if u.LostSales != "" {
			r.Lost = "-"
		}
		if u.Sales != "" {
			r.Sales, r.Value = "-", "-"
		}
		out = append(out, r)
	}
	return out
}

// junitSessionProps returns the run's session figures as JUnit
// properties (none when the run ended no session).
func (s *Summary) junitSessionProps() []JUnitProperty {
	if !s.sessionsShown() {
		return nil
	}
	o := &s.Overall.Sessions
	u := s.SessionsUnmeasured()
	n := func(name string, v int64) JUnitProperty {
		return JUnitProperty{Name: name, Value: strconv.FormatInt(v, 10)}
	}
	// What is not measured has no property, and sessions_not_measured says why.
	props := []JUnitProperty{n("sessions", o.Ended()), n("sessions_completed", o.Completed)}
	if u.Abandoned == "" {
		props = append(props, n("sessions_abandoned", o.AbandonedTotal()),
			JUnitProperty{Name: "sessions_abandoned_share", Value: abandonedPct(o.AbandonedTotal(), o.Ended())})
		for r, v := range o.Abandoned {
			props = append(props, n("sessions_abandoned_"+AbandonReason(r).String(), v))
		}
	}
	props = append(props, n("sessions_failed", o.Failed))
	if u.Sales == "" {
		props = append(props, n("sales", o.Sales))
	}
	if u.LostSales == "" {
		props = append(props, n("lost_sales", o.Lost))
	}
	if o.SalesValue > 0 {
		props = append(props, JUnitProperty{Name: "sales_value", Value: formatMoney(o.SalesValue)})
	}
	if note := u.Note(); note != "" {
		props = append(props, JUnitProperty{Name: "sessions_not_measured", Value: note})
	}
	return props
}

// sessionsText returns the session outcomes as plain lines: the
// headline, the run's counts, then the abandoned sessions per step and per
// region ("" when the run ended no session). JUnit's system-out carries it.
func (s *Summary) sessionsText() string {
	if !s.sessionsShown() {
		return ""
	}
	var b strings.Builder
	writeSessionsHeadline(&b, s)
	o := &s.Overall.Sessions
	u := s.SessionsUnmeasured()
	abandoned, sales, lost := "- abandoned", "-", "-" // not measured
	if u.Abandoned == "" {
		abandoned = FormatCount(o.AbandonedTotal()) + " abandoned (" + abandonedPct(o.AbandonedTotal(), o.Ended()) + ")"
	}
	if u.Sales == "" {
		sales = FormatCount(o.Sales)
	}
	if u.LostSales == "" {
		lost = FormatCount(o.Lost)
	}
	fmt.Fprintf(&b, "sessions: %s ended, %s completed, %s, %s failed; %s sales, %s lost",
		FormatCount(o.Ended()), FormatCount(o.Completed), abandoned, FormatCount(o.Failed), sales, lost)
	if o.SalesValue > 0 {
		fmt.Fprintf(&b, "; sales value %s", formatMoney(o.SalesValue))
	}
	b.WriteByte('\n')
	if note := u.Note(); note != "" {
		fmt.Fprintf(&b, "-: %s\n", note)
	}
	for g, group := range [][]Stats{s.PerStep, s.PerRegion} {
		for i := range group {
			st := &group[i]
			if a := st.Sessions.AbandonedTotal(); a > 0 {
				fmt.Fprintf(&b, "abandoned %s %s: %s (%s: %s)\n", [2]string{"at", "in"}[g], st.Name, abandonedPct(a, s.sessionBase(st)),
					FormatCount(a), abandonReasons(&st.Sessions))
			}
		}
	}
	return b.String()
}

// writeMarkdownSessions writes the sessions line and tables (per step,
// per region) as markdown, with the HTML tables' columns and figures; nothing when the run ended no session.
func writeMarkdownSessions(bw *bufio.Writer, s *Summary) {
	if !s.sessionsShown() {
		return
	}
	h := s.sessionsHeadline()
	fmt.Fprintf(bw, "\n**%s**\n", mdCell(h[0]))
	for _, l := range h[1:] {
		fmt.Fprintf(bw, "\n%s\n", mdCell(l))
	}
	for _, t := range s.sessionTables() {
		fmt.Fprintf(bw, "\n| %s | abandoned | share | slow | error | timeout | completed | failed | sales | lost | sales value |\n", t.Head)
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range t.Rows {
			name := mdCell(r.Name)
			if r.All {
				name = "**all**"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, r.Abandoned, r.Share, r.Slow, r.Error, r.Timeout,
				r.Completed, r.Failed, r.Sales, r.Lost, r.Value)
		}
	}
	if note := s.SessionsUnmeasured().Note(); note != "" {
		fmt.Fprintf(bw, "\n-: %s\n", mdCell(note))
	}
}

// sessionsHeadline returns the text summary's session lines (the
// headline, and with several regions the abandonment per region), so
// every output leads with the same words.
func (s *Summary) sessionsHeadline() []string {
	var b strings.Builder
	writeSessionsHeadline(&b, s)
	return strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
}
