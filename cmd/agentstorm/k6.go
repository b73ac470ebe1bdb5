package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/k6"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/finish"
	"github.com/agentstorm/agentstorm/report/hlog"
)

func k6Command() command {
	return command{
		name:    "k6",
		summary: "ingest a k6 run's results (k6 run --out json=FILE or csv=FILE): HDR percentiles, budgets, every output",
		run:     runK6,
		flags:   func() *pflag.FlagSet { return newK6FlagSet(&k6Flags{}) },
		subs:    []string{"ingest"},
		args:    true,
	}
}

// k6Flags are the flags of `agentstorm k6 ingest`.
type k6Flags struct {
	stepTag, regionTag string
	trends             []string
	budgets, outs      []string
	follow, strict     bool
	dashboard          string
	idle, window       time.Duration
	maxSteps           int
	quiet              bool
	saleSteps          []string
	orderValue         float64
}

func newK6FlagSet(f *k6Flags) *pflag.FlagSet {
	fs := newCommandFlagSet("agentstorm k6 ingest")
	fs.StringArrayVar(&f.budgets, "budget", nil, "a budget the run must meet, such as 'p99 < 100ms', 'name=checkout p99 < 100ms', 'checks >= 99%' or 'dropped_iterations == 0' (repeatable)")
	addOutFlag(fs, &f.outs, "")
	fs.BoolVarP(&f.follow, "follow", "f", false, "follow the file while k6 is still writing it (it may not exist yet: start before k6; live line and live budget aborts), until Ctrl-C or --idle-timeout")
	addDashboardFlag(fs, &f.dashboard)
	fs.DurationVar(&f.idle, "idle-timeout", 10*time.Second, "with --follow: stop when the file has not grown for this long")
	fs.StringVar(&f.stepTag, "step-tag", "name", "the tag that names a request's step (k6 sets name to the URL unless the script names the request)")
	fs.StringVar(&f.regionTag, "region-tag", "", "a tag that names a request's region (default: one region)")
	fs.StringArrayVar(&f.trends, "trend", nil, "another Trend metric to record as a step of its own name, such as http_req_waiting or a custom trend (repeatable)")
	fs.StringArrayVar(&f.saleSteps, "sale-step", nil, "a step whose OK answers are sales, such as checkout, for the sessions' sales and budgets like 'sales >= 1000' (repeatable)")
	fs.Float64Var(&f.orderValue, "order-value", 0, "with --sale-step: the value of a sale, such as 85.00 (kept in cents), for the sales value")
	fs.IntVar(&f.maxSteps, "max-steps", k6.DefaultMaxSteps, "most distinct step names; further names are recorded as step \"other\"")
	fs.DurationVar(&f.window, "window", k6.DefaultWindow, "out-of-order window (whole seconds): points this late still land in their own second of k6 time; the live line lags by it")
	fs.BoolVar(&f.strict, "strict", false, "stop at the first malformed line (exit 1) instead of reporting and skipping it")
	addQuietFlag(fs, &f.quiet, "")
	return fs
}

func printK6Usage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Usage: agentstorm k6 ingest FILE|- [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Reads the results of a k6 run, written with `k6 run --out json=results.json script.js`")
	fmt.Fprintln(w, "(or --out csv=results.csv; plain or gzip; '-' reads standard input), into agentstorm's HDR")
	fmt.Fprintln(w, "recorder: fixed memory whatever the length of the run, the sub-100 ms compliance headline,")
	fmt.Fprintln(w, "budgets with exit 99, and every output (an hlog re-renders with `agentstorm report`).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each http_req_duration point is one request of the step named by its name tag (--step-tag),")
	fmt.Fprintln(w, "its outcome from the status, expected_response and error_code tags. Counters, rates and")
	fmt.Fprintln(w, "gauges (checks, iterations, dropped_iterations, vus, http_req_failed, custom ones) are figures")
	fmt.Fprintln(w, "budgets can judge. Points are bucketed by their own timestamps (k6 time).")
	fmt.Fprintln(w, "Iterations are sessions: each iterations point a completed session, dropped_iterations")
	fmt.Fprintln(w, "dropped ones, an OK answer of a --sale-step a sale. k6's VUs have no patience, so abandonment")
	fmt.Fprintln(w, "is not measured: budgets on abandoned and lost_sales (and on sales without --sale-step) are")
	fmt.Fprintln(w, "missed with no data, saying so (README: \"Already using k6?\").")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "k6 is AGPL: agentstorm imports nothing of it and reads only its documented output formats.")
	fmt.Fprintln(w)
	printFlags(w, fs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Malformed lines are reported with their line number and skipped (a cut-short last line too);")
	fmt.Fprintln(w, "with --strict the first one stops the ingest: what was read before is still summarised and")
	fmt.Fprintln(w, "written, and the exit code is 1.")
	fmt.Fprintln(w, "Exit codes: 0 ok (every budget met), 1 the input could not be read (or --strict met a bad line),")
	fmt.Fprintln(w, "or nothing to judge (no request recorded, or a time line broken by points over 24 h off),")
	fmt.Fprintln(w, "2 bad usage or bad budget, 99 a budget was missed, 105 the ingest was interrupted.")
}

func k6UsageError(env *cliEnv, msg string) int {
	return usageError(env, "k6", "k6 ingest", "the flags", msg)
}

