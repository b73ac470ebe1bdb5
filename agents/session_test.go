package agents

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// delayServer answers every request after a fixed delay per path prefix
// (the default for paths none matches), with status 500 on paths under
// /fail.
func delayServer(t *testing.T, def time.Duration, delays map[string]time.Duration) string {
	t.Helper()
	return serve(t, func(ctx *fasthttp.RequestCtx) {
		d := def
		for p, v := range delays {
			if strings.HasPrefix(string(ctx.Path()), p) {
				d = v
			}
		}
		time.Sleep(d)
		if strings.HasPrefix(string(ctx.Path()), "/fail") {
			ctx.SetStatusCode(500)
		}
		ctx.SetBodyString("ok")
	})
}

// shopProfile is a two-step shop, cart then pay (a sale worth 85.00), with
// patience and the workload given.
func shopProfile(t *testing.T, patience, payExtra, workload string) *profiles.Profile {
	t.Helper()
	return load(t, "target: http://127.0.0.1:1\norder_value: 85.00\npatience: "+patience+"\nworkload:"+workload+`flows:
  - name: buyer
    steps:
      - {name: cart, method: POST, path: /cart}
      - {name: pay, method: POST, path: /pay, sale: true`+payExtra+`}
`)
}

const closed20 = `
  model: closed
  stages: "0->20 in 0s, hold 1s"
`

