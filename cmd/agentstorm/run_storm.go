package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/metrics"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/finish"
	"github.com/agentstorm/agentstorm/report/hlog"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// storm is one `agentstorm run` from its flags to its exit code: runRun
// calls its steps in order.
type storm struct {
	env   *cliEnv
	f     *runFlags
	fs    *pflag.FlagSet
	prof  *profiles.Profile
	outs  []finish.Spec
	notes []string // for the banner and the footnotes

	seg      agents.Segment
	start    time.Time
	workers  int  // worker processes (1: this process)
	chaos    bool // a game day
	capacity int  // agents this process holds

	bexprs, bsources []string
	budgets          []*report.Budget
	cfg              agents.Config
	bundled          bool

	out     syncWriter
	tty     bool
	supMu   sync.Mutex
	sup     *supervisor.Supervisor
	logFile *os.File // the bundled target's log

	rec        *report.Recorder
	meta       map[string]string
	series     *report.SeriesCollector
	logw       *hlog.Writer
	hlogFile   *report.AtomicFile
	hlogFailed bool
	liveFail   *report.LiveFailure
	lastPrint  time.Time
	peakAgents int
	ramp       rampWatch
	gd         *gameDay
}

// newStorm checks the flags, loads the profile, plans the processes and
// parses the budgets and outputs. A nil storm comes with the exit code.
func newStorm(env *cliEnv, f *runFlags, fs *pflag.FlagSet) (*storm, int) {
	if fs.NArg() > 0 {
		return nil, runUsageError(env, fmt.Sprintf("unexpected argument %q: run takes only flags (did you mean --profile %s?)", fs.Arg(0), fs.Arg(0)))
	}
	if msg := f.validate(fs); msg != "" {
		return nil, runUsageError(env, msg)
	}
	outs, err := finish.ParseSpecs(f.outs, true)
	if err != nil {
		return nil, runUsageError(env, err.Error())
	}
	prof, err := profiles.Named(f.profile, f.env.lookup)
	if err != nil {
		var les profiles.LoadErrors
		if errors.As(err, &les) {
			fmt.Fprintf(env.stderr, "agentstorm run: profile %s is not valid:\n%v\n", f.profile, err)
		} else {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
		}
		return nil, exitUsage
	}
	if err := f.overrides(fs).Apply(prof); err != nil {
		return nil, runUsageError(env, err.Error())
	}
	s := &storm{env: env, f: f, fs: fs, prof: prof, outs: outs, workers: 1, chaos: len(prof.ChaosActions) > 0}
	s.out.w = env.stdout
	if msg := s.plan(); msg != "" {
		return nil, runUsageError(env, msg)
	}
	if len(prof.Flows) == 0 {
		fmt.Fprintf(env.stderr, "agentstorm run: profile %s has no flows\n", prof.Name)
		return nil, exitUsage
	}
	recOpts := agents.RecorderOptions(prof)
	s.bexprs, s.bsources = profileBudgets(prof)
	fe, fsrc := flagBudgets(f.budgets)
	s.bexprs, s.bsources = append(s.bexprs, fe...), append(s.bsources, fsrc...)
	bopts := report.BudgetOptions{Steps: recOpts.Steps, Regions: recOpts.Regions, Writes: recOpts.Writes}
	if s.chaos {
		bopts.Figures = gameday.FigureUnits()
	}
	if s.budgets, err = report.ParseBudgets(s.bexprs, s.bsources, bopts); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: bad budget:\n%v\n", err)
		return nil, exitUsage
	}
	s.cfg = agents.Config{Seed: f.seed, Timeout: f.timeout, Insecure: f.insecure, MaxAgents: s.capacity, Segment: s.seg, Start: s.start}
	if len(f.sourceAddrs) > 0 {
		ips, err := agents.ParseSourceAddrs(f.sourceAddrs)
		if err != nil {
			return nil, runUsageError(env, "--source-addr: "+err.Error())
		}
		s.cfg.SourceAddrs = ips
	}
	s.bundled = f.target == "bundled" || (f.target == "" && prof.Target.Bundled)
	if s.bundled && !s.seg.Whole() {
		return nil, runUsageError(env, "--segment: profile "+prof.Name+" storms the bundled target; give --target URL (every segment must storm the same target)")
	}
	if f.target != "" && f.target != "bundled" {
		s.cfg.BaseURL = f.target
	}
	return s, exitOK
}

