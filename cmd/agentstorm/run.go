package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/metrics"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// fdMargin is the open files a run keeps for itself (listeners, pipes to the
// bundled shards, log files, the runtime's poller) when it sizes the swarm
// to the per-process open-file limit.
const fdMargin = 512

// nonTTYEvery is how often the live line is printed when stdout is not a
// terminal (CI logs).
const nonTTYEvery = 5 * time.Second

func runCommand() command {
	return command{
		name:    "run",
		summary: "storm a target with a profile's agents and summarise every answer (default: agent-storm against the bundled target)",
		run:     runRun,
	}
}

// runFlags are the parsed flags of `agentstorm run`.
type runFlags struct {
	profile     string
	target      string
	agents      int
	duration    time.Duration
	ramp        time.Duration
	think       time.Duration
	seed        uint64
	timeout     time.Duration
	sourceAddrs []string
	insecure    bool
	shards      int
	budgets     []string
	outs        []string
	workers     int
	failOnLoss  bool
	segment     string
	startAt     string
	metricsAddr string
	push        pushFlags
	env         envVars
}

// newRunFlagSet declares every flag of `agentstorm run` into f.
func newRunFlagSet(f *runFlags) *pflag.FlagSet {
	fs := newCommandFlagSet("agentstorm run")
	fs.StringVar(&f.profile, "profile", profiles.DefaultBuiltin, "built-in profile NAME (see 'agentstorm profiles list') or profile FILE (.yaml)")
	addEnvFlag(fs, &f.env)
	fs.StringVar(&f.target, "target", "", `base URL every request goes to (http://HOST:PORT, https://...), or "bundled" to start the reference checkout (default: the profile's target)`)
	fs.IntVar(&f.agents, "agents", 0, "peak agents (closed model; the stages are scaled to it) or most concurrent sessions (open model)")
	fs.DurationVar(&f.duration, "duration", 0, "run length: the stages become a ramp (--ramp) and a hold for the rest")
	fs.DurationVar(&f.ramp, "ramp", 0, "ramp from 0 to the peak over this long, then hold (default with --duration: the profile's first stage, at most the duration)")
	fs.DurationVar(&f.think, "think", 0, "constant think time between an agent's requests, replacing the profile's (0: none)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of every agent's random choices: the same seed makes the same choices")
	fs.DurationVar(&f.timeout, "timeout", 0, "per-request timeout, replacing every step's own (default: the profile's, 10s unless set)")
	fs.StringSliceVar(&f.sourceAddrs, "source-addr", nil, "local IP addresses to dial from, round-robin by agent (for remote targets; loopback targets spread over 127.0.0.2... by themselves)")
	fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification for https targets")
	fs.IntVar(&f.shards, "shards", 0, "bundled target: number of shard processes (default: one per region of the profile, more for large storms)")
	fs.StringArrayVar(&f.budgets, "budget", nil, "a budget the run must meet, such as 'add_to_cart p99 < 100ms' or 'errors < 0.1% abort' (repeatable; added to the profile's budgets; see docs/ci.md)")
	addOutFlag(fs, &f.outs, "hlog is written as the run goes")
	fs.IntVar(&f.workers, "workers", 0, "worker processes to spread the agents over (default: as many as the open-file limit requires; 1: this process only)")
	fs.BoolVar(&f.failOnLoss, "fail-on-worker-loss", false, "stop the whole storm (exit 1) when a worker process dies, instead of going on with the rest")
	fs.StringVar(&f.segment, "segment", "", "run only segment I of N of the storm (I/N, from 0), for storms spread over machines; merge with 'agentstorm report merge'")
	fs.StringVar(&f.startAt, "start-at", "", "wait until this time (RFC 3339, e.g. 2026-11-26T18:00:00Z) and start the stages from it, so segments on several hosts start together")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (latency as classic and native histograms) at http://ADDR/metrics, e.g. :9464")
	addPushFlags(fs, &f.push)
	return fs
}

func printRunUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Usage: agentstorm run [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs a profile's agents against a target and measures every answer in HDR histograms.")
	fmt.Fprintln(w, "With no flags it storms the bundled reference checkout (started on loopback and stopped")
	fmt.Fprintln(w, "at the end) with the default profile, agent-storm. A live line shows progress; at the end")
	fmt.Fprintln(w, "a summary gives count, req/s, errors, p50/p90/p99/p99.9/max and the share under 100 ms")
	fmt.Fprintln(w, "per step and region. Ctrl-C stops the agents and summarises what was recorded; a second")
	fmt.Fprintln(w, "Ctrl-C exits at once.")
	fmt.Fprintln(w)
	printFlags(w, fs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok (every budget met), 1 the run failed (e.g. the target was unreachable),")
	fmt.Fprintln(w, "2 bad usage, bad profile or bad budget, 99 a budget was missed.")
}

// runUsageError reports bad usage and returns exit code 2.
func runUsageError(env *cliEnv, msg string) int {
	return usageError(env, "run", "run", "the flags and their defaults", msg)
}

// runRun is `agentstorm run`.
func runRun(ctx context.Context, env *cliEnv, args []string) int {
	var f runFlags
	fs := newRunFlagSet(&f)
	if code, ok := parseFlags(env, fs, args, printRunUsage, runUsageError); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return runUsageError(env, fmt.Sprintf("unexpected argument %q: run takes only flags (did you mean --profile %s?)", fs.Arg(0), fs.Arg(0)))
	}
	if msg := f.validate(fs); msg != "" {
		return runUsageError(env, msg)
	}
	outs, err := parseOuts(f.outs, true)
	if err != nil {
		return runUsageError(env, err.Error())
	}
	prof, err := loadRunProfile(f.profile, f.env.lookup)
	if err != nil {
		var les profiles.LoadErrors
		if errors.As(err, &les) {
			fmt.Fprintf(env.stderr, "agentstorm run: profile %s is not valid:\n%v\n", f.profile, err)
		} else {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
		}
		return exitUsage
	}
	var notes []string
	if err := applyRunOverrides(prof, &f, fs); err != nil {
		return runUsageError(env, err.Error())
	}
	capacity, limit := agentCapacity()
	var seg agents.Segment
	if f.segment != "" {
		seg, _ = agents.ParseSegment(f.segment) // validated
	}
	start, _ := parseStartAt(f.startAt) // validated
	nWorkers := 1
	chaos := len(prof.ChaosActions) > 0
	if chaos && (f.workers > 1 || !seg.Whole()) {
		return runUsageError(env, "profile "+prof.Name+" has a chaos: schedule (a game day): it runs in one process, so that every order id comes back to the audit; leave out --workers and --segment (at most "+commas(capacity)+" agents)")
	}
	if need, most := stormAgents(prof), machineAgents(capacity); seg.Whole() && !chaos && f.workers == 0 && need > most {
		machines := (need + most - 1) / most
		return runUsageError(env, fmt.Sprintf("the storm needs %s agents at once; one machine runs at most %s (%d worker processes of %s agents each): split it across %d or more machines with --segment 0/%d, 1/%d, ... and the same --start-at",
			commas(need), commas(most), maxAutoWorkers, commas(max(capacity*4/5, 1)), machines, machines, machines))
	}
	if seg.Whole() && !chaos {
		nWorkers = workersFor(prof, capacity, f.workers)
	}
	if nWorkers == 1 && seg.Whole() {
		if n := scaleToCapacity(prof, capacity); n != "" {
			notes = append(notes, fmt.Sprintf("%s: one process holds at most %s agents (open-file limit %d minus %d for the process itself); leave out --workers 1 to spread the storm over worker processes",
				n, commas(capacity), limit, fdMargin))
		}
	}
	if !seg.Whole() && seg.Share(stormAgents(prof)) > capacity {
		notes = append(notes, fmt.Sprintf("segment %s has %s agents, more than this process holds (%s): capped; use more segments",
			seg, commas(seg.Share(stormAgents(prof))), commas(capacity)))
	}
	if len(prof.Flows) == 0 {
		fmt.Fprintf(env.stderr, "agentstorm run: profile %s has no flows\n", prof.Name)
		return exitUsage
	}

	recOpts := agents.RecorderOptions(prof)
	bexprs, bsources := profileBudgets(prof)
	fe, fsrc := flagBudgets(f.budgets)
	bexprs, bsources = append(bexprs, fe...), append(bsources, fsrc...)
	bopts := report.BudgetOptions{Steps: recOpts.Steps, Regions: recOpts.Regions, Writes: recOpts.Writes}
	if chaos {
		bopts.Figures = gameDayFigures()
	}
	budgets, err := report.ParseBudgets(bexprs, bsources, bopts)
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: bad budget:\n%v\n", err)
		return exitUsage
	}

	cfg := agents.Config{Seed: f.seed, Timeout: f.timeout, Insecure: f.insecure, MaxAgents: capacity, Segment: seg, Start: start}
	if len(f.sourceAddrs) > 0 {
		ips, err := agents.ParseSourceAddrs(f.sourceAddrs)
		if err != nil {
			return runUsageError(env, "--source-addr: "+err.Error())
		}
		cfg.SourceAddrs = ips
	}
	bundled := f.target == "bundled" || (f.target == "" && prof.Target.Bundled)
	if bundled && !seg.Whole() {
		return runUsageError(env, "--segment: profile "+prof.Name+" storms the bundled target; give --target URL (every segment must storm the same target)")
	}
	if f.target != "" && f.target != "bundled" {
		cfg.BaseURL = f.target
	}

	// Ctrl-C: the first cancels the run (what was recorded is summarised),
	// the second exits at once.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out syncWriter
	out.w = env.stdout
	var sup *supervisor.Supervisor
	var supMu sync.Mutex
	interrupted, stopWatch := summariseOnInterrupt(ctx, runCtx, env, cancel,
		"\nagentstorm run: interrupted; stopping the agents and summarising what was recorded (Ctrl-C again to exit at once)",
		func() {
			fmt.Fprintln(env.stderr, "agentstorm run: second interrupt; exiting now")
			supMu.Lock()
			if sup != nil {
				_ = sup.Close()
			}
			supMu.Unlock()
		})
	defer stopWatch()

	var logFile *os.File
	if bundled {
		regions := prof.Population.Regions()
		shards := f.shards
		if shards == 0 {
			shards = bundledShards(prof)
		}
		logFile, err = os.CreateTemp("", "agentstorm-target-*.log")
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: bundled target: create its log file: %v\n", err)
			return exitFailed
		}
		defer logFile.Close()
		fmt.Fprintf(env.stdout, "Starting the bundled target: %d shard processes for regions %s...\n", shards, strings.Join(regions, ", "))
		startCtx, startCancel := context.WithTimeout(runCtx, 30*time.Second)
		s, err := supervisor.Start(startCtx, supervisor.Config{Shards: shards, Regions: regions, Listen: "127.0.0.1:0", Log: logFile})
		startCancel()
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: start the bundled target: %v (its log: %s)\n", err, logFile.Name())
			return exitFailed
		}
		supMu.Lock()
		sup = s
		supMu.Unlock()
		defer func() {
			supMu.Lock()
			defer supMu.Unlock()
			if err := sup.Close(); err != nil {
				fmt.Fprintf(env.stderr, "agentstorm run: stop the bundled target: %v\n", err)
			}
		}()
		cfg.RegionURLs = map[string][]string{}
		for _, sh := range sup.Topology().Shards {
			cfg.RegionURLs[sh.Region] = append(cfg.RegionURLs[sh.Region], sh.URL)
		}
	}

	if nWorkers > 1 && start.IsZero() {
		// Time for the workers to start and connect their first agents.
		start = time.Now().Add(time.Second + time.Duration(nWorkers)*100*time.Millisecond)
	}
	if chaos && start.IsZero() {
		// One time zero for the recorder, the swarm and the schedule.
		start = time.Now().Add(200 * time.Millisecond)
		cfg.Start = start
	}
	recOpts.Start = start
	rec := report.NewRecorder(recOpts)
	meta := runMeta(prof, &f, bundled)
	if !seg.Whole() {
		meta["segment"] = seg.String()
	}
	series := report.NewSeriesCollector(rec.Start())
	var hlog *report.LogWriter
	var hlogFile *report.AtomicFile
	for _, o := range outs {
		if o.kind != "hlog" {
			continue
		}
		if hlogFile, err = report.CreateAtomic(o.path); err == nil {
			hlog, err = report.NewLogWriter(hlogFile, report.MetaOf(rec, meta, logBudgets(bexprs, bsources)))
		}
		if err != nil {
			if hlogFile != nil {
				hlogFile.Abort()
			}
			fmt.Fprintf(env.stderr, "agentstorm run: --out hlog=%s: %v\n", o.path, err)
			return exitFailed
		}
		defer hlogFile.Abort() // no-op after Commit
	}
	hlogFailed := false
	live := report.NewLiveChecker(budgets)
	var liveFail *report.LiveFailure
	tty := isTerminal(env.stdout)
	var lastPrint time.Time
	cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
		series.Add(iv)
		if hlog != nil {
			if err := hlog.WriteInterval(iv); err != nil {
				out.printf("\nagentstorm run: --out hlog=%s: %v (the log is not kept)\n", hlogFile.Path(), err)
				hlog, hlogFailed = nil, true
			}
		}
		if liveFail == nil && iv.Duration() >= 500*time.Millisecond {
			if lf := live.Check(iv, st.Elapsed); lf != nil {
				liveFail = lf
				out.printf("\nAborting: %s\n", lf)
				cancel()
			}
		}
		if iv.Duration() < 500*time.Millisecond {
			return // the sliver between the last full second and the end
		}
		line := report.LiveLine(iv, st.Elapsed, st.Planned, int(st.Active)) + fmt.Sprintf("  conns %s", commas(int(st.Connected)))
		if tty {
			out.printf("\r%s\x1b[K", line)
			return
		}
		if now := time.Now(); now.Sub(lastPrint) >= nonTTYEvery-100*time.Millisecond {
			lastPrint = now
			out.printf("%s\n", line)
		}
	}
	// The ramp: when every agent of the peak was first connected.
	peakAgents := stormAgents(prof)
	if !seg.Whole() {
		peakAgents = seg.Share(peakAgents)
	}
	var rampAt time.Duration
	var maxConnected int64
	onIv := cfg.OnInterval
	cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
		maxConnected = max(maxConnected, st.Connected)
		if rampAt == 0 && st.Connected >= int64(peakAgents) {
			rampAt = st.Elapsed
		}
		onIv(iv, st)
	}
	var m *metrics.Metrics // nil when no metrics are exported
	if f.metricsAddr != "" || f.push.target() != "" {
		var labels map[string]string
		if !seg.Whole() {
			labels = map[string]string{"segment": seg.String()}
		}
		m = metrics.New(rec.Steps(), rec.Regions(), labels)
		if f.metricsAddr != "" {
			addr, _, err := m.Serve(runCtx, f.metricsAddr)
			if err != nil {
				fmt.Fprintf(env.stderr, "agentstorm run: --metrics-addr: %v\n", err)
				return exitUsage
			}
			notes = append(notes, "Prometheus metrics at http://"+addr+"/metrics")
		}
		stopPush, note, err := startRemoteWrite(m, &f.push, env.stderr)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: --remote-write: %v\n", err)
			return exitUsage
		}
		if stopPush != nil {
			defer stopPush()
			notes = append(notes, note)
		}
		withMetrics := cfg.OnInterval
		cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
			m.Observe(iv, metrics.Snapshot{Active: st.Active, Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors})
			withMetrics(iv, st)
		}
	}

	var gd *gameDay
	if chaos {
		desc := cfg.BaseURL
		if desc == "" {
			desc = describeTarget(prof.Target)
		}
		gd, err = newGameDay(runCtx, prof, sup, desc, start, rec.Regions(), &out, tty)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return exitFailed
		}
		notes = append(notes, "game day: "+describeChaos(prof.ChaosActions))
		gd.exportChaos(m)
		cfg.OnAnswer = gd.onAnswer
		withGameDay := cfg.OnInterval
		cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
			gd.tl.Add(iv)
			withGameDay(iv, st)
		}
		gd.start(runCtx)
	}

	var runErr error
	var sum *report.Summary
	var st agents.Stats
	if nWorkers > 1 {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: find this executable to start workers: %v\n", err)
			return exitFailed
		}
		dir, err := os.MkdirTemp("", "agentstorm-workers-*")
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return exitFailed
		}
		printRunBanner(env.stdout, prof, &f, fmt.Sprintf("%d worker processes of about %s agents each (segments 0/%d…%d/%d; their logs in %s)",
			nWorkers, commas((stormAgents(prof)+nWorkers-1)/nWorkers), nWorkers, nWorkers-1, nWorkers, dir), bundled, sup, notes)
		lastPrint = time.Now()
		res, cerr := runCoordinator(runCtx, coordConfig{
			Command: func(i int) *exec.Cmd {
				return f.env.passTo(exec.Command(exe, workerArgs(&f, fs, agents.Segment{Index: i, Count: nWorkers}, start, cfg.BaseURL, cfg.RegionURLs)...))
			},
			Workers: nWorkers, Start: start, Planned: prof.Workload.Duration(),
			Steps: rec.Steps(), Regions: rec.Regions(), Dir: dir, FailOnLoss: f.failOnLoss,
			OnInterval: cfg.OnInterval,
			OnLoss:     func(l workerLoss) { out.printf("\nWorker lost: %s\n", l) },
		})
		sum, st, runErr = coordinatedSummary(res, cerr, f.failOnLoss)
		if sum == nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", runErr)
			return exitFailed
		}
		for _, l := range res.Losses {
			notes = append(notes, "lost "+l.String())
		}
		if len(res.Losses) == 0 {
			_ = os.RemoveAll(dir)
		}
	} else {
		sw, err := agents.New(cfg, prof, rec)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return exitUsage
		}
		printRunBanner(env.stdout, prof, &f, fmt.Sprintf("at most %s agents in this process", commas(sw.MaxAgents())), bundled, sup, notes)
		lastPrint = time.Now()
		runErr = sw.Run(runCtx)
		sum = rec.Summary(sw.Elapsed())
		for _, fl := range sw.Failures() {
			sum.Failures = append(sum.Failures, report.CheckFailure{Step: fl.Step, Kind: fl.Kind, Status: fl.Status, Count: fl.Count})
		}
		st = sw.Stats()
	}
	if tty {
		out.printf("\n")
	}
	select {
	case <-interrupted:
		out.printf("Interrupted after %s: the summary covers what was recorded until then.\n", report.FormatDuration(sum.Elapsed.Round(time.Millisecond)))
	default:
	}
	out.printf("\n")
	sum.Meta = meta
	sum.Series = series.Points()
	sum.Aborted = liveFail
	if gd != nil {
		gd.finish(ctx, sum, &out)
	}
	results := report.EvaluateBudgets(budgets, sum)
	report.MarkAborted(results, liveFail)
	out.mu.Lock()
	werr := report.WriteText(env.stdout, sum)
	out.mu.Unlock()
	if werr != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: write the summary: %v\n", werr)
	}
	ramp := ""
	if st.FullAt > 0 {
		rampAt = st.FullAt // measured at the connect, not once a second
	}
	if prof.Workload.Model != profiles.Open && peakAgents > 0 {
		if rampAt > 0 {
			ramp = fmt.Sprintf("all %s agents of the peak connected %s after the start", commas(peakAgents), report.FormatDuration(rampAt.Round(10*time.Millisecond)))
		} else {
			ramp = fmt.Sprintf("at most %s of the peak's %s agents were connected at once", commas(int(maxConnected)), commas(peakAgents))
		}
	}
	printRunFootnotes(&out, st, sum.Failures, ramp, notes)
	if sup != nil {
		out.printf("Bundled target: stopping %d shards; their order stores stay in %s (shard logs: %s)\n",
			len(sup.Topology().Shards), sup.DataDir(), logFile.Name())
	}
	outErr := hlogFailed
	if hlog != nil {
		err := hlog.Close(sum)
		if err == nil {
			err = hlogFile.Commit()
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: --out hlog=%s: %v\n", hlogFile.Path(), err)
			outErr = true
		} else {
			out.printf("Wrote hlog: %s\n", hlogFile.Path())
		}
	}
	out.mu.Lock()
	werr = writeOutputs(env.stdout, outs, sum)
	out.mu.Unlock()
	if werr != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: %v\n", werr)
		outErr = true
	}
	if runErr != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: the run failed: %v\n", runErr)
		return exitFailed
	}
	return budgetExit(env, "run", results, outErr)
}

