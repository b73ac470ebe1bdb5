package main

import (
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// slowServer answers 201 after delay on loopback until the test ends.
func slowServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		time.Sleep(delay)
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"cart_id":"c0-1"}`)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "http://" + ln.Addr().String()
}

// impatientProfile: agents with 100 ms patience, one write step, a sale.
const impatientProfile = `name: impatient
population: {regions: {us: 2, eu: 1}}
patience: 100ms
order_value: 85.00
workload:
  model: closed
  stages: "0->6 in 0s, hold 1500ms"
  think: 50ms
flows:
  - name: f
    steps:
      - {name: checkout, method: POST, path: /v1/checkout, body: {a: 1}, expect: {status: 201}, sale: true}
budgets: ["abandoned < 5%"]
`

var skippedRe = regexp.MustCompile(`Agents skipped you: 100\.0% of ([0-9,]+) sessions abandoned \(slow checkout 100\.0%\); 0 sales completed, ~([0-9,]+) lost`)

// TestRunAbandonmentBudgetExits99: against a target answering in 150 ms,
// agents with 100 ms patience abandon every session: the summary leads
// with it, the abandonment budget is missed (exit 99), and the report
// re-rendered from the run's hlog says the same.
func TestRunAbandonmentBudgetExits99(t *testing.T) {
	base := slowServer(t, 150*time.Millisecond)
	dir := t.TempDir()
	log := filepath.Join(dir, "run.hlog")
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, impatientProfile), "--target", base, "--out", "hlog="+log)
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBudgetMissed, out, errOut)
	}
	m := skippedRe.FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("no headline of every session abandoned and lost:\n%s", out)
	}
	if !strings.Contains(out, "Abandoned by region: ") || !strings.Contains(out, "abandoned < 5%") {
		t.Errorf("no region line or budget verdict:\n%s", out)
	}
	code, rout, rerr := reportIt(t, log)
	if code != exitBudgetMissed {
		t.Fatalf("report from the hlog: exit %d, want %d\n%s\n%s", code, exitBudgetMissed, rout, rerr)
	}
	if rm := skippedRe.FindStringSubmatch(rout); rm == nil || rm[0] != m[0] {
		t.Errorf("the re-rendered headline differs:\n%s\nrun said:\n%s", rout, m[0])
	}
}

// TestRunAbandonmentWithWorkers: with two worker processes the sessions
// travel in the workers' streams and add up exactly: every answer was one
// abandoned session.
func TestRunAbandonmentWithWorkers(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	base := slowServer(t, 150*time.Millisecond)
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, impatientProfile), "--target", base, "--workers", "2")
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBudgetMissed, out, errOut)
	}
	m := skippedRe.FindStringSubmatch(out)
	req := regexp.MustCompile(`elapsed, ([0-9,]+) requests`).FindStringSubmatch(out)
	if m == nil || req == nil || m[1] != req[1] || m[1] == "0" {
		t.Fatalf("want as many abandoned sessions as requests:\n%s\nstderr:\n%s", out, errOut)
	}
}

// TestRunWithoutPatienceDoesNotMeasureAbandonment: a profile with a sale
// step and no patience counts sessions, but none can be abandoned: its
// abandonment budget has no data (missed, exit 99, the reason given) rather
// than being met at 0%, in the run and in the report from its hlog.
func TestRunWithoutPatienceDoesNotMeasureAbandonment(t *testing.T) {
	base := slowServer(t, 0)
	dir := t.TempDir()
	log := filepath.Join(dir, "run.hlog")
	prof := strings.Replace(impatientProfile, "patience: 100ms\n", "", 1)
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, prof), "--target", base, "--out", "hlog="+log)
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitBudgetMissed, out, errOut)
	}
	const why = "no flow or step of the profile has a patience"
	if !strings.Contains(out, why) {
		t.Fatalf("the abandonment budget does not say why it has no data:\n%s", out)
	}
	if strings.Contains(out, "never skipped you") || !strings.Contains(out, "(abandonment not measured: "+why+")") {
		t.Errorf("the headline claims no session was abandoned instead of saying abandonment is not measured:\n%s", out)
	}
	code, rout, rerr := reportIt(t, log)
	if code != exitBudgetMissed || !strings.Contains(rout, why) {
		t.Fatalf("report from the hlog: exit %d, want %d and %q\n%s\n%s", code, exitBudgetMissed, why, rout, rerr)
	}
}