// plan decides the segment, the start and the worker processes, and notes
// what it capped; it returns a usage message when the storm cannot run so.
func (s *storm) plan() string {
	f, prof := s.f, s.prof
	capacity, limit := fleet.Capacity()
	s.capacity = capacity
	if f.segment != "" {
		s.seg, _ = agents.ParseSegment(f.segment) // validated
	}
	s.start, _ = parseStartAt(f.startAt) // validated
	seg := s.seg
	if s.chaos && (f.workers > 1 || !seg.Whole()) {
		return "profile " + prof.Name + " has a chaos: schedule (a game day): it runs in one process, so that every order id comes back to the audit; leave out --workers and --segment (at most " + commas(capacity) + " agents)"
	}
	if need, most := fleet.StormAgents(prof), fleet.MachineAgents(capacity); seg.Whole() && !s.chaos && f.workers == 0 && need > most {
		machines := (need + most - 1) / most
		return fmt.Sprintf("the storm needs %s agents at once; one machine runs at most %s (%d worker processes of %s agents each): split it across %d or more machines with --segment 0/%d, 1/%d, ... and the same --start-at",
			commas(need), commas(most), fleet.MaxAutoWorkers, commas(fleet.PerWorker(capacity)), machines, machines, machines)
	}
	if seg.Whole() && !s.chaos {
		s.workers = fleet.WorkersFor(prof, capacity, f.workers)
	}
	if s.workers == 1 && seg.Whole() {
		if n := scaleToCapacity(prof, capacity); n != "" {
			s.notes = append(s.notes, fmt.Sprintf("%s: one process holds at most %s agents (open-file limit %d minus %d for the process itself); leave out --workers 1 to spread the storm over worker processes",
				n, commas(capacity), limit, fleet.FDMargin))
		}
	}
	if !seg.Whole() && seg.Share(fleet.StormAgents(prof)) > capacity {
		s.notes = append(s.notes, fmt.Sprintf("segment %s has %s agents, more than this process holds (%s): capped; use more segments",
			seg, commas(seg.Share(fleet.StormAgents(prof))), commas(capacity)))
	}
	return ""
}

// killTarget stops the bundled target at once (a second Ctrl-C).
func (s *storm) killTarget() {
	fmt.Fprintln(s.env.stderr, "agentstorm run: second interrupt; exiting now")
	s.supMu.Lock()
	if s.sup != nil {
		_ = s.sup.Close()
	}
	s.supMu.Unlock()
}

// startTarget starts the bundled target when the storm is against it.
func (s *storm) startTarget(ctx context.Context) int {
	if !s.bundled {
		return exitOK
	}
	env, prof := s.env, s.prof
	regions := prof.Population.Regions()
	shards := s.f.shards
	if shards == 0 {
		shards = bundledShards(prof)
	}
	var err error
	s.logFile, err = os.CreateTemp("", "agentstorm-target-*.log")
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: bundled target: create its log file: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(env.stdout, "Starting the bundled target: %d shard processes for regions %s...\n", shards, strings.Join(regions, ", "))
	startCtx, startCancel := context.WithTimeout(ctx, 30*time.Second)
	sup, err := supervisor.Start(startCtx, supervisor.Config{Shards: shards, Regions: regions, Listen: "127.0.0.1:0", Log: s.logFile})
	startCancel()
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: start the bundled target: %v (its log: %s)\n", err, s.logFile.Name())
		_ = s.logFile.Close()
		return exitFailed
	}
	s.supMu.Lock()
	s.sup = sup
	s.supMu.Unlock()
	s.cfg.RegionURLs = map[string][]string{}
	for _, sh := range sup.Topology().Shards {
		s.cfg.RegionURLs[sh.Region] = append(s.cfg.RegionURLs[sh.Region], sh.URL)
	}
	return exitOK
}

// stopTarget stops the bundled target, if one was started.
func (s *storm) stopTarget() {
	s.supMu.Lock()
	defer s.supMu.Unlock()
	if s.sup == nil {
		return
	}
	if err := s.sup.Close(); err != nil {
		fmt.Fprintf(s.env.stderr, "agentstorm run: stop the bundled target: %v\n", err)
	}
	_ = s.logFile.Close()
}