// runMeta is the run's metadata for the outputs.
func runMeta(prof *profiles.Profile, f *runFlags, bundled bool) map[string]string {
	m := map[string]string{"profile": prof.Name, "model": string(prof.Workload.Model), "seed": fmt.Sprint(f.seed)}
	if prof.File != "" {
		m["profile_file"] = prof.File
	}
	switch {
	case bundled:
		m["target"] = "bundled"
	case f.target != "":
		m["target"] = f.target
	default:
		m["target"] = describeTarget(prof.Target)
	}
	m["version"] = version
	return m
}

// validate returns a message naming the first bad flag value, or "".
func (f *runFlags) validate(fs *pflag.FlagSet) string {
	switch {
	case f.env.check() != "":
		return f.env.check()
	case f.agents < 0:
		return fmt.Sprintf("--agents %d: want a number of agents above 0", f.agents)
	case fs.Changed("agents") && f.agents == 0:
		return "--agents 0: want a number of agents above 0"
	case f.duration < 0 || (fs.Changed("duration") && f.duration == 0):
		return fmt.Sprintf("--duration %s: want a length above 0, such as 30s or 2m", f.duration)
	case f.ramp < 0:
		return fmt.Sprintf("--ramp %s: want 0 or more", f.ramp)
	case fs.Changed("think") && f.think < 0:
		return fmt.Sprintf("--think %s: want 0 or more", f.think)
	case f.timeout < 0 || (fs.Changed("timeout") && f.timeout == 0):
		return fmt.Sprintf("--timeout %s: want a length above 0, such as 2s", f.timeout)
	case f.shards < 0 || f.shards > 1024:
		return fmt.Sprintf("--shards %d: want 1 to 1024", f.shards)
	case f.target != "" && f.target != "bundled" && !strings.HasPrefix(f.target, "http://") && !strings.HasPrefix(f.target, "https://"):
		return fmt.Sprintf("--target %q: want a base URL such as http://127.0.0.1:8081 or https://shop.example.com, or \"bundled\"", f.target)
	case fs.Changed("shards") && f.target != "" && f.target != "bundled":
		return "--shards applies only to the bundled target, not to --target " + f.target
	case f.workers < 0 || f.workers > 256:
		return fmt.Sprintf("--workers %d: want 1 to 256 (0: as many as needed)", f.workers)
	case f.segment != "" && f.workers > 1:
		return "--segment runs one segment in this process: leave out --workers (or give more segments)"
	case f.segment != "" && f.target == "bundled":
		return "--segment: give --target URL (every segment must storm the same target; a bundled target would be one per segment)"
	}
	if f.segment != "" {
		if _, err := agents.ParseSegment(f.segment); err != nil {
			return "--segment: " + err.Error()
		}
	}
	if _, err := parseStartAt(f.startAt); err != nil {
		return err.Error()
	}
	return ""
}

