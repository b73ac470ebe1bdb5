package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// The session headline (issue 18): what a slow checkout cost, in the
// words of the shoppers who left. Written only when the run has session
// data (a profile with patience or sale steps); runs without keep their
// text as it was.

// maxAbandonParts is how many step × reason parts the headline names.
const maxAbandonParts = 4

// writeSessionsHeadline writes SessionLines, one a line.
func writeSessionsHeadline(w io.Writer, s *Summary) {
	for _, l := range SessionLines(s) {
		fmt.Fprintln(w, l)
	}
}

// SessionLines returns the sessions' headline of a summary, the lines the
// text summary leads with (for other writers to say the same): the share
// of sessions abandoned, by reason and step, the sales made and the sales
// lost (~: an estimate, as if each abandoned session with a sale ahead had
// gone on and its sale step answered OK), and with several regions the
// abandonment per region. It is nil when the run has no session data (a
// profile without patience and sale steps).
func SessionLines(s *Summary) []string {
	o := &s.Overall.Sessions
	if o.IsZero() {
		return nil
	}
	ended := o.Ended()
	var b strings.Builder
	if ab := o.AbandonedTotal(); ab > 0 {
		fmt.Fprintf(&b, "Agents skipped you: %s of %s sessions abandoned", SharePct(ab, ended), FormatCount(ended))
		if parts := abandonParts(s, ended); parts != "" {
			b.WriteString(" (" + parts + ")")
		}
	} else if why := s.SessionsUnmeasured().Abandoned; why != "" { // no patience: nothing could be abandoned
		fmt.Fprintf(&b, "Sessions: %s ended (abandonment %s)", FormatCount(ended), why)
	} else {
		fmt.Fprintf(&b, "Agents never skipped you: no session abandoned of %s ended", FormatCount(ended))
	}
	if o.Sales > 0 || o.Lost > 0 {
		fmt.Fprintf(&b, "; %s sales completed", FormatCount(o.Sales))
		if o.SalesValue > 0 {
			fmt.Fprintf(&b, " (%s)", formatMoney(o.SalesValue))
		}
		if o.Lost > 0 {
			fmt.Fprintf(&b, ", ~%s lost", FormatCount(o.Lost))
			if o.Sales > 0 && o.SalesValue > 0 {
				fmt.Fprintf(&b, " (~%s at the average sale)", formatMoney(int64(math.Round(float64(o.SalesValue)/float64(o.Sales)*float64(o.Lost)))))
			}
		}
	}
	lines := []string{b.String()}
	if len(s.PerRegion) > 1 && o.AbandonedTotal() > 0 {
		var parts []string
		for i := range s.PerRegion {
			rs := &s.PerRegion[i].Sessions
			if n := rs.Ended(); n > 0 {
				parts = append(parts, fmt.Sprintf("%s %s of %s", s.PerRegion[i].Name, SharePct(rs.AbandonedTotal(), n), FormatCount(n)))
			}
		}
		lines = append(lines, "Abandoned by region: "+strings.Join(parts, ", "))
	}
	return lines
}

// abandonParts names the largest reasons × steps of abandonment, each as
// a share of the ended sessions: "slow add_to_cart 9.1%, timeout checkout 0.2%".
func abandonParts(s *Summary, ended int64) string {
	type part struct {
		reason AbandonReason
		step   string
		n      int64
	}
	var parts []part
	for i := range s.PerStep {
		for r, n := range s.PerStep[i].Sessions.Abandoned {
			if n > 0 {
				parts = append(parts, part{AbandonReason(r), s.PerStep[i].Name, n})
			}
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].n > parts[j].n })
	var out []string
	for i, p := range parts {
		if i == maxAbandonParts {
			out = append(out, fmt.Sprintf("%d more", len(parts)-i))
			break
		}
		out = append(out, fmt.Sprintf("%s %s %s", p.reason, p.step, SharePct(p.n, ended)))
	}
	return strings.Join(out, ", ")
}

// SharePct formats n of total as a percentage with one decimal, rounded
// up so that a loss never reads smaller than it was (0.01% is "0.1%").
func SharePct(n, total int64) string {
	if total <= 0 {
		return "0%"
	}
	v := max(math.Ceil(1000*float64(n)/float64(total)-1e-9)/10, 0)
	return strconv.FormatFloat(v, 'f', 1, 64) + "%"
}

// formatMoney formats cents as an amount with thousands separators and
// two decimals: 74460000 is "744,600.00" (no currency: the profile's).
func formatMoney(cents int64) string {
	return fmt.Sprintf("%s.%02d", FormatCount(cents/100), cents%100)
}