// prepare sets the time zero, makes the recorder, opens the interval log
// and lists the interval observers: the series, the log, the live budget
// checks (cancel stops the run), the metrics, the game day's timeline, the
// ramp and the live line, told of each interval in that order.
func (s *storm) prepare(ctx context.Context, cancel context.CancelFunc) int {
	env, prof, seg := s.env, s.prof, s.seg
	if s.workers > 1 && s.start.IsZero() {
		// Time for the workers to start and connect their first agents.
		s.start = time.Now().Add(time.Second + time.Duration(s.workers)*100*time.Millisecond)
	}
	if s.chaos && s.start.IsZero() {
		// One time zero for the recorder, the swarm and the schedule.
		s.start = time.Now().Add(200 * time.Millisecond)
		s.cfg.Start = s.start
	}
	recOpts := agents.RecorderOptions(prof)
	recOpts.Start = s.start
	s.rec = report.NewRecorder(recOpts)
	s.meta = runMeta(prof, s.f, s.bundled)
	if !seg.Whole() {
		s.meta["segment"] = seg.String()
	}
	s.series = report.NewSeriesCollector(s.rec.Start())
	if o, ok := finish.Find(s.outs, "hlog"); ok {
		var err error
		if s.hlogFile, err = report.CreateAtomic(o.Path); err == nil {
			s.logw, err = hlog.NewWriter(s.hlogFile, hlog.MetaOf(s.rec, s.meta, hlog.Budgets(s.bexprs, s.bsources)))
		}
		if err != nil {
			s.abortHlog()
			fmt.Fprintf(env.stderr, "agentstorm run: --out hlog=%s: %v\n", o.Path, err)
			return exitFailed
		}
	}
	s.tty = isTerminal(env.stdout)
	s.peakAgents = fleet.StormAgents(prof)
	if !seg.Whole() {
		s.peakAgents = seg.Share(s.peakAgents)
	}
	var obs agents.Observers
	obs.Add(func(iv *report.Interval, _ agents.Stats) { s.series.Add(iv) })
	obs.Add(s.writeInterval)
	live := report.NewLiveChecker(s.budgets)
	obs.Add(func(iv *report.Interval, st agents.Stats) {
		if s.liveFail == nil && iv.Duration() >= 500*time.Millisecond {
			if lf := live.Check(iv, st.Elapsed); lf != nil {
				s.liveFail = lf
				s.out.printf("\nAborting: %s\n", lf)
				cancel()
			}
		}
	})
	if s.f.metricsAddr != "" {
		var labels map[string]string
		if !seg.Whole() {
			labels = map[string]string{"segment": seg.String()}
		}
		m := metrics.New(s.rec.Steps(), s.rec.Regions(), labels)
		addr, _, err := m.Serve(ctx, s.f.metricsAddr)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: --metrics-addr: %v\n", err)
			return exitUsage
		}
		s.notes = append(s.notes, "Prometheus metrics at http://"+addr+"/metrics")
		obs.Add(func(iv *report.Interval, st agents.Stats) {
			m.Observe(iv, metrics.Snapshot{Active: st.Active, Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors})
		})
	}
	if s.chaos {
		desc := s.cfg.BaseURL
		if desc == "" {
			desc = describeTarget(prof.Target)
		}
		var err error
		if s.gd, err = newGameDay(ctx, prof, s.sup, desc, s.start, s.rec.Regions(), &s.out, s.tty); err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return exitFailed
		}
		s.notes = append(s.notes, "game day: "+describeChaos(prof.ChaosActions))
		s.cfg.OnAnswer = s.gd.onAnswer
		obs.Add(func(iv *report.Interval, _ agents.Stats) { s.gd.tl.Add(iv) })
	}
	obs.Add(s.ramp.observe(s.peakAgents))
	obs.Add(s.liveLine)
	s.cfg.OnInterval = obs.ObserveInterval
	if s.gd != nil {
		s.gd.start(ctx)
	}
	return exitOK
}

// writeInterval appends an interval to the hlog; a log that cannot be
// written is said once and not kept.
func (s *storm) writeInterval(iv *report.Interval, _ agents.Stats) {
	if s.logw == nil {
		return
	}
	if err := s.logw.WriteInterval(iv); err != nil {
		s.out.printf("\nagentstorm run: --out hlog=%s: %v (the log is not kept)\n", s.hlogFile.Path(), err)
		s.logw, s.hlogFailed = nil, true
	}
}

