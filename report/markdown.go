package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// mdCell escapes a table cell for GitHub-flavoured markdown.
func mdCell(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

// WriteMarkdown writes a compact summary for pull requests and
// $GITHUB_STEP_SUMMARY: the verdict, the compliance headline, the budget
// table and the per-step table.
func WriteMarkdown(w io.Writer, s *Summary) error {
	bw := bufio.NewWriter(w)
	missed := budgetsMissed(s.Budgets)
	title := "agentstorm"
	if p := s.Meta["profile"]; p != "" {
		title += ": " + p
	}
	switch {
	case s.Status() != StatusOK:
		fmt.Fprintf(bw, "### ❌ %s: run %s\n\n**Run %s:** %s\n\n", mdCell(title), s.Status(), s.Status(), mdCell(s.StatusReason()))
	case len(s.Budgets) == 0:
		fmt.Fprintf(bw, "### %s\n\n", mdCell(title))
	case missed == 0:
		fmt.Fprintf(bw, "### ✅ %s: all %d budgets met\n\n", mdCell(title), len(s.Budgets))
	default:
		fmt.Fprintf(bw, "### ❌ %s: %d of %d budgets missed\n\n", mdCell(title), missed, len(s.Budgets))
	}
	o := s.Overall.Judged()
	fig := map[string]string{"from_intended_start": "from intended start", "corrected": "corrected for coordinated omission", "raw": "raw"}[s.judgedFigure()]
	fmt.Fprintf(bw, "**Sub-100 ms compliance: %s** of %s answers (%s) · %s req/s · errors %s · %s, %s model\n\n",
		formatPct(o.Compliance()), FormatCount(o.Count), fig, formatRate(s.Overall.RPS),
		formatErrPct(s.Overall.Errors, s.Overall.Count), FormatDuration(s.Elapsed), s.Model)
	if s.Aborted != nil {
		fmt.Fprintf(bw, "**Run aborted:** %s\n\n", mdCell(s.Aborted.String()))
	}
	if len(s.Budgets) > 0 {
		fmt.Fprintln(bw, "| budget | actual | limit | verdict |")
		fmt.Fprintln(bw, "|---|---:|---:|---|")
		for i := range s.Budgets {
			r := &s.Budgets[i]
			v := "✅ met"
			if !r.Met {
				v = "❌ " + r.VerdictText()
			}
			fmt.Fprintf(bw, "| `%s` | %s | %s | %s |\n", strings.ReplaceAll(r.Expr, "|", `\|`), mdCell(r.ActualText()), mdCell(r.LimitText()), v)
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, "| step | requests | req/s | errors | p50 | p99 | p99.9 | max | ≤100 ms |")
	fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	rows := append(append([]Stats(nil), s.PerStep...), s.Overall)
	for i := range rows {
		st := &rows[i]
		if st.Count == 0 {
			continue
		}
		l := st.Judged()
		name := mdCell(st.Name)
		if i == len(rows)-1 {
			name = "**all**"
		}
		lat := [5]string{"-", "-", "-", "-", "-"}
		if l.Count > 0 {
			lat = [5]string{FormatDuration(l.P50), FormatDuration(l.P99), FormatDuration(l.P999), FormatDuration(l.Max), formatPct(l.Compliance())}
		}
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, FormatCount(st.Count), formatRate(st.RPS),
			formatErrPct(st.Errors, st.Count), lat[0], lat[1], lat[2], lat[3], lat[4])
	}
	writeMarkdownSessions(bw, s)
	if len(s.Failures) > 0 {
		fmt.Fprintln(bw)
		parts := make([]string, 0, len(s.Failures))
		for i, f := range s.Failures {
			if i == 6 {
				parts = append(parts, fmt.Sprintf("and %d more", len(s.Failures)-i))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s (status %d) ×%s", f.Step, f.Kind, f.Status, FormatCount(f.Count)))
		}
		fmt.Fprintf(bw, "Failed checks: %s\n", mdCell(strings.Join(parts, ", ")))
	}
	writeMarkdownSections(bw, s)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	return nil
}
