package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/agentstorm/agentstorm/k6"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
	"github.com/agentstorm/agentstorm/report/dashboard"
	"github.com/agentstorm/agentstorm/report/finish"
	"github.com/agentstorm/agentstorm/report/hlog"
)

// k6Ingest is one `agentstorm k6 ingest` while it reads: what each second
// of k6 time is told to (series, hlog spool, live budget checks, live
// line), and how the ingest ends.
type k6Ingest struct {
	in        *k6.Ingester
	out       *syncWriter
	meta      map[string]string
	spool     *hlog.Spool // nil without --out hlog
	series    *report.SeriesCollector
	live      k6Live
	liveFail  *report.LiveFailure
	showLive  bool
	tty       bool
	lastPrint time.Time
	cancel    context.CancelFunc // stops the read (a live abort)
	dash      *liveDashboard     // nil without --dashboard
}

// onInterval is k6.Options.OnInterval.
func (k *k6Ingest) onInterval(iv *report.Interval) {
	rec := k.in.Recorder()
	if k.series == nil {
		k.series = report.NewSeriesCollector(rec.Start())
	}
	k.series.Add(iv)
	if k.spool != nil {
		if err := k.spool.WriteInterval(rec, k.meta, iv); err != nil {
			k.out.printf("\nagentstorm k6: --out hlog=%s: %v (the log is not kept)\n", k.spool.Path(), err)
		}
	}
	elapsed := iv.End.Sub(rec.Start())
	if k.liveFail == nil && iv.Duration() >= 500*time.Millisecond {
		if lf := k.live.checker(rec).Check(iv, elapsed); lf != nil {
			k.liveFail = lf
			k.out.printf("\nAborting: %s\n", lf)
			k.in.Stop()
			k.cancel()
		}
	}
	if k.dash != nil {
		// k6 says nothing of connections; its budgets are known only at the end.
		// A VU has no patience: abandonment is not measured.
		k.dash.Observe(iv, dashboard.Figures{Elapsed: elapsed, Agents: int64(iv.ActiveAgents), Connections: -1,
			Unmeasured: report.UnmeasuredSessions(k.meta, 0)})
	}
	if !k.showLive || iv.Duration() < 500*time.Millisecond {
		return
	}
	line := "k6 " + report.LiveLine(iv, elapsed, 0, iv.ActiveAgents)
	if k.tty {
		k.out.printf("\r%s\x1b[K", line)
		return
	}
	if now := time.Now(); now.Sub(k.lastPrint) >= nonTTYEvery-100*time.Millisecond {
		k.lastPrint = now
		k.out.printf("%s\n", line)
	}
}

// finish summarises what was read and ends the ingest the one way every
// run ends (finish.Run); readErr is the read's error.
func (k *k6Ingest) finish(env *cliEnv, f *k6Flags, outs []finish.Spec, name string, readErr error, interrupted string) int {
	in := k.in
	sum := in.Finish()
	st := in.Stats()
	if st.Points == 0 {
		// Nothing to summarise: an empty file, only malformed lines, or
		// not k6 output at all. Say so instead of an empty summary.
		if readErr != nil {
			fmt.Fprintf(env.stderr, "agentstorm k6: %v\n", readErr)
		}
		fmt.Fprintf(env.stderr, "agentstorm k6: no k6 points in %s (is it the output of `k6 run --out json=FILE` or `--out csv=FILE`?)\n", name)
		return exitFailed
	}
	if k.series != nil {
		sum.Series = k.series.Points()
	}
	k.meta["format"] = st.Format
	sum.Meta = k.meta
	sum.Aborted = k.liveFail

	_, units := in.Figures()
	for n, u := range k6.FigureUnits() {
		if _, ok := units[n]; !ok {
			units[n] = u
		}
	}
	// Names are known only now. A budget naming a step or region the run
	// does not have is a usage error, but the summary and outputs are
	// still written (the ingest may have been a long --follow) with the
	// budgets that do apply.
	bopts := budget.Options{Steps: sum.Steps, Regions: sum.Regions, Writes: sum.Writes, Figures: units}
	budgets, budgetErr := budget.ParseAll(k.live.exprs, k.live.sources, bopts)
	fin := finish.Run{Command: "k6", Stdout: k.out, Stderr: env.stderr, Summary: sum, Budgets: budgets,
		Aborts: []*report.Abort{k.liveFail.Abort()}, Quiet: f.quiet,
		AfterText: func(w io.Writer) { writeK6Notes(w, in, name) }, Outputs: finish.SummaryOutputs(outs)}
	if sp := k.spool; sp != nil {
		fin.Outputs = append([]finish.Output{{Kind: "hlog", Path: sp.Path(), Name: "--out hlog=" + sp.Path(),
			Write: func(s *report.Summary) error { return sp.Finish(in.Recorder(), k.meta, s) }}}, fin.Outputs...)
	}
	if budgetErr != nil {
		fin.Usage = fmt.Errorf("bad budget for this run (the summary and outputs leave it out):\n%w", budgetErr)
	}
	if readErr != nil {
		var le *k6.LineError
		if errors.As(readErr, &le) {
			readErr = fmt.Errorf("--strict: %w (the summary covers the lines before it)", readErr)
		}
		fin.Failed = readErr
	} else if err := in.Refusal(); err != nil {
		fin.Failed = fmt.Errorf("not judged: %w", err)
	}
	fin.Interrupted = interrupted
	code := fin.Finish()
	k.dash.end(sum, env.stderr, "agentstorm k6")
	return code
}