// liveLine prints the live line: in place on a terminal, every few
// seconds elsewhere.
func (s *storm) liveLine(iv *report.Interval, st agents.Stats) {
	if iv.Duration() < 500*time.Millisecond {
		return // the sliver between the last full second and the end
	}
	line := report.LiveLine(iv, st.Elapsed, st.Planned, int(st.Active)) + fmt.Sprintf("  conns %s", commas(int(st.Connected)))
	if s.tty {
		s.out.printf("\r%s\x1b[K", line)
		return
	}
	if now := time.Now(); now.Sub(s.lastPrint) >= nonTTYEvery-100*time.Millisecond {
		s.lastPrint = now
		s.out.printf("%s\n", line)
	}
}

// abortHlog removes a log not committed (a no-op after the commit).
func (s *storm) abortHlog() {
	if s.hlogFile != nil {
		s.hlogFile.Abort()
	}
}

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
		printRunBanner(env.stdout, prof, f, fmt.Sprintf("at most %s agents in this process", commas(sw.MaxAgents())), s.bundled, s.sup, s.notes)
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
	printRunBanner(env.stdout, prof, f, fmt.Sprintf("%d worker processes of about %s agents each (segments 0/%d…%d/%d; their logs in %s)",
		n, commas((fleet.StormAgents(prof)+n-1)/n), n, n-1, n, dir), s.bundled, s.sup, s.notes)
	s.lastPrint = time.Now()
	w := fleet.Worker{Start: s.start, Profile: f.profile, Seed: f.seed, Overrides: f.overrides(s.fs), Timeout: f.timeout,
		Insecure: f.insecure, SourceAddrs: f.sourceAddrs, Target: s.cfg.BaseURL, RegionURLs: s.cfg.RegionURLs}
	c := fleet.New(fleet.Config{
		Command: func(i int) *exec.Cmd {
			w := w
			w.Segment = agents.Segment{Index: i, Count: n}
			return f.env.passTo(exec.Command(exe, append([]string{"worker"}, w.Args()...)...))
		},
		Workers: n, Start: s.start, Planned: prof.Workload.Duration(),
		Steps: s.rec.Steps(), Regions: s.rec.Regions(), Dir: dir, FailOnLoss: f.failOnLoss,
		OnInterval: s.cfg.OnInterval,
		OnLoss:     func(l fleet.Loss) { s.out.printf("\nWorker lost: %s\n", l) },
	})
	sum, st, runErr := c.Run(ctx)
	if sum == nil {
		fmt.Fprintf(env.stderr, "agentstorm run: %v\n", runErr)
		return nil, st, runErr, exitFailed
	}
	for _, l := range c.Losses() {
		s.notes = append(s.notes, "lost "+l.String())
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
	if s.tty {
		s.out.printf("\n")
	}
	select {
	case <-interrupted:
		s.out.printf("Interrupted after %s: the summary covers what was recorded until then.\n", report.FormatDuration(sum.Elapsed.Round(time.Millisecond)))
	default:
	}
	s.out.printf("\n")
	sum.Meta = s.meta
	sum.Series = s.series.Points()
	sum.Aborted = s.liveFail
	if s.gd != nil {
		s.gd.finish(ctx, sum, &s.out)
	}
	fin := finish.Run{Command: "run", Stdout: &s.out, Stderr: s.env.stderr, Summary: sum, Budgets: s.budgets,
		Aborts: []*report.Abort{s.liveFail.Abort()}, AfterText: func(io.Writer) { s.footnotes(st, sum) },
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
	return fin.Finish()
}

// footnotes prints, after the summary, the ramp, the connections, the
// failed checks, the notes and where the bundled target keeps its data.
func (s *storm) footnotes(st agents.Stats, sum *report.Summary) {
	ramp := ""
	if at := s.ramp.at(st); s.prof.Workload.Model != profiles.Open && s.peakAgents > 0 {
		if at > 0 {
			ramp = fmt.Sprintf("all %s agents of the peak connected %s after the start", commas(s.peakAgents), report.FormatDuration(at.Round(10*time.Millisecond)))
		} else {
			ramp = fmt.Sprintf("at most %s of the peak's %s agents were connected at once", commas(int(s.ramp.maxConnected)), commas(s.peakAgents))
		}
	}
	printRunFootnotes(&s.out, st, sum.Failures, ramp, s.notes)
	if s.sup != nil {
		s.out.printf("Bundled target: stopping %d shards; their order stores stay in %s (shard logs: %s)\n",
			len(s.sup.Topology().Shards), s.sup.DataDir(), s.logFile.Name())
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
