package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// reportIt runs `agentstorm report args...` in-process.
func reportIt(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut runBuffer
	env := &cliEnv{stdout: &out, stderr: &errOut}
	code := runCLI(context.Background(), env, append([]string{"report"}, args...))
	return code, out.String(), errOut.String()
}

func readJUnitFile(t *testing.T, path string) *report.JUnitSuites {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j, err := report.ReadJUnit(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// TestCIBudgets runs the command line of docs/ci.md: a short storm against
// the bundled target with budgets and outputs. Budgets that hold give exit
// 0; an impossible one gives 99 and a JUnit failure carrying the numbers.
// The saved hlog re-renders with `agentstorm report` to the same figures,
// and two logs merge to exactly twice the counts.
func TestCIBudgets(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // the bundled shards are this test binary (TestMain)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	stepSummary := p("step-summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", stepSummary)

	// The pass path runs smoke without its own budgets (p99(write) < 100ms
	// can miss under -race on a busy machine): only the generous --budget
	// flags are judged.
	src, err := profiles.BuiltinSource("smoke")
	if err != nil {
		t.Fatal(err)
	}
	cut := bytes.Index(src, []byte("\nbudgets:"))
	if cut < 0 {
		t.Fatal("smoke has no budgets: section to remove")
	}
	smokeNoBudgets := p("smoke-no-budgets.yaml")
	if err := os.WriteFile(smokeNoBudgets, src[:cut+1], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runIt(t, nil, "--profile", smokeNoBudgets, "--duration", "2s",
		"--budget", "add_to_cart p99 < 5s", "--budget", "errors < 50%",
		"--out", "junit="+p("pass.xml"), "--out", "html="+p("pass.html"), "--out", "hlog="+p("pass.hlog"), "--out", "json="+p("pass.json"))
	if code != exitOK {
		t.Fatalf("pass path: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Budgets (judged", "add_to_cart p99 < 5s", "met", "Wrote junit: " + p("pass.xml"), "Wrote hlog: " + p("pass.hlog")} {
		if !strings.Contains(out, want) {
			t.Errorf("pass path output lacks %q:\n%s", want, out)
		}
	}
	ju := readJUnitFile(t, p("pass.xml"))
	if ju.Suites[0].Tests != 2 || ju.Suites[0].Failures != 0 { // the two flags
		t.Errorf("pass junit: %d budget cases, %d failures", ju.Suites[0].Tests, ju.Suites[0].Failures)
	}
	md, err := os.ReadFile(stepSummary)
	if err != nil || !strings.Contains(string(md), "budgets met") {
		t.Errorf("$GITHUB_STEP_SUMMARY: %v\n%s", err, md)
	}
	if html, err := os.ReadFile(p("pass.html")); err != nil || !strings.Contains(string(html), `id="chart-data"`) {
		t.Errorf("html report: %v", err)
	}

	// Re-rendered from the hlog: the same figures as the run's JSON.
	code, out, errOut = reportIt(t, p("pass.hlog"), "--out", "json="+p("again.json"), "--out", "hgrm="+p("again.hgrm"))
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"again.hgrm", "again.add_to_cart.hgrm"} { // one distribution per file
		if !strings.Contains(out, "Wrote hgrm: "+p(f)) {
			t.Errorf("report did not write %s:\n%s", f, out)
		}
	}
	run, again := readJSONFile[*report.JSONReport](t, p("pass.json")), readJSONFile[*report.JSONReport](t, p("again.json"))
	if run.Overall.Requests == 0 || again.Overall.Requests != run.Overall.Requests || again.Overall.Latency != run.Overall.Latency ||
		again.Overall.CorrectedLatency == nil || *again.Overall.CorrectedLatency != *run.Overall.CorrectedLatency || len(again.Budgets) != 2 {
		t.Errorf("re-rendered figures differ:\nrun   %+v\nagain %+v", run.Overall, again.Overall)
	}

	// A missed budget wins over an output that cannot be written: exit 99
	// (as run and k6 ingest), the miss named, the failed output too, and
	// the outputs that can be written still are.
	// (--out paths are checked before the run, so the output that fails
	// here is the step summary: $GITHUB_STEP_SUMMARY naming a directory.)
	blocked := p("blocked-summary")
	if err := os.Mkdir(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITHUB_STEP_SUMMARY", blocked)
	code, _, errOut = reportIt(t, p("pass.hlog"), "-q", "--budget", "add_to_cart p99 < 1us", "--out", "hgrm="+p("miss.hgrm"))
	os.Setenv("GITHUB_STEP_SUMMARY", stepSummary)
	if code != exitBudgetMissed || !strings.Contains(errOut, "budget missed: add_to_cart p99 < 1us") || !strings.Contains(errOut, blocked) {
		t.Errorf("report with a missed budget and a failed output: exit %d, want %d\n%s", code, exitBudgetMissed, errOut)
	}
	if _, err := os.Stat(p("miss.hgrm")); err != nil {
		t.Errorf("the output that could be written was not: %v", err)
	}

	// Merged with itself: exactly twice the counts, the same percentiles.
	code, _, errOut = reportIt(t, "merge", p("pass.hlog"), p("pass.hlog"), "-q", "--out", "hlog="+p("merged.hlog"))
	if code != exitOK {
		t.Fatalf("merge: exit %d\n%s", code, errOut)
	}
	code, _, errOut = reportIt(t, p("merged.hlog"), "-q", "--out", "json="+p("merged.json"))
	if code != exitOK {
		t.Fatalf("report of the merged log: exit %d\n%s", code, errOut)
	}
	merged := readJSONFile[*report.JSONReport](t, p("merged.json"))
	if merged.Overall.Requests != 2*run.Overall.Requests || merged.Overall.Latency.P99Ms != run.Overall.Latency.P99Ms ||
		merged.Overall.Latency.Count != 2*run.Overall.Latency.Count {
		t.Errorf("merged: %d requests p99 %v, want %d and %v", merged.Overall.Requests, merged.Overall.Latency.P99Ms,
			2*run.Overall.Requests, run.Overall.Latency.P99Ms)
	}

	// Before/after: the same log twice compares with no change.
	code, out, errOut = reportIt(t, "compare", p("pass.hlog"), p("pass.hlog"), "--out", "markdown="+p("cmp.md"))
	if code != exitOK || !strings.Contains(out, "p99") {
		t.Fatalf("compare: exit %d\n%s\n%s", code, out, errOut)
	}
	if cmp, err := os.ReadFile(p("cmp.md")); err != nil || !strings.Contains(string(cmp), "| add_to_cart | p99 |") || !strings.Contains(string(cmp), "+0µs (+0.0%)") {
		t.Errorf("compare markdown: %v\n%s", err, cmp)
	}
	// -q drops the table from standard output; the --out file is still written.
	code, out, errOut = reportIt(t, "compare", p("pass.hlog"), p("pass.hlog"), "-q", "--out", "markdown="+p("cmp-q.md"))
	if code != exitOK || strings.Contains(out, "p99") || !strings.Contains(out, "Wrote markdown") {
		t.Fatalf("compare -q: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(p("cmp-q.md")); err != nil {
		t.Errorf("compare -q markdown: %v", err)
	}

	// The fail path: an impossible budget.
	code, out, errOut = runIt(t, nil, "--profile", "smoke", "--duration", "2s",
		"--budget", "add_to_cart p99 < 1us", "--out", "junit="+p("fail.xml"))
	if code != exitBudgetMissed {
		t.Fatalf("fail path: exit %d, want 99\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "budget missed: add_to_cart p99 < 1us: actual") || !strings.Contains(out, "MISSED") {
		t.Errorf("fail path does not name the budget, actual and limit:\n%s\n%s", out, errOut)
	}
	ju = readJUnitFile(t, p("fail.xml"))
	var failed *report.JUnitCase
	for i := range ju.Suites[0].Cases {
		if c := &ju.Suites[0].Cases[i]; c.Name == "add_to_cart p99 < 1us" {
			failed = c
		}
	}
	if ju.Failures < 1 || failed == nil || failed.Failure == nil || !strings.Contains(failed.Failure.Message, "limit < 1µs") ||
		!strings.Contains(failed.Failure.Message, "actual ") {
		t.Errorf("fail junit: %+v", failed)
	}
}

// TestRunLiveAbort: an abort budget that fails stops the storm early.
func TestRunLiveAbort(t *testing.T) {
	if testing.Short() {
		t.Skip("a storm against the bundled target")
	}
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	code, out, errOut := runIt(t, nil, "--profile", "smoke", "--duration", "20s", "--ramp", "0s",
		"--budget", "p99 < 1us abort after 1s min 1")
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want 99\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "Aborting: budget \"p99 < 1us abort after 1s min 1\" failed live at") ||
		!strings.Contains(out, "MISSED (aborted the run)") {
		t.Errorf("no abort in the output:\n%s", out)
	}
	if strings.Contains(out, "0:20/0:20") || strings.Contains(out, "20s elapsed") {
		t.Errorf("the run was not cut short:\n%s", out)
	}
}

func TestReportUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hlog")
	if err := os.WriteFile(bad, []byte("not a log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{}, exitUsage, "give the .hlog file"},
		{[]string{"a.hlog", "b.hlog"}, exitUsage, "use `agentstorm report merge"},
		{[]string{"compare", "a.hlog"}, exitUsage, "compare takes two logs"},
		{[]string{"compare", "a.hlog", "b.hlog", "--no-run-budgets"}, exitUsage, "--no-run-budgets apply to a report"},
		{[]string{"x.hlog", "--out", "pdf=x.pdf"}, exitUsage, `unknown kind "pdf"`},
		{[]string{"x.hlog", "--out", "html"}, exitUsage, "want KIND=PATH"},
		{[]string{filepath.Join(dir, "missing.hlog")}, exitFailed, "no such file"},
		{[]string{bad}, exitFailed, "bad.hlog:1: expected an interval histogram line"},
	} {
		code, _, errOut := reportIt(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("report %q: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	code, out, _ := reportIt(t, "--help")
	if code != exitOK || !strings.Contains(out, "report merge") || !strings.Contains(out, "99 a budget missed") {
		t.Errorf("help: %d\n%s", code, out)
	}
	// run: a bad budget or --out is a usage error before anything starts.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--profile", "smoke", "--budget", "add_to_cart p99 < 100"}, "column 19: expected a unit"},
		{[]string{"--profile", "smoke", "--budget", "cart p99 < 1s"}, `unknown step "cart"; known steps: open_cart`},
		{[]string{"--profile", "smoke", "--out", "pdf=x"}, `unknown kind "pdf"`},
		{[]string{"--profile", "smoke", "--out", "html=/no/such/dir/r.html"}, "the directory /no/such/dir does not exist"},
		{[]string{"--profile", "smoke", "--out", "hlog=" + filepath.Join(dir, "a.hlog"), "--out", "hlog=" + filepath.Join(dir, "b.hlog")}, "--out hlog given twice"},
	} {
		code, _, errOut := runIt(t, nil, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("run %q: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestBuiltinBudgetsParse: every built-in profile's budgets parse against
// its own steps and regions (a run would stop with exit 2 otherwise).
func TestBuiltinBudgetsParse(t *testing.T) {
	for _, b := range profiles.Builtins() {
		p, err := profiles.Builtin(b.Name)
		if err != nil {
			t.Fatal(err)
		}
		o := agents.RecorderOptions(p)
		exprs, sources := profileBudgets(p)
		bo := budget.Options{Steps: o.Steps, Regions: o.Regions, Writes: o.Writes}
		if len(p.ChaosActions) > 0 { // as run: a game day's budgets may name its audit figures
			bo.Figures = gameday.FigureUnits()
		}
		bs, err := budget.ParseAll(exprs, sources, bo)
		if err != nil || len(bs) != len(p.Budgets) {
			t.Errorf("%s: %v", b.Name, err)
		}
	}
}

// TestReportCutLog: an hlog cut short (the run killed: no end line, the
// last interval cut inside its histograms) is re-rendered with consistent
// counts, says it was cut short, and exits 105, never 0; the whole log
// of the same run exits 0.
func TestReportCutLog(t *testing.T) {
	dir := t.TempDir()
	whole := filepath.Join(dir, "run.hlog")
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", okServer(t), "--duration", "2s",
		"--out", "hlog="+whole)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	// Drop the end line and the last histogram line: cut at a line
	// boundary inside the last interval.
	var kept []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "#agentstorm-end") {
			kept = append(kept, l)
		}
	}
	kept = kept[:len(kept)-2] // the trailing "" and the last histogram line
	cut := filepath.Join(dir, "cut.hlog")
	if err := os.WriteFile(cut, []byte(strings.Join(kept, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := reportIt(t, whole, "--out", "json="+filepath.Join(dir, "whole.json")); code != exitOK {
		t.Fatalf("whole log: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = reportIt(t, cut, "--out", "json="+filepath.Join(dir, "cut.json"))
	if code != exitInterrupted || !strings.Contains(out, "ends without its end line") {
		t.Fatalf("cut log: exit %d, want %d and a warning\n%s\n%s", code, exitInterrupted, out, errOut)
	}
	j := readJSONFile[*report.JSONReport](t, filepath.Join(dir, "cut.json"))
	if j.Status != report.StatusInterrupted {
		t.Errorf("cut log's json status %q", j.Status)
	}
	// Every request of the tiny profile is answered 201: the requests and
	// the answers with a latency must agree.
	if j.Overall.Requests == 0 || j.Overall.Requests != j.Overall.Latency.Count {
		t.Errorf("cut log: %d requests, %d answers with a latency", j.Overall.Requests, j.Overall.Latency.Count)
	}
}