// loadRunProfile loads a built-in by name, or a file when name looks like a
// path or exists, its ${NAME}s from lookup.
func loadRunProfile(name string, lookup profiles.Lookup) (*profiles.Profile, error) {
	isFile := strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
	if !isFile {
		if fi, err := os.Stat(name); err == nil && !fi.IsDir() {
			isFile = true
		}
	}
	if isFile {
		p, err := profiles.LoadFileWith(name, lookup)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return profiles.Builtin(name)
}

// applyRunOverrides rewrites prof's workload from the flags: --agents scales
// the stages to a new peak (closed) or sets the session cap (open);
// --duration/--ramp make the stages a ramp and a hold; --think replaces the
// think time.
func applyRunOverrides(prof *profiles.Profile, f *runFlags, fs *pflag.FlagSet) error {
	w := &prof.Workload
	open := w.Model == profiles.Open
	if fs.Changed("think") {
		if f.think == 0 {
			w.Think = profiles.Think{Kind: profiles.ThinkNone}
		} else {
			w.Think = profiles.Think{Kind: profiles.ThinkConstant, Min: f.think, Max: f.think, Mean: f.think}
		}
	}
	peak := w.Peak()
	if fs.Changed("agents") {
		if open {
			w.MaxAgents = f.agents
		} else {
			scaleStages(w, f.agents, peak)
			peak = f.agents
		}
	}
	if fs.Changed("duration") || fs.Changed("ramp") {
		d := f.duration
		if !fs.Changed("duration") {
			d = w.Duration()
		}
		ramp := f.ramp
		if !fs.Changed("ramp") {
			ramp = 0
			if len(w.Stages) > 0 {
				ramp = w.Stages[0].Duration
			}
		}
		ramp = min(ramp, d)
		if peak < 1 {
			peak = 1
		}
		w.Stages = []profiles.Stage{{Duration: ramp, Target: peak}}
		if d > ramp {
			w.Stages = append(w.Stages, profiles.Stage{Duration: d - ramp, Target: peak})
		}
	}
	if w.Duration() <= 0 {
		return errors.New("the workload lasts 0 s: give --duration")
	}
	return nil
}

// scaleStages multiplies every stage target so the peak becomes to.
func scaleStages(w *profiles.Workload, to, peak int) {
	if peak <= 0 {
		for i := range w.Stages {
			w.Stages[i].Target = to
		}
		return
	}
	k := float64(to) / float64(peak)
	for i := range w.Stages {
		w.Stages[i].Target = int(math.Round(float64(w.Stages[i].Target) * k))
	}
}

// scaleToCapacity caps the agents at what one process can hold and returns
// a note saying so ("" when nothing changed).
func scaleToCapacity(prof *profiles.Profile, capacity int) string {
	w := &prof.Workload
	if w.Model == profiles.Open {
		if w.MaxAgents == 0 || w.MaxAgents > capacity {
			was := w.MaxAgents
			w.MaxAgents = capacity
			if was > capacity {
				return fmt.Sprintf("the profile allows %s concurrent sessions; capped at %s", commas(was), commas(capacity))
			}
		}
		return ""
	}
	peak := w.Peak()
	if peak <= capacity {
		return ""
	}
	scaleStages(w, capacity, peak)
	return fmt.Sprintf("the profile asks for %s agents; scaled to %s (every stage by the same factor)", commas(peak), commas(w.Peak()))
}

// agentCapacity returns how many agents (one socket each) this process can
// hold: the open-file limit minus fdMargin, and the limit itself.
func agentCapacity() (int, int) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1000, 1000 + fdMargin
	}
	if rl.Cur < rl.Max { // Go raises it at start already; be sure
		rl.Cur = rl.Max
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		}
	}
	lim := int(min(rl.Cur, 1<<30))
	return max(lim-fdMargin, 1), lim
}

