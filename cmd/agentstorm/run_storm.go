package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
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
	budgets          []*budget.Budget
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
	losses     []string // workers lost, as fleet.Loss says them
	liveFail   *report.LiveFailure
	lastPrint  time.Time
	peakAgents int
	ramp       rampWatch
	gd         *gameDay
	checkout   *checkoutWatch // the bundled target's order queue, read while the run goes
	machine    machineWatch   // the machine's CPUs and the run's processes, read while the run goes
	// checkoutLine is checkout's footnote, taken when the run ends.
	checkoutLine string
	// machineLine is the footnote on the machine's load over the run.
	machineLine string
	stopPush    func() // the metrics' remote write, when pushed
	dash        *liveDashboard
	lostLive    int // workers lost so far (told by the merging goroutine, as the intervals)
}

// newStorm checks the flags, loads the profile, plans the processes and
// parses the budgets and outputs. A nil storm comes with the exit code.
func newStorm(env *cliEnv, f *runFlags, fs *pflag.FlagSet) (*storm, int) {
	if fs.NArg() > 0 && fs.Changed("dashboard") && f.dashboard == defaultDashboardAddr && strings.Contains(fs.Arg(0), ":") {
		return nil, runUsageError(env, fmt.Sprintf("unexpected argument %q: give the dashboard's address with =, as --dashboard=%s", fs.Arg(0), fs.Arg(0)))
	}
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
	bopts := budget.Options{Steps: recOpts.Steps, Regions: recOpts.Regions, Writes: recOpts.Writes}
	bopts.Figures = machineFigureUnits()
	if s.chaos {
		maps.Copy(bopts.Figures, gameday.FigureUnits())
	}
	if f.target == "bundled" || (f.target == "" && prof.Target.Bundled) { // the checkout's own figures
		maps.Copy(bopts.Figures, checkoutFigureUnits())
	}
	if s.budgets, err = budget.ParseAll(s.bexprs, s.bsources, bopts); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: bad budget:\n%v\n", err)
		return nil, exitUsage
	}
	s.cfg = agents.Config{Seed: f.seed, Timeout: f.timeout, Insecure: f.insecure, TLS: f.tls, MaxAgents: s.capacity,
		MaxBodySize: int(f.maxBody), MaxHeaderSize: int(f.maxHeader), Segment: s.seg, Start: s.start}
	if len(f.sourceAddrs) > 0 {
		ips, err := agents.ParseSourceAddrs(f.sourceAddrs)
		if err != nil {
			return nil, runUsageError(env, "--source-addr: "+err.Error())
		}
		s.cfg.SourceAddrs = ips
	}
	if !f.tls.IsZero() {
		if _, err := prof.Target.TLS.Over(f.tls).Config("", f.insecure); err != nil {
			return nil, runUsageError(env, "TLS flags: "+err.Error())
		}
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

// chatter is where what --quiet leaves out goes: the banner and the
// bundled target's start.
func (s *storm) chatter() io.Writer {
	if s.f.quiet {
		return io.Discard
	}
	return s.env.stdout
}

// stopMetrics stops pushing the metrics (a last push first), if pushed.
func (s *storm) stopMetrics() {
	if s.stopPush != nil {
		s.stopPush()
	}
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
	fmt.Fprintf(s.chatter(), "Starting the bundled target: %d shard processes for regions %s...\n", shards, strings.Join(regions, ", "))
	startCtx, startCancel := context.WithTimeout(ctx, 30*time.Second)
	sup, err := supervisor.Start(startCtx, supervisor.Config{Shards: shards, Regions: regions, Listen: "127.0.0.1:0", Log: s.logFile, KeepData: s.f.keepData})
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
	if !s.sup.DataKept() {
		_ = os.Remove(s.logFile.Name())
	}
}
