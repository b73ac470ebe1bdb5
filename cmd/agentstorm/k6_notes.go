package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/agentstorm/agentstorm/k6"
	"github.com/agentstorm/agentstorm/report"
)

// writeK6Notes adds what the summary does not say about a k6 run: the
// input read, the checks, the k6 figures, and which latency this is.
func writeK6Notes(w io.Writer, in *k6.Ingester, name string) {
	st := in.Stats()
	fmt.Fprintf(w, "\nk6 input: %s: %s.\n", name, st)
	if st.Truncated {
		fmt.Fprintln(w, "k6 input: it ends inside a line or a gzip stream (k6 stopped mid-write); everything before was kept.")
	}
	if checks := in.Checks(); len(checks) > 0 {
		var pass, all int64
		for _, c := range checks {
			pass += c.Passes
			all += c.Passes + c.Fails
		}
		fmt.Fprintf(w, "Checks: %s of %s passed (%.2f%%)\n", commas(int(pass)), commas(int(all)), 100*float64(pass)/float64(all))
		for i, c := range checks {
			if i == 10 {
				fmt.Fprintf(w, "  and %d more checks\n", len(checks)-i)
				break
			}
			mark := "✓"
			if c.Fails > 0 {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %s: %s passed, %s failed\n", mark, c.Name, commas(int(c.Passes)), commas(int(c.Fails)))
		}
	}
	figs, units := in.Figures()
	if len(figs) > 0 {
		names := make([]string, 0, len(figs))
		for k := range figs {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, 0, len(names))
		for _, k := range names {
			v := units[k].Format(figs[k])
			if units[k] == report.UnitPercent {
				v = fmt.Sprintf("%.2f%%", figs[k])
			}
			parts = append(parts, k+" "+v)
		}
		fmt.Fprintf(w, "k6 figures (budgets can judge them by name; gauges are maxima): %s\n", strings.Join(parts, ", "))
	}
	if un := in.UnusedTrends(); len(un) > 0 {
		fmt.Fprintf(w, "Trends not recorded (add --trend NAME to record one as a step): %s\n", strings.Join(un, ", "))
	}
	fmt.Fprintln(w, "Latency note (k6): k6's VUs are a closed loop and k6 times each request from its send, so these")
	fmt.Fprintln(w, "are raw figures, like the closed model's raw latency: while the target stalls, the VUs send less")
	fmt.Fprintln(w, "and the stall is under-represented. k6 records no intended send time, so no corrected figure exists.")
}