// runK6 is `agentstorm k6`.
func runK6(ctx context.Context, env *cliEnv, args []string) int {
	var f k6Flags
	fs := newK6FlagSet(&f)
	if len(args) == 0 || (args[0] != "ingest" && args[0] != "-h" && args[0] != "--help" && args[0] != "help") {
		if len(args) > 0 {
			return k6UsageError(env, fmt.Sprintf("unknown subcommand %q: want `agentstorm k6 ingest FILE`", args[0]))
		}
		return k6UsageError(env, "want `agentstorm k6 ingest FILE`")
	}
	if args[0] != "ingest" {
		printK6Usage(env.stdout, fs)
		return exitOK
	}
	if code, ok := parseFlags(env, fs, args[1:], printK6Usage, k6UsageError); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return k6UsageError(env, fmt.Sprintf("give one input, the file k6 wrote with --out json=FILE (or - for standard input); got %d", fs.NArg()))
	}
	input := fs.Arg(0)
	switch {
	case f.follow && input == "-":
		return k6UsageError(env, "--follow reads a file k6 is writing; standard input is already read as it arrives")
	case f.idle <= 0:
		return k6UsageError(env, fmt.Sprintf("--idle-timeout %s: want a duration above 0", f.idle))
	case f.window <= 0 || f.window%time.Second != 0:
		return k6UsageError(env, fmt.Sprintf("--window %s: want whole seconds above 0, such as 2s (k6 time is binned by the second)", f.window))
	case f.maxSteps < 2:
		return k6UsageError(env, fmt.Sprintf("--max-steps %d: want at least 2", f.maxSteps))
	case f.orderValue < 0 || f.orderValue > 1e12 || math.IsNaN(f.orderValue):
		return k6UsageError(env, fmt.Sprintf("--order-value %v: want an amount from 0 to 1e12, such as 85.00", f.orderValue))
	case f.orderValue > 0 && len(f.saleSteps) == 0:
		return k6UsageError(env, "--order-value is the value of a sale: name the sale step with --sale-step")
	case strings.TrimSpace(f.stepTag) == "":
		return k6UsageError(env, "--step-tag: want a tag name, such as name")
	}
	outs, err := finish.ParseSpecs(f.outs, true)
	if err != nil {
		return k6UsageError(env, err.Error())
	}
	bexprs, bsources := flagBudgets(f.budgets)
	if err := checkK6Budgets(bexprs, bsources); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm k6: bad budget:\n%v\n", err)
		return exitUsage
	}

	// The input.
	var r io.Reader
	name := input
	if input == "-" {
		r, name = os.Stdin, "standard input"
	} else {
		file, err := os.Open(input)
		if errors.Is(err, os.ErrNotExist) && f.follow {
			file, err = waitForFile(ctx, env, input, f.idle)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm k6: %v\n", err)
			return exitFailed
		}
		defer file.Close()
		if fi, err := file.Stat(); err == nil && fi.IsDir() {
			return k6UsageError(env, fmt.Sprintf("%s is a directory: give the file k6 wrote with --out json=FILE or --out csv=FILE", input))
		}
		r = file
	}

	// Ctrl-C stops reading and summarises; a second one exits at once.
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	interrupted, stopWatch := summariseOnInterrupt(ctx, readCtx, env, cancel,
		"\nagentstorm k6: interrupted; summarising what was read (Ctrl-C again to exit at once)", nil)
	defer stopWatch()
	if file, ok := r.(*os.File); ok && f.follow {
		r = k6.NewFollowReader(readCtx, file, f.idle, 100*time.Millisecond)
	}

	var out syncWriter
	out.w = env.stdout
	meta := map[string]string{"source": "k6", "input": name, "step_tag": f.stepTag, "version": version,
		"model": "closed (k6 VUs; latency from the send)"}
	if f.regionTag != "" {
		meta["region_tag"] = f.regionTag
	}
	if len(f.saleSteps) > 0 { // sales are measured (report.SessionsUnmeasured)
		meta[report.MetaSaleSteps] = strings.Join(f.saleSteps, ",")
	}
	var spool *hlog.Spool
	if o, ok := finish.Find(outs, "hlog"); ok {
		spool = hlog.NewSpool(o.Path, hlog.Budgets(bexprs, bsources))
	}
	defer spool.Cleanup()

	k := &k6Ingest{out: &out, meta: meta, spool: spool, live: k6Live{exprs: bexprs, sources: bsources},
		showLive: f.follow || input == "-", tty: isTerminal(env.stdout), cancel: cancel}
	if k.dash, err = startDashboard(context.WithoutCancel(ctx), f.dashboard, nil, &out, env.stderr, "agentstorm k6"); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm k6: %v\n", err)
		return exitUsage
	}
	defer k.dash.close() // the dashboard serves until the command exits
	k.in = k6.New(k6.Options{
		StepTag: f.stepTag, RegionTag: f.regionTag, Trends: f.trends, MaxSteps: f.maxSteps,
		Window: f.window, Strict: f.strict, OnInterval: k.onInterval,
		SaleSteps: f.saleSteps, OrderValue: int64(math.Round(f.orderValue * 100)),
		Warn: func(msg string) { out.printf("agentstorm k6: %s\n", msg) },
	})
	if k.showLive {
		out.printf("Reading %s (k6 results; live line per second of k6 time)...\n", name)
	}
	readErr := k.in.Read(readCtx, r, name)
	if k.showLive && k.tty {
		out.printf("\n")
	}
	stopped := ""
	select {
	case <-interrupted:
		out.printf("Interrupted: the summary covers what was read until then.\n")
		stopped = "the ingest was interrupted (Ctrl-C or SIGTERM) before the end of the input"
	default:
	}
	return k.finish(env, &f, outs, name, readErr, stopped)
}
