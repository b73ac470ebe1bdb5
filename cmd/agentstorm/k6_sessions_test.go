package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/report"
)

// sessionsJSON is the part of the JSON summary that says how sessions ended.
type sessionsJSON struct {
	Overall struct {
		Sessions *struct {
			Ended      int64 `json:"ended"`
			Completed  int64 `json:"completed"`
			Abandoned  int64 `json:"abandoned"`
			Sales      int64 `json:"sales"`
			SalesValue int64 `json:"sales_value"`
		} `json:"sessions"`
	} `json:"overall"`
	Dropped int64 `json:"dropped"`
}

// TestK6IngestSessions: k6's iterations are the sessions of an ingest, an
// OK answer of --sale-step a sale worth --order-value, in the JSON and in
// the hlog, which `report` re-renders with the same sessions.
func TestK6IngestSessions(t *testing.T) {
	dir := t.TempDir()
	js, hl := filepath.Join(dir, "k6.json"), filepath.Join(dir, "k6.hlog")
	code, out, errOut := k6It(t, "ingest", k6Fixture, "--trend", "http_req_waiting", "--sale-step", "checkout", "--order-value", "85.00",
		"--out", "json="+js, "--out", "hlog="+hl)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	check := func(from string, s sessionsJSON) {
		t.Helper()
		ss := s.Overall.Sessions
		if ss == nil || ss.Completed != 2 || ss.Ended != 2 || ss.Abandoned != 0 || ss.Sales != 1 || ss.SalesValue != 8500 || s.Dropped != 3 {
			t.Errorf("%s: sessions %+v, dropped %d; want 2 completed, 1 sale worth 85.00, 3 dropped", from, ss, s.Dropped)
		}
	}
	check("k6 ingest", readJSONFile[sessionsJSON](t, js))
	again := filepath.Join(dir, "again.json")
	var o, e runBuffer
	if code := runCLI(t.Context(), &cliEnv{stdout: &o, stderr: &e}, []string{"report", hl, "--out", "json=" + again}); code != exitOK {
		t.Fatalf("report: exit %d\n%s\n%s", code, o.String(), e.String())
	}
	check("report of its hlog", readJSONFile[sessionsJSON](t, again))

	// Sales are measured with --sale-step: its one sale.
	if code, out, errOut := k6It(t, "ingest", k6Fixture, "--sale-step", "checkout", "--budget", "sales >= 1"); code != exitOK {
		t.Errorf("sales >= 1: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := k6It(t, "ingest", k6Fixture, "--sale-step", "checkout", "--budget", "sales >= 2"); code != exitBudgetMissed {
		t.Errorf("sales >= 2 with one sale: exit %d, want %d\n%s", code, exitBudgetMissed, out)
	}
	if code, _, errOut := k6It(t, "ingest", k6Fixture, "--order-value", "85"); code != exitUsage {
		t.Errorf("--order-value without --sale-step: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}

// TestK6IngestUnmeasuredBudgets: a k6 VU has no patience, so a k6 run's
// abandonment (0 by construction) is not measured and a budget on it, or
// on lost sales, or on sales without --sale-step, has no data: missed,
// exit 99, the reason in every output, and again when `report` re-renders
// the run's hlog.
func TestK6IngestUnmeasuredBudgets(t *testing.T) {
	const patience = "not measured: a k6 run has no agent patience"
	dir := t.TempDir()
	out := func(kind string) string { return filepath.Join(dir, kind) }
	outs := []string{"--out", "json=" + out("k6.json"), "--out", "junit=" + out("k6.xml"), "--out", "markdown=" + out("k6.md"),
		"--out", "html=" + out("k6.html"), "--out", "hlog=" + out("k6.hlog")}
	args := append([]string{"ingest", k6Fixture, "--sale-step", "checkout", "--budget", "abandoned < 1%",
		"--budget", "abandoned(checkout) < 0.5%", "--budget", "lost_sales < 1", "--budget", "sales >= 1"}, outs...)
	code, text, errOut := k6It(t, args...)
	if code != exitBudgetMissed {
		t.Fatalf("abandonment budgets on a k6 run: exit %d, want %d\n%s\n%s", code, exitBudgetMissed, text, errOut)
	}
	check := func(from, text string) {
		t.Helper()
		for _, want := range []string{"MISSED (no data, " + patience + ")", "MISSED (no data, " + patience + ", so no sale is ever lost)", "3 of 4 budgets"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q:\n%s", from, want, text)
			}
		}
	}
	check("text summary", text)
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	check("markdown", read(out("k6.md")))
	if h := read(out("k6.html")); !strings.Contains(h, "MISSED (no data, "+patience+")") {
		t.Errorf("html lacks the reason")
	}
	f, err := os.Open(out("k6.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ju, err := report.ReadJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	var failures []string
	for _, c := range ju.Suites[0].Cases {
		if c.Failure != nil {
			failures = append(failures, c.Name+": "+c.Failure.Message+"\n"+c.Failure.Text)
		}
	}
	if len(failures) != 3 || !strings.Contains(failures[0], "abandoned < 1%: MISSED (no data, "+patience+")") ||
		!strings.Contains(failures[0], "no data: "+patience+"\n") {
		t.Errorf("junit failures:\n%s", strings.Join(failures, "\n"))
	}
	type budgetJSON struct {
		Budgets []struct {
			Expr, Verdict string
			Actual        *float64
			Met           bool
			NoDataReason  string `json:"no_data_reason"`
		}
	}
	checkJSON := func(from string, j budgetJSON) {
		t.Helper()
		if len(j.Budgets) != 4 {
			t.Fatalf("%s: %d budgets", from, len(j.Budgets))
		}
		for i, b := range j.Budgets {
			unmeasured := i < 3
			if unmeasured != (b.Actual == nil) || unmeasured == b.Met || unmeasured != strings.HasPrefix(b.NoDataReason, patience) ||
				unmeasured != (b.Verdict == "MISSED (no data)") {
				t.Errorf("%s: budget %q: %+v (actual %v)", from, b.Expr, b, b.Actual)
			}
		}
	}
	checkJSON("json", readJSONFile[budgetJSON](t, out("k6.json")))

	// Re-rendered from the hlog: the same verdicts and reasons.
	var o, e runBuffer
	code = runCLI(t.Context(), &cliEnv{stdout: &o, stderr: &e}, []string{"report", out("k6.hlog"), "--out", "json=" + out("again.json")})
	if code != exitBudgetMissed {
		t.Fatalf("report of the k6 hlog: exit %d, want %d\n%s\n%s", code, exitBudgetMissed, o.String(), e.String())
	}
	check("report of the hlog", o.String())
	checkJSON("report's json", readJSONFile[budgetJSON](t, out("again.json")))

	// Compared, the k6 run's abandonment is no data, its sales measured.
	var co, ce runBuffer
	code = runCLI(t.Context(), &cliEnv{stdout: &co, stderr: &ce}, []string{"report", "compare", out("k6.hlog"), out("k6.hlog"), "--out", "markdown=" + out("cmp.md")})
	if code != exitOK {
		t.Fatalf("report compare: exit %d\n%s\n%s", code, co.String(), ce.String())
	}
	cmp := read(out("cmp.md"))
	for _, want := range []string{"| sessions | abandoned | no data | no data |  |", "| sessions | sales | 1 | 1 | +0 (+0.0%) |",
		"| sessions | lost_sales | no data | no data |  |"} {
		if !strings.Contains(cmp, want) || !strings.Contains(co.String(), "no data") {
			t.Errorf("compare of k6 runs lacks %q:\n%s", want, cmp)
		}
	}

	// Without --sale-step, sales are not measured either.
	code, text, _ = k6It(t, "ingest", k6Fixture, "--budget", "sales < 1")
	if want := "MISSED (no data, not measured: the k6 ingest named no sale step (--sale-step))"; code != exitBudgetMissed || !strings.Contains(text, want) {
		t.Errorf("sales < 1 without --sale-step: exit %d, want %d and %q\n%s", code, exitBudgetMissed, want, text)
	}
}
