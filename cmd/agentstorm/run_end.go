package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/finish"
)

// run runs the agents, in this process or in worker processes, and
// returns the summary, the swarm's counters and why the run failed; a nil
// summary (nothing recorded) comes with the exit code.
func (s *storm) run(ctx context.Context) (*report.Summary, agents.Stats, error, int) {
	env, prof, f := s.env, s.prof, s.f
	if s.workers == 1 {
		sw, err := agents.New(s.cfg, prof, s.rec)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return nil, agents.Stats{}, nil, exitUsage
		}
		printRunBanner(s.chatter(), prof, f, fmt.Sprintf("at most %s agents in this process", commas(sw.MaxAgents())), s.bundled, s.sup, s.notes)
		s.lastPrint = time.Now()
		runErr := sw.Run(ctx)
		sum := s.rec.Summary(sw.Elapsed())
		for _, fl := range sw.Failures() {
			sum.Failures = append(sum.Failures, report.CheckFailure{Step: fl.Step, Kind: fl.Kind, Status: fl.Status, Count: fl.Count})
		}
		return sum, sw.Stats(), runErr, exitOK
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: find this executable to start workers: %v\n", err)
		return nil, agents.Stats{}, nil, exitFailed
	}
	dir, err := os.MkdirTemp("", "agentstorm-workers-*")
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
		return nil, agents.Stats{}, nil, exitFailed
	}
	n := s.workers
	workers := fmt.Sprintf("%d worker processes", n-1)
	if n == 2 {
		workers = "1 worker process"
	}
	printRunBanner(s.chatter(), prof, f, fmt.Sprintf("%d segments of about %s agents each: 0/%d in this process, %s for the rest (logs in %s)",
		n, commas((fleet.StormAgents(prof)+n-1)/n), n, workers, dir), s.bundled, s.sup, s.notes)
	s.lastPrint = time.Now()
	w := fleet.Worker{Start: s.start, Profile: f.profile, Seed: f.seed, Overrides: f.overrides(s.fs), Timeout: f.timeout,
		Insecure: f.insecure, TLS: f.tls, MaxBodySize: int(f.maxBody), MaxHeaderSize: int(f.maxHeader), SourceAddrs: f.sourceAddrs, Target: s.cfg.BaseURL, RegionURLs: s.cfg.RegionURLs}
	c := fleet.New(fleet.Config{
		Command: func(i int) *exec.Cmd {
			w := w
			w.Segment = agents.Segment{Index: i, Count: n}
			return f.env.passTo(exec.Command(exe, append([]string{"worker"}, w.Args()...)...))
		},
		Local: func(ctx context.Context, seg agents.Segment, stdout, stderr io.Writer) int {
			w := w
			w.Segment = seg
			return w.Run(ctx, f.env.lookup, stdout, stderr)
		},
		Workers: n, Start: s.start, Planned: prof.Workload.Duration(),
		Steps: s.rec.Steps(), Regions: s.rec.Regions(), Dir: dir, FailOnLoss: f.failOnLoss,
		OnInterval: s.cfg.OnInterval,
		OnLoss: func(l fleet.Loss) {
			s.out.printf("\nWorker lost: %s\n", l)
			s.lostLive++
			if s.dash != nil {
				s.dash.Mark(l.At, fmt.Sprintf("worker %d lost: %s", l.Segment.Index, l.Why))
			}
		},
	})
	sum, st, runErr := c.Run(ctx)
	if sum == nil {
		fmt.Fprintf(env.stderr, "agentstorm run: %v\n", runErr)
		return nil, st, runErr, exitFailed
	}
	for _, l := range c.Losses() {
		s.notes = append(s.notes, "lost "+l.String())
		s.losses = append(s.losses, l.String())
	}
	if len(c.Losses()) == 0 {
		_ = os.RemoveAll(dir)
	}
	return sum, st, runErr, exitOK
}