// printRunBanner says what is about to run; procs says which processes
// run the agents.
func printRunBanner(w io.Writer, prof *profiles.Profile, f *runFlags, procs string, bundled bool, sup *supervisor.Supervisor, notes []string) {
	wl := prof.Workload
	src := prof.File
	if src == "" {
		src = f.profile
	}
	fmt.Fprintf(w, "Profile %s (%s): %s model, %s\n", prof.Name, src, wl.Model, describeStages(wl))
	switch {
	case bundled:
		t := sup.Topology()
		regs := make([]string, 0, len(t.Regions))
		for r, u := range t.Regions {
			regs = append(regs, r+"="+u)
		}
		sort.Strings(regs)
		fmt.Fprintf(w, "Target: the bundled checkout, %d shards (%s); data in %s\n", len(t.Shards), strings.Join(regs, " "), sup.DataDir())
	case f.target != "":
		fmt.Fprintf(w, "Target: %s\n", f.target)
	default:
		fmt.Fprintf(w, "Target: the profile's (%s)\n", describeTarget(prof.Target))
	}
	fmt.Fprintf(w, "Think time: %s; seed %d; %s\n", describeThink(wl.Think), f.seed, procs)
	for _, n := range notes {
		fmt.Fprintf(w, "Note: %s.\n", n)
	}
	fmt.Fprintln(w)
}

