package gameday

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/agentstorm/agentstorm/report"
)

// The blast radius of a fault in the shoppers' terms: the sessions
// abandoned (their patience ran out, or an error) and the sales lost
// during it, beside the same before and after (see report.Sessions).

// PhaseSessions are the sessions that ended in a window.
type PhaseSessions struct {
	Ended     int64 `json:"ended"`
	Abandoned int64 `json:"abandoned"`
	// AbandonedPct is Abandoned / Ended in percent (0 when none ended).
	AbandonedPct float64 `json:"abandoned_pct"`
	Sales        int64   `json:"sales"`
	// LostSales are the abandoned sessions that had not made their sale
	// (its step still ahead, or answered later than their patience).
	LostSales int64 `json:"lost_sales"`
}

// phaseSessions sums region's (-1: every region) sessions over the
// seconds [from, to); nil when the timeline has no session at all.
func (t *Timeline) phaseSessions(region, from, to int) *PhaseSessions {
	return t.windowSessions(region, [][2]int{{from, to}})
}

// windowSessions sums region's (-1: every region) sessions over the seconds
// inside any of windows ([from, to) each), a second once where windows
// overlap; nil when the timeline has no session at all.
func (t *Timeline) windowSessions(region int, windows [][2]int) *PhaseSessions {
	if !t.sessions {
		return nil
	}
	ws := slices.Clone(windows)
	slices.SortFunc(ws, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var ss report.Sessions
	next := 0 // the first second not summed yet: a second in two windows counts once
	for _, w := range ws {
		for s := max(w[0], next); s < min(w[1], len(t.secs)); s++ {
			for r := range t.secs[s] {
				if region < 0 || r == region {
					ss.Add(&t.secs[s][r].Sessions)
				}
			}
		}
		next = max(next, w[1])
	}
	p := &PhaseSessions{Ended: ss.Ended(), Abandoned: ss.AbandonedTotal(), Sales: ss.Sales, LostSales: ss.Lost}
	if p.Ended > 0 {
		p.AbandonedPct = 100 * float64(p.Abandoned) / float64(p.Ended)
	}
	return p
}

// faultLostSales is the sales lost in the faults' seconds (each second
// once, where faults overlap); false when the run had no sessions or no
// fault.
func (r *Result) faultLostSales() (int64, bool) {
	if r.faultSessions == nil || len(r.Faults) == 0 {
		return 0, false
	}
	return r.faultSessions.LostSales, true
}

// fmtSessions formats a window's sessions: "12.3% of 1,000 abandoned, 45
// lost" ("-" when none ended).
func fmtSessions(p *PhaseSessions) string {
	if p == nil || p.Ended == 0 {
		return "-"
	}
	return fmt.Sprintf("%s of %s, %s lost", report.SharePct(p.Abandoned, p.Ended), report.FormatCount(p.Ended), report.FormatCount(p.LostSales))
}

// sessionLines are a fault's sessions per region, before, during and
// after (none when the run had no sessions).
func sessionLines(f Fault) []string {
	if f.Sessions == nil {
		return nil
	}
	out := []string{fmt.Sprintf("  %-10s %-8s %28s %28s %28s", "sessions", "", "abandoned, lost sales: before", "during", "after")}
	for _, ri := range f.Regions {
		out = append(out, fmt.Sprintf("  %-10s %-8s %28s %28s %28s", ri.Region, "", fmtSessions(ri.Before.Sessions),
			fmtSessions(ri.During.Sessions), fmtSessions(ri.After.Sessions)))
	}
	return out
}

// sessionVerdict is what a fault cost in sessions and sales, for the
// verdict ("" when the run had no sessions or none ended during it).
func sessionVerdict(f Fault) string {
	d := f.Sessions
	if d == nil || d.Ended == 0 {
		return ""
	}
	var ended, abandoned int64 // before the fault, every region
	for _, ri := range f.Regions {
		if b := ri.Before.Sessions; b != nil {
			ended, abandoned = ended+b.Ended, abandoned+b.Abandoned
		}
	}
	// Shares rounded up, as everywhere a loss is said.
	s := fmt.Sprintf("; shoppers abandoned %s of sessions during it", report.SharePct(d.Abandoned, d.Ended))
	if ended > 0 {
		s += fmt.Sprintf(" (%s before)", report.SharePct(abandoned, ended))
	}
	return s + fmt.Sprintf(", ~%s sales lost", report.FormatCount(d.LostSales))
}
