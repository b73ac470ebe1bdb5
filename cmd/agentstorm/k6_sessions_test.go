package main

import (
	"path/filepath"
	"testing"
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

	// Session budgets judge a k6 run: its one sale, none abandoned.
	if code, out, errOut := k6It(t, "ingest", k6Fixture, "--sale-step", "checkout", "--budget", "sales >= 1", "--budget", "abandoned < 1%"); code != exitOK {
		t.Errorf("sales >= 1, abandoned < 1%%: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := k6It(t, "ingest", k6Fixture, "--sale-step", "checkout", "--budget", "sales >= 2"); code != exitBudgetMissed {
		t.Errorf("sales >= 2 with one sale: exit %d, want %d\n%s", code, exitBudgetMissed, out)
	}
	if code, _, errOut := k6It(t, "ingest", k6Fixture, "--order-value", "85"); code != exitUsage {
		t.Errorf("--order-value without --sale-step: exit %d, want %d\n%s", code, exitUsage, errOut)
	}
}