// printRunFootnotes adds what the summary does not say.
func printRunFootnotes(out *syncWriter, st agents.Stats, fails []report.CheckFailure, ramp string, notes []string) {
	if ramp != "" {
		out.printf("Ramp: %s.\n", ramp)
	}
	out.printf("Connections: %s dials, %s failed.\n", commas(int(st.Dials)), commas(int(st.DialErrors)))
	if len(fails) > 0 {
		parts := make([]string, 0, len(fails))
		for i, f := range fails {
			if i == 8 {
				parts = append(parts, fmt.Sprintf("and %d more", len(fails)-i))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s (status %d) ×%s", f.Step, f.Kind, f.Status, commas(int(f.Count))))
		}
		out.printf("Failed checks: %s.\n", strings.Join(parts, ", "))
	}
	for _, n := range notes {
		out.printf("Note: %s.\n", n)
	}
}

func describeStages(w profiles.Workload) string {
	unit := "agents"
	if w.Model == profiles.Open {
		unit = "sessions/s"
	}
	parts := make([]string, 0, len(w.Stages))
	for _, s := range w.Stages {
		parts = append(parts, fmt.Sprintf("%s over %s", commas(s.Target), s.Duration))
	}
	d := fmt.Sprintf("%s in all; stages (%s, ramping linearly to each level) %s", w.Duration(), unit, strings.Join(parts, ", "))
	if w.Model == profiles.Open && w.MaxAgents > 0 {
		d += fmt.Sprintf("; at most %s concurrent sessions", commas(w.MaxAgents))
	}
	return d
}

func describeThink(t profiles.Think) string {
	switch t.Kind {
	case profiles.ThinkConstant:
		return report.FormatDuration(t.Min) + " constant"
	case profiles.ThinkUniform:
		return fmt.Sprintf("uniform %s…%s", report.FormatDuration(t.Min), report.FormatDuration(t.Max))
	case profiles.ThinkExponential:
		return "exponential, mean " + report.FormatDuration(t.Mean)
	}
	return "none"
}

func describeTarget(t profiles.Target) string {
	if t.BaseURL != "" {
		return t.BaseURL
	}
	regs := make([]string, 0, len(t.Regions))
	for r, u := range t.Regions {
		regs = append(regs, r+"="+u)
	}
	sort.Strings(regs)
	return strings.Join(regs, " ")
}

// commas formats n with thousands separators.
func commas(n int) string { return report.FormatCount(int64(n)) }

// isTerminal reports whether w is a terminal (a live line is redrawn in
// place there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// syncWriter serialises the live line and the run's own messages.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	fmt.Fprintf(s.w, format, args...)
	s.mu.Unlock()
}