// TestPatienceAbandonsSlowAnswers: agents with 100 ms patience abandon
// every session at a target answering in 150 ms, and, in the closed model,
// start new sessions after each (a new shopper); the answers of abandoned
// steps are in the histograms; at 50 ms none abandons and every session
// that ends is completed, with its sale.
func TestPatienceAbandonsSlowAnswers(t *testing.T) {
	sum, _, err := runSwarm(t, context.Background(), shopProfile(t, "100ms", "", closed20), Config{BaseURL: delayServer(t, 150*time.Millisecond, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ss := sum.Overall.Sessions
	cart, pay := &sum.PerStep[0], &sum.PerStep[1]
	// 20 agents for 1 s at 150 ms a session: about 130 sessions, several
	// per agent, every one given up at the cart, as slow, and each a lost sale.
	if ss.Abandoned[report.AbandonSlow] < 3*20 || ss.Ended() != ss.Abandoned[report.AbandonSlow] || ss.Lost != ss.Ended() || ss.Sales != 0 {
		t.Fatalf("at 150 ms: sessions %+v; want only slow abandonments (3 or more per agent), each lost", ss)
	}
	if cart.Sessions.AbandonedTotal() != ss.AbandonedTotal() || pay.Raw.Count != 0 {
		t.Errorf("abandoned at cart %d of %d; pay answered %d times, want never", cart.Sessions.AbandonedTotal(), ss.AbandonedTotal(), pay.Raw.Count)
	}
	// Every cart answer recorded decided one abandonment: the histograms
	// keep the answers of abandoned steps, all of them.
	if cart.Raw.Count != ss.AbandonedTotal() || cart.Raw.P50 < 150*time.Millisecond {
		t.Errorf("cart histogram: %d answers (p50 %v), want the %d abandoned at 150 ms", cart.Raw.Count, cart.Raw.P50, ss.AbandonedTotal())
	}

	sum, _, err = runSwarm(t, context.Background(), shopProfile(t, "100ms", "", closed20), Config{BaseURL: delayServer(t, 50*time.Millisecond, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ss = sum.Overall.Sessions
	// None abandons but for answers that truly came later than 100 ms (a
	// loaded 2-core machine stretches some): exactly those.
	for i := range sum.PerStep {
		abandonedAsSlow(t, "at 50 ms", &sum.PerStep[i], 100*time.Millisecond)
	}
	if ss.Completed < 3*20 || ss.Failed != 0 || ss.Abandoned[report.AbandonSlow] != ss.AbandonedTotal() {
		t.Fatalf("at 50 ms: sessions %+v; want the rest completed", ss)
	}
	if ss.Sales < ss.Completed || ss.SalesValue != 8500*ss.Sales || sum.PerStep[1].Sessions.Completed != ss.Completed {
		t.Errorf("sales %d worth %d for %d completed sessions; want one of 85.00 each, counted at pay", ss.Sales, ss.SalesValue, ss.Completed)
	}
}

// abandonedAsSlow checks that the sessions abandoned as slow at a step
// are exactly its answers later than wait, judged by its histogram
// (within the bucket around wait).
func abandonedAsSlow(t *testing.T, what string, st *report.Stats, wait time.Duration) {
	t.Helper()
	h := st.Histogram
	slow := h.TotalCount() - report.CountAtOrBelow(h, wait)
	edge := report.CountAtOrBelow(h, wait) - report.CountAtOrBelow(h, wait-time.Millisecond)
	if got := st.Sessions.Abandoned[report.AbandonSlow]; got < slow || got > slow+edge {
		t.Errorf("%s: %d sessions abandoned as slow at %s, but %d answers (+%d at the edge) took over %v", what, got, st.Name, slow, edge, wait)
	}
}

// TestPatienceDistributionShare: a uniform patience of 80ms..300ms against
// a 150 ms target abandons the share the distribution predicts: for each
// answer of latency L, P(patience < L) = (L-80ms)/220ms, summed over the
// answers the recorder kept; the count is within 4 binomial sd of it.
func TestPatienceDistributionShare(t *testing.T) {
	prof := load(t, `target: http://127.0.0.1:1
patience: 80ms..300ms
workload:
  model: closed
  stages: "0->30 in 0s, hold 1500ms"
flows:
  - name: f
    steps:
      - {name: ping, path: /ping}
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: delayServer(t, 150*time.Millisecond, nil), Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	ss := sum.Overall.Sessions
	h := sum.PerStep[0].Histogram
	n := h.TotalCount()
	if n < 150 || ss.Ended() != n {
		t.Fatalf("%d answers, %d sessions ended (%+v): want one session per answer, 150 or more", n, ss.Ended(), ss)
	}
	lo, hi := float64(80*time.Millisecond/time.Microsecond), float64(300*time.Millisecond/time.Microsecond)
	var want, variance float64
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		l := float64(b.From+b.To) / 2 // µs
		p := math.Min(math.Max((l-lo)/(hi-lo), 0), 1)
		want += float64(b.Count) * p
		variance += float64(b.Count) * p * (1 - p)
	}
	got := float64(ss.Abandoned[report.AbandonSlow])
	if sd := math.Sqrt(variance); math.Abs(got-want) > 4*sd+1 {
		t.Fatalf("abandoned %v of %d, the distribution predicts %.1f ± %.1f (sd)", got, n, want, sd)
	}
	if ss.Completed+ss.AbandonedTotal() != n || ss.Lost != 0 {
		t.Errorf("sessions %+v: the rest completed, none lost (no sale step)", ss)
	}
}

// TestPatienceOpenModelKeepsSchedule: in the open model an abandoned
// session frees its agent without changing the arrival schedule: the
// sessions started are the ones planned.
func TestPatienceOpenModelKeepsSchedule(t *testing.T) {
	prof := shopProfile(t, "100ms", "", `
  model: open
  stages: "0->100 in 0s, hold 1s"
  max_agents: 200
`)
	var carts atomic.Int64 // the sessions' first requests, as the target saw them
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/cart" {
			carts.Add(1)
		}
		time.Sleep(150 * time.Millisecond)
		ctx.SetBodyString("ok")
	})
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ss := sum.Overall.Sessions
	started := carts.Load() + sum.Dropped // every session's first request, or its drop
	if started < 95 || started > 101 {
		t.Fatalf("%d sessions started (%d dropped), want the 100 planned", started, sum.Dropped)
	}
	if ss.Abandoned[report.AbandonSlow] != sum.PerStep[0].Count || sum.PerStep[1].Count != 0 {
		t.Fatalf("sessions %+v for %d first requests; want every one abandoned at the cart", ss, sum.PerStep[0].Count)
	}
}

// TestPatienceStepOverrideAndSale: a step's own patience replaces the
// session's (a slow pay answer within it is a sale); an answer later than
// the patience at the sale step is a lost sale, not a sale.
func TestPatienceStepOverrideAndSale(t *testing.T) {
	base := delayServer(t, 10*time.Millisecond, map[string]time.Duration{"/pay": 150 * time.Millisecond})
	sum, _, err := runSwarm(t, context.Background(), shopProfile(t, "100ms", "", closed20), Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ss := sum.Overall.Sessions
	// Every session is abandoned, at pay (or, when a loaded machine
	// stretched a 10 ms cart answer past 100 ms, at the cart), lost.
	abandonedAsSlow(t, "slow pay", &sum.PerStep[0], 100*time.Millisecond)
	if ss.Ended() < 20 || ss.Abandoned[report.AbandonSlow] != ss.Ended() || ss.Lost != ss.Ended() || ss.Sales != 0 {
		t.Fatalf("slow pay: sessions %+v, at pay %+v; want every one abandoned, lost, no sale", ss, sum.PerStep[1].Sessions)
	}
	sum, _, err = runSwarm(t, context.Background(), shopProfile(t, "100ms", ", patience: 400ms", closed20), Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	ss = sum.Overall.Sessions
	// pay's own 400 ms replaces the session's 100 ms: none abandons at pay
	// but for answers that truly took over 400 ms.
	abandonedAsSlow(t, "pay with its own 400 ms", &sum.PerStep[0], 100*time.Millisecond)
	abandonedAsSlow(t, "pay with its own 400 ms", &sum.PerStep[1], 400*time.Millisecond)
	if ss.Completed < 20 || ss.Sales != ss.Completed || ss.SalesValue != 8500*ss.Sales {
		t.Fatalf("pay with its own 400 ms: sessions %+v; want the rest completed, each a sale of 85.00", ss)
	}
}

// TestPatienceOnError: on_error abandons at an error answer; without it
// the session goes on.
func TestPatienceOnError(t *testing.T) {
	base := delayServer(t, 10*time.Millisecond, nil)
	fail := func(patience string) report.Sessions {
		prof := load(t, "target: http://127.0.0.1:1\npatience: "+patience+"\nworkload:"+closed20+`flows:
  - name: f
    steps:
      - {name: cart, method: POST, path: /fail}
      - {name: pay, method: POST, path: /pay, sale: true}
`)
		sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
		if err != nil {
			t.Fatal(err)
		}
		return sum.Overall.Sessions
	}
	if ss := fail("{wait: 1s, on_error: true}"); ss.Ended() < 20 || ss.Abandoned[report.AbandonError] != ss.Ended() || ss.Lost != ss.Ended() || ss.Sales != 0 {
		t.Errorf("on_error: sessions %+v; want every one abandoned for the error, lost", ss)
	}
	if ss := fail("1s"); ss.Ended() < 20 || ss.Completed != ss.Ended() || ss.Sales != ss.Completed {
		t.Errorf("without on_error: sessions %+v; want every one completed with its sale", ss)
	}
}

// TestPatienceOverGoroutineTransport: the goroutine transport (https) goes
// through the same judgement.
func TestPatienceOverGoroutineTransport(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	sum, _, err := runSwarm(t, context.Background(), shopProfile(t, "100ms", "", `
  model: closed
  stages: "0->5 in 0s, hold 1s"
`), Config{BaseURL: srv.URL, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ss := sum.Overall.Sessions
	if ss.Abandoned[report.AbandonSlow] < 5 || ss.Ended() != ss.Abandoned[report.AbandonSlow] || sum.PerStep[0].Raw.Count != ss.Ended() {
		t.Fatalf("over TLS: sessions %+v, cart answers %d; want every session abandoned at the cart", ss, sum.PerStep[0].Raw.Count)
	}
}

// TestNoSessionsWithoutPatienceOrSale: a profile with neither counts no
// session (its outputs are what they were).
func TestNoSessionsWithoutPatienceOrSale(t *testing.T) {
	sum, _, err := runSwarm(t, context.Background(), loadPing(t, `
  model: closed
  stages: "0->5 in 0s, hold 300ms"
`), Config{BaseURL: delayServer(t, time.Millisecond, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count == 0 || !sum.Overall.Sessions.IsZero() {
		t.Fatalf("%d requests, sessions %+v; want none counted", sum.Overall.Count, sum.Overall.Sessions)
	}
}
