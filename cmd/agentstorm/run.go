package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// nonTTYEvery is how often the live line is printed when stdout is not a
// terminal (CI logs).
const nonTTYEvery = 5 * time.Second

func runCommand() command {
	return command{
		name:    "run",
		summary: "storm a target with a profile's agents and summarise every answer (default: agent-storm against the bundled target)",
		run:     runRun,
		flags:   func() *pflag.FlagSet { return newRunFlagSet(&runFlags{}) },
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
	tls         profiles.TLS
	maxBody     byteSize
	maxHeader   byteSize
	shards      int
	budgets     []string
	outs        []string
	workers     int
	failOnLoss  bool
	keepData    bool
	segment     string
	startAt     string
	metricsAddr string
	dashboard   string
	push        pushFlags
	env         envVars
	quiet       bool
}

// newRunFlagSet declares every flag of `agentstorm run` into f.
func newRunFlagSet(f *runFlags) *pflag.FlagSet {
	fs := newCommandFlagSet("agentstorm run")
	fs.StringVar(&f.profile, "profile", profiles.DefaultBuiltin, "built-in profile NAME (see 'agentstorm profiles list') or profile FILE (.yaml)")
	addEnvFlag(fs, &f.env)
	fs.StringVar(&f.target, "target", "", `base URL every request goes to (http://HOST:PORT, https://...), or "bundled" to start the reference checkout (default: the profile's target)`)
	fs.IntVarP(&f.agents, "agents", "u", 0, "peak agents (closed model) or sessions in flight (open model, levels: in_flight): the stages are scaled to it; most concurrent sessions (open model, per-second levels); -u as k6's --vus")
	fs.DurationVarP(&f.duration, "duration", "d", 0, "run length: the stages become a ramp (--ramp) and a hold for the rest")
	fs.DurationVar(&f.ramp, "ramp", 0, "ramp from 0 to the peak over this long, then hold (default with --duration: the profile's first stage, at most the duration)")
	fs.DurationVar(&f.think, "think", 0, "constant think time between an agent's requests, replacing the profile's (0: none)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of every agent's random choices: the same seed makes the same choices")
	fs.DurationVar(&f.timeout, "timeout", 0, "per-request timeout, replacing every step's own (default: the profile's, 10s unless set)")
	fs.StringSliceVar(&f.sourceAddrs, "source-addr", nil, "local IP addresses to dial from, round-robin by agent (for remote targets; loopback targets spread over 127.0.0.2... by themselves)")
	fs.BoolVar(&f.insecure, "insecure", false, "skip TLS certificate verification for https targets")
	addTLSFlags(fs, &f.tls)
	fs.Var(&f.maxBody, "max-body-size", "cap on an answer's body, such as 32MiB (default 8MiB); an answer over it is counted as body_too_large")
	fs.Var(&f.maxHeader, "max-header-size", "cap on an answer's header, such as 256KiB (default 64KiB); an answer over it is counted as header_too_large")
	fs.IntVar(&f.shards, "shards", 0, "bundled target: number of shard processes (default: one per region of the profile, more for large storms)")
	fs.StringArrayVar(&f.budgets, "budget", nil, "a budget the run must meet, such as 'add_to_cart p99 < 100ms' or 'errors < 0.1% abort' (repeatable; added to the profile's budgets; see docs/ci.md)")
	addOutFlag(fs, &f.outs, "hlog is written as the run goes")
	addQuietFlag(fs, &f.quiet, "nor the banner and the live line; aborts, warnings and errors still print")
	fs.IntVar(&f.workers, "workers", 0, "processes to spread the agents over: this one and N-1 worker processes (default: as many as the open-file limit requires; 1: this process only)")
	fs.BoolVar(&f.keepData, "keep-data", false, "keep the bundled target's order stores and shard log after the run (removed otherwise, unless a game day's audit names orders in them)")
	fs.BoolVar(&f.failOnLoss, "fail-on-worker-loss", false, "stop the whole storm at once when a worker process dies, instead of finishing with the rest (a lost worker exits 1 either way)")
	fs.StringVar(&f.segment, "segment", "", "run only segment I of N of the storm (I/N, from 0), for storms spread over machines; merge with 'agentstorm report merge'")
	fs.StringVar(&f.startAt, "start-at", "", "wait until this time (RFC 3339, e.g. 2026-11-26T18:00:00Z) and start the stages from it, so segments on several hosts start together")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics (latency as classic and native histograms) at http://ADDR/metrics, e.g. :9464")
	addPushFlags(fs, &f.push)
	addDashboardFlag(fs, &f.dashboard)
	return fs
}

func printRunUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Usage: agentstorm run [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs a profile's agents against a target and measures every answer in HDR histograms.")
	fmt.Fprintln(w, "With no flags it storms the bundled reference checkout (started on loopback and stopped")
	fmt.Fprintln(w, "at the end) with the default profile, agent-storm. A live line shows progress; at the end")
	fmt.Fprintln(w, "a summary gives count, req/s, errors, p50/p90/p99/p99.9/max and the share under 100 ms")
	fmt.Fprintln(w, "per step and region, and how busy the machine's CPUs were (Linux; figure machine_busy).")
	fmt.Fprintln(w, "Ctrl-C stops the agents and summarises what was recorded; a second Ctrl-C exits at once.")
	fmt.Fprintln(w)
	printFlags(w, fs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok (every budget met), 1 the run failed (no request answered, the target")
	fmt.Fprintln(w, "unreachable, a worker lost), 2 bad usage, bad profile, bad budget or an --out path that cannot")
	fmt.Fprintln(w, "be written, 99 a budget was missed, 105 interrupted (Ctrl-C, SIGTERM). Every output says how")
	fmt.Fprintln(w, "the run ended (JSON status, a failing JUnit case).")
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
	s, code := newStorm(env, &f, fs) // flags, profile, plan, budgets, outputs
	if s == nil {
		return code
	}
	// Ctrl-C: the first cancels the run (what was recorded is summarised),
	// the second exits at once.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupted, stopWatch := summariseOnInterrupt(ctx, runCtx, env, cancel,
		"\nagentstorm run: interrupted; stopping the agents and summarising what was recorded (Ctrl-C again to exit at once)",
		s.killTarget)
	defer stopWatch()
	if code := s.startTarget(runCtx); code != exitOK {
		return code
	}
	defer s.stopTarget()
	defer s.abortHlog()                                    // a log not committed is removed
	defer s.dash.close()                                   // the dashboard serves until the command exits
	if code := s.prepare(runCtx, cancel); code != exitOK { // recorder, hlog, observers
		return code
	}
	defer s.checkout.close()
	s.machine = watchMachine()
	defer s.machine.w.Stop()
	sum, st, runErr, code := s.run(runCtx)
	if sum == nil {
		return code
	}
	return s.finish(ctx, sum, st, runErr, interrupted)
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
	m["version"] = buildVersion()
	if !prof.HasPatience() {
		m[report.MetaNoPatience] = "1"
	}
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

// overrides are the flags that change the profile's workload.
func (f *runFlags) overrides(fs *pflag.FlagSet) profiles.Overrides {
	o := profiles.Overrides{Agents: f.agents, Duration: f.duration}
	if fs.Changed("ramp") {
		o.Ramp = &f.ramp
	}
	if fs.Changed("think") {
		o.Think = &f.think
	}
	return o
}