// finish completes the summary (metadata, series, the abort, the game
// day's audit), prints the footnotes and ends the run the one way every
// command does (finish.Run): budgets, text, outputs, exit code.
func (s *storm) finish(ctx context.Context, sum *report.Summary, st agents.Stats, runErr error, interrupted <-chan struct{}) int {
	if s.tty && !s.f.quiet {
		s.out.printf("\n") // end the live line
	}
	stopped := ""
	select {
	case <-interrupted:
		s.out.printf("Interrupted after %s: the summary covers what was recorded until then.\n", report.FormatDuration(sum.Elapsed.Round(time.Millisecond)))
		stopped = fmt.Sprintf("interrupted (Ctrl-C or SIGTERM) after %s of a planned %s", report.FormatDuration(sum.Elapsed.Round(time.Second)),
			report.FormatDuration(s.prof.Workload.Duration()))
	default:
	}
	if !s.f.quiet {
		s.out.printf("\n")
	}
	s.checkoutLine = s.checkout.end()
	sum.Meta = s.meta
	sum.Series = s.series.Points()
	sum.Aborted = s.liveFail
	if s.gd != nil {
		if s.gd.finish(ctx, sum, &s.out) && s.sup != nil {
			s.sup.Keep() // the audit names orders in the bundled target's stores
		}
	}
	var machineFigures map[string]float64
	s.machineLine, machineFigures = s.machine.end(s.rec.Start(), sum.Series)
	for _, f := range []map[string]float64{s.checkout.figures(), machineFigures} {
		if len(f) > 0 && sum.Figures == nil {
			sum.Figures = map[string]float64{}
		}
		maps.Copy(sum.Figures, f)
	}
	fin := finish.Run{Command: "run", Stdout: &s.out, Stderr: s.env.stderr, Summary: sum, Budgets: s.budgets,
		Aborts: []*report.Abort{s.liveFail.Abort()}, Quiet: s.f.quiet, AfterText: func(io.Writer) { s.footnotes(st, sum) },
		OutputFailed: s.hlogFailed, Outputs: finish.SummaryOutputs(s.outs)}
	if s.logw != nil {
		fin.Outputs = append([]finish.Output{{Kind: "hlog", Path: s.hlogFile.Path(), Name: "--out hlog=" + s.hlogFile.Path(),
			Write: func(sum *report.Summary) error {
				if err := s.logw.Close(sum); err != nil {
					return err
				}
				return s.hlogFile.Commit()
			}}}, fin.Outputs...)
	}
	if runErr != nil {
		fin.Failed = fmt.Errorf("the run failed: %w", runErr)
	}
	if len(s.losses) > 0 {
		// A storm that lost part of its agents is not the storm asked for.
		sum.Failed = "lost " + strings.Join(s.losses, "; ")
	}
	fin.Interrupted = stopped
	code := fin.Finish()
	s.dash.end(sum, s.env.stderr, "agentstorm run")
	return code
}

// footnotes prints, after the summary, the ramp, the connections, the
// failed checks, the notes and where the bundled target keeps its data.
func (s *storm) footnotes(st agents.Stats, sum *report.Summary) {
	ramp := ""
	w := s.prof.Workload
	if at := s.ramp.at(st); (w.Model != profiles.Open || w.TargetsInFlight()) && s.peakAgents > 0 {
		if at > 0 {
			unit := 10 * time.Millisecond
			if at < time.Second { // a ramp of none: 3 ms, not 0 µs
				unit = time.Millisecond / 10
			}
			ramp = fmt.Sprintf("all %s agents of the peak connected %s after the start", commas(s.peakAgents), report.FormatDuration(at.Round(unit)))
		} else {
			ramp = fmt.Sprintf("at most %s of the peak's %s agents were connected at once", commas(int(s.ramp.maxConnected)), commas(s.peakAgents))
		}
	}
	printRunFootnotes(&s.out, st, sum.Failures, ramp, s.notes)
	if s.checkoutLine != "" {
		s.out.printf("%s\n", s.checkoutLine)
	}
	if s.machineLine != "" {
		s.out.printf("%s\n", s.machineLine)
	}
	switch {
	case s.sup == nil:
	case s.sup.DataKept():
		s.out.printf("Bundled target: stopping %d shards; their order stores stay in %s (shard logs: %s)\n",
			len(s.sup.Topology().Shards), s.sup.DataDir(), s.logFile.Name())
	default:
		s.out.printf("Bundled target: stopping %d shards; removing their order stores and shard logs (--keep-data keeps them)\n",
			len(s.sup.Topology().Shards))
	}
}

// rampWatch notes when every agent of the peak was first connected.
type rampWatch struct {
	rampAt       time.Duration
	maxConnected int64
}

// observe returns the observer that watches the ramp to peak agents.
func (r *rampWatch) observe(peak int) agents.ObserverFunc {
	return func(_ *report.Interval, st agents.Stats) {
		r.maxConnected = max(r.maxConnected, st.Connected)
		if r.rampAt == 0 && st.Connected >= int64(peak) {
			r.rampAt = st.Elapsed
		}
	}
}

// at returns when the peak was reached: the swarm's own measure (at the
// connect) when it has one, else the first interval that saw it; 0 when
// it never was.
func (r *rampWatch) at(st agents.Stats) time.Duration {
	if st.FullAt > 0 {
		return st.FullAt
	}
	return r.rampAt
}
