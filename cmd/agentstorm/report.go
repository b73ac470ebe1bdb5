package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/k6"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
	"github.com/agentstorm/agentstorm/report/finish"
	"github.com/agentstorm/agentstorm/report/hlog"
)

func reportCommand() command {
	return command{
		name:    "report",
		summary: "re-render, merge or compare saved runs (.hlog): text, json, junit, hgrm, markdown, html; budgets re-judged",
		run:     runReport,
		flags:   func() *pflag.FlagSet { return newReportFlagSet("agentstorm report", &reportFlags{}) },
		subs:    []string{"merge", "compare"},
		args:    true,
	}
}

// reportFlags are the flags of `agentstorm report` and `report merge`.
type reportFlags struct {
	outs         []string
	budgets      []string
	noLogBudgets bool
	quiet        bool
}

func newReportFlagSet(name string, f *reportFlags) *pflag.FlagSet {
	fs := newCommandFlagSet(name)
	addOutFlag(fs, &f.outs, "hlog: the logs merged into one")
	fs.StringArrayVar(&f.budgets, "budget", nil, "judge a budget, such as 'add_to_cart p99 < 100ms' (repeatable; added to the run's own budgets)")
	fs.BoolVar(&f.noLogBudgets, "no-run-budgets", false, "judge only the --budget flags, not the budgets the run recorded in its log")
	addQuietFlag(fs, &f.quiet, "")
	return fs
}

func printReportUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Usage:")
	fmt.Fprintln(w, "  agentstorm report RUN.hlog [flags]             re-render a saved run")
	fmt.Fprintln(w, "  agentstorm report merge A.hlog B.hlog [flags]  merge workers', segments' or runs' logs into one report")
	fmt.Fprintln(w, "  agentstorm report compare BEFORE.hlog AFTER.hlog  each percentile of each step side by side, with the change,")
	fmt.Fprintln(w, "                                   then the sessions' abandoned share, sales and lost sales (\"no data\"")
	fmt.Fprintln(w, "                                   for a run without them) (--out markdown=PATH for a pull-request comment;")
	fmt.Fprintln(w, "                                   text and markdown only; no budgets are judged)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "An .hlog is the interval log `agentstorm run --out hlog=PATH` writes (HdrHistogram's log format,")
	fmt.Fprintln(w, "with the run's metadata and budgets in its comments). Logs merge without loss: histograms add up,")
	fmt.Fprintln(w, "and budgets are judged on the merged totals. A log that did not measure abandonment (a k6 ingest,")
	fmt.Fprintln(w, "a profile without patience) merges only with logs that did not either. The text summary goes to")
	fmt.Fprintln(w, "standard output; '-' reads")
	fmt.Fprintln(w, "a log from standard input.")
	fmt.Fprintln(w)
	printFlags(w, fs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok (every budget met), 99 a budget missed, 1 a log could not be read, an output")
	fmt.Fprintln(w, "not be written or the run failed, 105 the run was interrupted or its log ends without its end")
	fmt.Fprintln(w, "line (killed), 2 bad usage or budget.")
}

func reportUsageError(env *cliEnv, msg string) int {
	return usageError(env, "report", "report", "the flags", msg)
}

// runReport is `agentstorm report`.
func runReport(ctx context.Context, env *cliEnv, args []string) int {
	sub := ""
	if len(args) > 0 && (args[0] == "merge" || args[0] == "compare" || args[0] == "render") {
		sub, args = args[0], args[1:]
	}
	var f reportFlags
	fs := newReportFlagSet("agentstorm report", &f)
	if code, ok := parseFlags(env, fs, args, printReportUsage, reportUsageError); !ok {
		return code
	}
	files := fs.Args()
	if sub == "compare" {
		if len(files) != 2 {
			return reportUsageError(env, fmt.Sprintf("compare takes two logs, BEFORE.hlog AFTER.hlog; got %d", len(files)))
		}
		if len(f.budgets) > 0 || f.noLogBudgets {
			return reportUsageError(env, "compare prints a table; --budget and --no-run-budgets apply to a report or a merge")
		}
		var cmpOuts []finish.Spec
		if len(f.outs) > 0 {
			var err error
			if cmpOuts, err = finish.ParseSpecs(f.outs, false); err != nil {
				return reportUsageError(env, err.Error())
			}
			for _, o := range cmpOuts {
				if o.Kind != "markdown" && o.Kind != "text" {
					return reportUsageError(env, fmt.Sprintf("compare writes text or markdown, not %s", o.Kind))
				}
			}
		}
		before, err := readLogs(files[:1])
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm report compare: %v\n", err)
			return exitFailed
		}
		after, err := readLogs(files[1:])
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm report compare: %v\n", err)
			return exitFailed
		}
		bs, _ := before.Summary()
		as, _ := after.Summary()
		if !f.quiet {
			if err := report.WriteCompare(env.stdout, bs, as, files[0], files[1]); err != nil {
				fmt.Fprintf(env.stderr, "agentstorm report compare: %v\n", err)
				return exitFailed
			}
		}
		for _, o := range cmpOuts {
			write := func(w io.Writer) error { return report.WriteCompare(w, bs, as, files[0], files[1]) }
			if o.Kind == "markdown" {
				write = func(w io.Writer) error { return report.WriteCompareMarkdown(w, bs, as, files[0], files[1]) }
			}
			if err := report.WriteFileAtomic(o.Path, write); err != nil {
				fmt.Fprintf(env.stderr, "agentstorm report compare: %v\n", err)
				return exitFailed
			}
			fmt.Fprintf(env.stdout, "Wrote %s: %s\n", o.Kind, o.Path)
		}
		return exitOK
	}
	if len(files) == 0 {
		return reportUsageError(env, "give the .hlog file(s) to report on")
	}
	if sub != "merge" && len(files) > 1 {
		return reportUsageError(env, fmt.Sprintf("%d logs given: use `agentstorm report merge %s ...` to merge them into one report", len(files), files[0]))
	}
	outs, err := finish.ParseSpecs(f.outs, true)
	if err != nil {
		return reportUsageError(env, err.Error())
	}
	for _, o := range outs {
		if o.Kind == "hlog" && slices.Contains(files, "-") {
			// The hlog output reads the logs a second time, which standard
			// input cannot give: say so before reading it at all.
			return reportUsageError(env, fmt.Sprintf("--out hlog=%s re-reads the logs, and standard input ('-') cannot be read twice: give the log as a file", o.Path))
		}
	}
	ls, err := readLogs(files)
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm report: %v\n", err)
		return exitFailed
	}
	s, err := ls.Summary()
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm report: %v\n", err)
		return exitFailed
	}
	var exprs, sources []string
	if !f.noLogBudgets {
		for _, b := range ls.Budgets() {
			exprs = append(exprs, b.Expr)
			sources = append(sources, b.Source)
		}
	}
	fe, fsrc := flagBudgets(f.budgets)
	exprs, sources = append(exprs, fe...), append(sources, fsrc...)
	budgets, err := budget.ParseAll(exprs, sources, budgetOptions(s))
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm report: bad budget:\n%v\n", err)
		return exitUsage
	}
	if len(files) > 1 {
		s.Meta = maps.Clone(s.Meta) // the log set's own map stays as read
		if s.Meta == nil {
			s.Meta = map[string]string{}
		}
		s.Meta["merged_logs"] = fmt.Sprint(len(files))
	}
	fin := finish.Run{Command: "report", Stdout: env.stdout, Stderr: env.stderr, Summary: s, Budgets: budgets,
		Quiet: f.quiet, Outputs: finish.SummaryOutputs(outs)}
	for _, a := range ls.Aborted() {
		fin.Aborts = append(fin.Aborts, &a.Abort)
	}
	if o, ok := finish.Find(outs, "hlog"); ok {
		fin.Outputs = append(fin.Outputs, finish.Output{Kind: "hlog", Path: o.Path, Name: "--out hlog=" + o.Path,
			Write: func(s *report.Summary) error { return writeMergedLog(o.Path, files, s.Meta) }})
	}
	return fin.Finish()
}

// shareFigures are the run figures (ours and k6's) that are percentages:
// merged logs keep the largest, not the sum (hlog.Set.ShareFigures).
func shareFigures() map[string]bool {
	u := runFigureUnits()
	maps.Copy(u, k6.FigureUnits())
	shares := map[string]bool{}
	for name, unit := range u {
		if unit == report.UnitPercent {
			shares[name] = true
		}
	}
	return shares
}

// readLogs reads the hlogs (path "-" is standard input) into one set.
func readLogs(files []string) (*hlog.Set, error) {
	ls := hlog.NewSet()
	ls.ShareFigures(shareFigures())
	for _, p := range files {
		if p == "-" {
			if err := ls.Read("standard input", os.Stdin); err != nil {
				return nil, err
			}
			continue
		}
		if err := ls.ReadFiles(p); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// writeMergedLog merges the logs into one hlog at path (one interval per
// second), reading each log again, interval by interval (so none is "-":
// runReport refuses that).
func writeMergedLog(path string, files []string, meta map[string]string) error {
	var decs []*hlog.Decoder
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		defer f.Close()
		decs = append(decs, hlog.NewStrictDecoder(f, p))
	}
	a, err := report.CreateAtomic(path)
	if err != nil {
		return err
	}
	if err := hlog.Merge(a, decs, meta, shareFigures()); err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}
