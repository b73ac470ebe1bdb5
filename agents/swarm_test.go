package agents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// serve runs h on a loopback listener until the test ends and returns its
// base URL.
func serve(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: h, Concurrency: 100000}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() {
		_ = s.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// load compiles a profile from YAML.
func load(t *testing.T, src string) *profiles.Profile {
	t.Helper()
	p, err := profiles.Load("test.yaml", []byte(src), t.TempDir())
	if err != nil {
		t.Fatalf("profile: %v", err)
	}
	return p
}

// loadPing loads a profile whose one flow GETs /ping, with the given
// workload block (lines indented by two spaces).
func loadPing(t *testing.T, workload string) *profiles.Profile {
	t.Helper()
	return load(t, "target: http://127.0.0.1:1\nworkload:"+workload+
		"flows:\n  - name: f\n    steps:\n      - {name: ping, method: GET, path: /ping}\n")
}

// newSwarm makes a swarm for prof with cfg and the recorder it records into.
func newSwarm(t *testing.T, prof *profiles.Profile, cfg Config) (*Swarm, *report.Recorder) {
	t.Helper()
	rec := report.NewRecorder(RecorderOptions(prof))
	s, err := New(cfg, prof, rec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, rec
}

// runSwarm runs prof with cfg and returns the summary and the swarm.
func runSwarm(t *testing.T, ctx context.Context, prof *profiles.Profile, cfg Config) (*report.Summary, *Swarm, error) {
	t.Helper()
	s, rec := newSwarm(t, prof, cfg)
	err := s.Run(ctx)
	return rec.Summary(s.Elapsed()), s, err
}

// cartServer is a tiny checkout: POST /carts creates a cart id, POST
// /carts/{id}/items must name a cart it issued, and every third item answer
// says mode "broken" (a failed expectation).
type cartServer struct {
	mu      sync.Mutex
	carts   map[string]bool
	created atomic.Int64
	items   atomic.Int64
	unknown atomic.Int64
	broken  atomic.Int64
	seq     atomic.Int64
}

func (cs *cartServer) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	switch {
	case path == "/carts" && ctx.IsPost():
		id := fmt.Sprintf("c-%d", cs.seq.Add(1))
		cs.mu.Lock()
		cs.carts[id] = true
		cs.mu.Unlock()
		cs.created.Add(1)
		ctx.SetStatusCode(201)
		ctx.SetContentType("application/json")
		fmt.Fprintf(ctx, `{"cart_id":%q}`, id)
	case strings.HasPrefix(path, "/carts/") && strings.HasSuffix(path, "/items"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/carts/"), "/items")
		cs.mu.Lock()
		ok := cs.carts[id]
		cs.mu.Unlock()
		if !ok {
			cs.unknown.Add(1)
			ctx.SetStatusCode(404)
			return
		}
		mode := "in_stock"
		if cs.items.Add(1)%3 == 0 {
			mode = "broken"
			cs.broken.Add(1)
		}
		ctx.SetContentType("application/json")
		fmt.Fprintf(ctx, `{"mode":%q}`, mode)
	default:
		ctx.SetStatusCode(404)
	}
}

const cartProfile = `
name: carts
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->8 in 0s, hold 1500ms"
  think: 5ms
population:
  regions: {r1: 1, r2: 1}
flows:
  - name: shopper
    steps:
      - name: open_cart
        method: POST
        path: /carts
        body: {customer: "{{customer.id}}"}
        capture: {cart_id: $.cart_id}
        expect: {status: 201}
      - name: add_item
        method: POST
        path: /carts/{{cart_id}}/items
        repeat: 2
        body: {sku: "{{sku}}"}
        expect:
          status: 200
          json: {mode: [in_stock]}
`

func TestClosedCapturesAndExpectations(t *testing.T) {
	cs := &cartServer{carts: map[string]bool{}}
	base := serve(t, cs.handle)
	prof := load(t, cartProfile)
	sum, sw, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base, Seed: 7})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if cs.created.Load() < 20 || cs.items.Load() < 20 {
		t.Fatalf("too little traffic: %d carts, %d items", cs.created.Load(), cs.items.Load())
	}
	if n := cs.unknown.Load(); n != 0 {
		t.Fatalf("%d item requests named a cart the server never issued: captures did not flow", n)
	}
	open, add := sum.PerStep[0], sum.PerStep[1]
	if open.Name != "open_cart" || add.Name != "add_item" {
		t.Fatalf("steps %q %q", open.Name, add.Name)
	}
	if open.Count != cs.created.Load() || open.Counts[report.OK] != open.Count {
		t.Fatalf("open_cart: recorded %d (ok %d), server created %d", open.Count, open.Counts[report.OK], cs.created.Load())
	}
	if add.Count != cs.items.Load() {
		t.Fatalf("add_item: recorded %d, server answered %d", add.Count, cs.items.Load())
	}
	if got, want := add.Counts[report.ExpectFailed], cs.broken.Load(); got != want {
		t.Fatalf("add_item failed expectations: recorded %d, server sent %d broken answers", got, want)
	}
	if f := sw.Failures(); len(f) != 1 || f[0] != (Failure{Step: "add_item", Kind: "json:mode", Status: 200, Count: cs.broken.Load()}) {
		t.Fatalf("failures %+v, want add_item json:mode 200 x %d", f, cs.broken.Load())
	}
	if sum.Connections < 8 || sum.Connections > 16 {
		t.Fatalf("connections opened %d, want about one per agent (8)", sum.Connections)
	}
	if sum.Overall.Corrected == nil {
		t.Fatal("closed model: no corrected latency recorded")
	}
	if sum.PeakActiveAgents != 8 {
		t.Fatalf("peak active agents %d, want 8", sum.PeakActiveAgents)
	}
}

func TestClosedStagesFollowRamp(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := loadPing(t, `
  model: closed
  stages: "0->40 in 1s, hold 500ms, ->10 in 0s, hold 500ms"
  think: 20ms
`)
	sw, _ := newSwarm(t, prof, Config{BaseURL: base})
	type sample struct {
		at     time.Duration
		active int64
	}
	var samples []sample
	done := make(chan error)
	go func() { done <- sw.Run(context.Background()) }()
	start := time.Now()
	for _, at := range []time.Duration{500 * time.Millisecond, 1300 * time.Millisecond, 1800 * time.Millisecond} {
		time.Sleep(time.Until(start.Add(at)))
		samples = append(samples, sample{at, sw.Stats().Active})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []struct{ lo, hi int64 }{{14, 26}, {40, 40}, {10, 10}}
	for i, s := range samples {
		if s.active < want[i].lo || s.active > want[i].hi {
			t.Errorf("at %s: %d active agents, want %d..%d", s.at, s.active, want[i].lo, want[i].hi)
		}
	}
	if st := sw.Stats(); st.Agents != 0 || st.Connected != 0 {
		t.Errorf("after Run: %d agents alive, %d connections open", st.Agents, st.Connected)
	}
}

// errorProfile is one agent hitting one step with a short timeout.
const errorProfile = `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->2 in 0s, hold 800ms"
  think: 10ms
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: /ping, timeout: 200ms}
`

// rawListener accepts connections and hands each to fn.
func rawListener(t *testing.T, fn func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); fn(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// stallListener accepts connections and reads them without ever answering.
func stallListener(t *testing.T) string {
	t.Helper()
	return rawListener(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
}

func TestErrorClasses(t *testing.T) {
	closedPort := func() string {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}
	cases := []struct {
		name    string
		base    func() string
		want    report.Outcome
		wantErr bool // Run reports the target unreachable
	}{
		{"refused", closedPort, report.ConnRefused, true},
		{"reset", func() string {
			return rawListener(t, func(c net.Conn) {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			})
		}, report.ConnReset, false},
		{"stall", func() string { return stallListener(t) }, report.Timeout, false},
		{"garbage", func() string {
			return rawListener(t, func(c net.Conn) {
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte("NOT HTTP AT ALL\r\n\r\n"))
				}
				time.Sleep(50 * time.Millisecond)
				c.Close()
			})
		}, report.OtherError, false},
		{"dns", func() string { return "http://no-such-host.invalid:80" }, report.DNS, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prof := load(t, errorProfile)
			sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: tc.base()})
			if tc.wantErr != (err != nil) {
				t.Fatalf("Run error %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, ErrUnreachable) {
				t.Fatalf("Run error %v does not wrap ErrUnreachable", err)
			}
			all := sum.Overall
			if all.Counts[tc.want] == 0 {
				t.Fatalf("no %s outcome recorded; counts %v", tc.want, all.Counts)
			}
			if all.Counts[report.OK] != 0 {
				t.Fatalf("%d OK outcomes from a broken target", all.Counts[report.OK])
			}
			if all.Counts[tc.want] != all.Count {
				t.Errorf("outcomes other than %s: %v", tc.want, all.Counts)
			}
		})
	}
}

func TestCancelSummarisesWithinTwoSeconds(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := loadPing(t, `
  model: closed
  stages: "0->16 in 0s, hold 60s"
  think: 100ms
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	start := time.Now()
	sum, sw, err := runSwarm(t, ctx, prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2700*time.Millisecond {
		t.Fatalf("Run took %s after a cancel at 0.7s, want under 2s more", took)
	}
	if sum.Overall.Count < 16 {
		t.Fatalf("summary after cancel has %d requests", sum.Overall.Count)
	}
	if e := sw.Elapsed(); e < 600*time.Millisecond || e > 1500*time.Millisecond {
		t.Fatalf("elapsed %s, want about 0.7s", e)
	}
}

// TestStopAndEndCutPausesShort: agents in a long think time leave at once
// when the level falls (the newest are asked to stop) and when the run ends.
func TestStopAndEndCutPausesShort(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := loadPing(t, `
  model: closed
  stages: "0->8 in 0s, hold 400ms, ->2 in 0s, hold 600ms"
  think: 1h
`)
	sw, rec := newSwarm(t, prof, Config{BaseURL: base})
	var agentsAfterDrop atomic.Int64
	agentsAfterDrop.Store(-1)
	time.AfterFunc(800*time.Millisecond, func() { agentsAfterDrop.Store(sw.Stats().Agents) })
	start := time.Now()
	if err := sw.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Fatalf("Run took %s for a 1 s plan: agents slept through its end", took)
	}
	if n := agentsAfterDrop.Load(); n != 2 {
		t.Fatalf("%d agents alive 0.4 s after the level fell from 8 to 2, want 2", n)
	}
	if n := rec.Summary(sw.Elapsed()).Overall.Count; n != 8 {
		t.Fatalf("%d requests, want 8 (one per agent before its 1 h think)", n)
	}
}

func TestStopCutsStalledCalls(t *testing.T) {
	base := stallListener(t)
	prof := load(t, `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->4 in 0s, hold 500ms"
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: /ping, timeout: 30s}
`)
	start := time.Now()
	sum, sw, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond+StopGrace+time.Second {
		t.Fatalf("Run took %s with calls stalled past the end", took)
	}
	if sum.Overall.Count != 0 {
		t.Fatalf("cut calls were recorded: %v", sum.Overall.Counts)
	}
	if st := sw.Stats(); st.Connected != 0 {
		t.Fatalf("%d connections left open", st.Connected)
	}
}

func TestOpenDropsWhenAgentsExhausted(t *testing.T) {
	var served atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(100 * time.Millisecond)
		served.Add(1)
		ctx.SetBodyString("ok")
	})
	prof := loadPing(t, `
  model: open
  stages: "0->100 in 0s, hold 1s"
  max_agents: 4
`)
	sum, sw, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	// 100 sessions due; 4 agents can run about 4 per 100 ms = 40.
	if sum.Dropped < 40 || sum.Dropped > 80 {
		t.Fatalf("dropped %d sessions, want about 60 (100 due, ~40 runnable)", sum.Dropped)
	}
	if sum.Overall.Count+sum.Dropped < 95 || sum.Overall.Count+sum.Dropped > 101 {
		t.Fatalf("run %d + dropped %d sessions, want the 100 planned", sum.Overall.Count, sum.Dropped)
	}
	st := sw.Stats()
	if st.Dropped != sum.Dropped {
		t.Fatalf("stats dropped %d, summary %d", st.Dropped, sum.Dropped)
	}
	if st.Agents != 0 || st.Connected != 0 {
		t.Fatalf("after Run: %d open-model agents alive, %d connections open", st.Agents, st.Connected)
	}
}

// TestOpenMeasuresFromIntendedStart: a server that stalls for a while makes
// the open model's latencies run from each session's scheduled start, so
// sessions scheduled during the stall show it, and the rate holds.
func TestOpenMeasuresFromIntendedStart(t *testing.T) {
	var stallUntil atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		if d := time.Until(time.Unix(0, stallUntil.Load())); d > 0 {
			time.Sleep(d)
		}
		ctx.SetBodyString("ok")
	})
	prof := loadPing(t, `
  model: open
  stages: "0->200 in 0s, hold 2s"
  max_agents: 400
`)
	time.AfterFunc(500*time.Millisecond, func() { stallUntil.Store(time.Now().Add(500 * time.Millisecond).UnixNano()) })
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	all := sum.Overall
	if all.Count < 380 || all.Count > 401 || sum.Dropped != 0 {
		t.Fatalf("%d requests, %d dropped; want the 400 planned, none dropped", all.Count, sum.Dropped)
	}
	// A quarter of the sessions were scheduled during the stall; their
	// latencies spread up to 500 ms, so p90 is well above 100 ms.
	p90 := all.Raw.P90
	if p90 < 150*time.Millisecond {
		t.Fatalf("open model p90 %s hides a 500 ms stall", p90)
	}
}

// TestOpenEarlyStartTimedFromSend: the open model may start a session up to
// earlyStart before its intended instant (timer granularity); such a session
// is timed from its send, so no latency is ever below what the server took.
func TestOpenEarlyStartTimedFromSend(t *testing.T) {
	const delay = 4 * time.Millisecond
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		time.Sleep(delay)
		ctx.SetBodyString("ok")
	})
	prof := loadPing(t, `
  model: open
  stages: "0->400 in 0s, hold 1500ms"
  max_agents: 100
`)
	var mu sync.Mutex
	var below, total int64
	cfg := Config{BaseURL: base, Interval: 100 * time.Millisecond, OnInterval: func(iv *report.Interval, _ Stats) {
		mu.Lock()
		defer mu.Unlock()
		// The histogram is in µs; a value HDR cannot tell from delay counts
		// as not below it.
		below += report.CountAtOrBelow(iv.All, delay-20*time.Microsecond)
		total += iv.All.TotalCount()
	}}
	sum, _, err := runSwarm(t, context.Background(), prof, cfg)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if total < 500 || sum.Dropped != 0 {
		t.Fatalf("%d requests seen in intervals, %d dropped; want about 600, none dropped", total, sum.Dropped)
	}
	if below != 0 {
		t.Fatalf("%d of %d latencies below the server's %s: early sessions timed from their intended start", below, total, delay)
	}
}

func TestSeedReproducible(t *testing.T) {
	src := `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->1 in 0s, hold 400ms"
population:
  skus: {count: 1000}
flows:
  - name: a
    weight: 1
    steps:
      - {name: a, method: GET, path: "/a/{{sku}}/{{n}}", set: {n: "{{int 1 1000000}}"}}
  - name: b
    weight: 1
    steps:
      - {name: b, method: GET, path: "/b/{{sku}}"}
`
	record := func(seed uint64) []string {
		var mu sync.Mutex
		var paths []string
		base := serve(t, func(ctx *fasthttp.RequestCtx) {
			mu.Lock()
			if len(paths) < 50 {
				paths = append(paths, string(ctx.Path()))
			}
			mu.Unlock()
			ctx.SetBodyString("ok")
		})
		_, _, err := runSwarm(t, context.Background(), load(t, src), Config{BaseURL: base, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(paths) < 50 {
			t.Fatalf("only %d requests", len(paths))
		}
		return paths
	}
	a, b, c := record(42), record(42), record(43)
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("same seed, different requests:\n%v\n%v", a[:5], b[:5])
	}
	if strings.Join(a, " ") == strings.Join(c, " ") {
		t.Fatalf("different seeds, same requests: %v", a[:5])
	}
}

func TestRetryKeepsIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{}
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		k := string(ctx.Request.Header.Peek("Idempotency-Key"))
		mu.Lock()
		keys[k]++
		n := keys[k]
		mu.Unlock()
		if n < 3 {
			ctx.SetStatusCode(503)
			return
		}
		ctx.SetStatusCode(202)
	})
	prof := load(t, `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->1 in 0s, hold 300ms"
  think: 10ms
flows:
  - name: f
    steps:
      - name: checkout
        method: POST
        path: /checkout
        idempotency_key: "{{uuid}}"
        retry: {max: 3, backoff: 1ms, on: [5xx]}
        expect: {status: 202}
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) < 3 {
		t.Fatalf("only %d checkouts", len(keys))
	}
	full := 0
	for k, n := range keys {
		if k == "" {
			t.Fatal("request without Idempotency-Key")
		}
		if n > 3 {
			t.Fatalf("key %s used %d times, want at most 3 (first try + 2 retries)", k, n)
		}
		if n == 3 {
			full++
		}
	}
	if full < len(keys)-1 { // the last may be cut by the end of the run
		t.Fatalf("%d of %d keys were retried to success", full, len(keys))
	}
	ok, bad := sum.Overall.Counts[report.OK], sum.Overall.Counts[report.BadStatus]
	if ok != int64(full) || bad < 2*ok {
		t.Fatalf("recorded ok %d, bad status %d; want %d ok and two 503s each", ok, bad, full)
	}
}

func TestKeepAliveClosedByServerIsNotAnError(t *testing.T) {
	// The server closes every connection after its answer without saying
	// so (no Connection: close): the agent's next request meets a closed
	// connection and must redial and resend, not count an error.
	base := rawListener(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		if n, err := c.Read(buf); err == nil && bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
		c.Close()
	})
	prof := loadPing(t, `
  model: closed
  stages: "0->2 in 0s, hold 500ms"
  think: 20ms
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count < 10 || sum.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors (%v)", sum.Overall.Count, sum.Overall.Errors, sum.Overall.Counts)
	}
}

// TestLargeResponseHeader: an answer whose header does not fit the pooled
// read buffer is still read, checked and captured from.
func TestLargeResponseHeader(t *testing.T) {
	big := strings.Repeat("x", 3*readBufSize)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Big", big)
		ctx.SetBodyString(`{"id":"abc"}`)
	})
	prof := load(t, `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->2 in 0s, hold 300ms"
  think: 10ms
flows:
  - name: f
    steps:
      - name: a
        method: GET
        path: /a
        capture: {h: {header: X-Big}, id: $.id}
        expect: {status: 200, body: abc}
`)
	sum, sw, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count < 5 || sum.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors %v, failures %+v", sum.Overall.Count, sum.Overall.Errors, sum.Overall.Counts, sw.Failures())
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	prof := load(t, errorProfile)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: srv.URL, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count < 5 || sum.Overall.Errors != 0 {
		t.Fatalf("--insecure against a self-signed server: %d requests, counts %v", sum.Overall.Count, sum.Overall.Counts)
	}
	sum, _, err = runSwarm(t, context.Background(), load(t, errorProfile), Config{BaseURL: srv.URL})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("verification on against a self-signed server: Run error %v, want unreachable", err)
	}
	if n := sum.Overall.Counts[report.TLS]; n == 0 || n != sum.Overall.Count {
		t.Fatalf("verification on: want only TLS outcomes, got %v", sum.Overall.Counts)
	}
}

func TestSourceAddresses(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen[ctx.RemoteIP().String()]++
		mu.Unlock()
	})
	prof := loadPing(t, `
  model: closed
  stages: "0->4 in 0s, hold 300ms"
  think: 20ms
`)
	// Loopback: agents spread from 127.0.0.2 on, never 127.0.0.1.
	if _, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if seen["127.0.0.1"] != 0 || seen["127.0.0.2"] == 0 {
		t.Fatalf("loopback sources %v, want 127.0.0.2... only", seen)
	}
	clear(seen)
	mu.Unlock()
	// Explicit sources, round-robin by agent id.
	cfg := Config{BaseURL: base, SourceAddrs: []net.IP{net.ParseIP("127.0.0.7"), net.ParseIP("127.0.0.8")}}
	if _, _, err := runSwarm(t, context.Background(), prof, cfg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen["127.0.0.7"] == 0 || seen["127.0.0.8"] == 0 {
		t.Fatalf("explicit sources %v, want 127.0.0.7 and 127.0.0.8", seen)
	}
}

// TestRepeatAndPermutations: a step with repeat 2 and a 2 × 2 permute list
// sends 2 × 4 requests per session, one per combination each time.
func TestRepeatAndPermutations(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen[string(ctx.Path())]++
		mu.Unlock()
	})
	prof := load(t, `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->1 in 0s, hold 300ms"
  think: 5ms
flows:
  - name: f
    steps:
      - name: quote
        method: GET
        path: /q/{{perm.dest}}/{{perm.speed}}
        repeat: 2
        permute:
          dests: [US, JP]
          speeds: [fast, slow]
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 4 {
		t.Fatalf("paths %v, want the 4 combinations", seen)
	}
	lo, hi := 1<<30, 0
	for _, n := range seen {
		lo, hi = min(lo, n), max(hi, n)
	}
	if hi-lo > 1 || sum.Overall.Count < 16 {
		t.Fatalf("combinations not sent evenly (%v) or too few requests (%d)", seen, sum.Overall.Count)
	}
}

// A session whose capture failed ends before the step that needs the value:
// no request goes out with an empty cart id, and the skip is counted.
func TestSessionEndsWhenCaptureMissing(t *testing.T) {
	cs := &cartServer{carts: map[string]bool{}}
	var opened, emptyID atomic.Int64
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		path := string(ctx.Path())
		if path == "/carts" && opened.Add(1)%2 == 0 {
			ctx.SetStatusCode(201) // an answer without the cart id
			ctx.SetBodyString(`{}`)
			return
		}
		if strings.HasPrefix(path, "/carts//") {
			emptyID.Add(1)
		}
		cs.handle(ctx)
	})
	prof := load(t, strings.Replace(cartProfile, "\n          json: {mode: [in_stock]}", "", 1))
	_, sw, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base, Seed: 7})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := emptyID.Load(); n != 0 {
		t.Fatalf("%d requests went out with an empty cart id", n)
	}
	var skipped, captures int64
	for _, f := range sw.Failures() {
		switch f.Kind {
		case "skipped:cart_id unset":
			skipped += f.Count
		case "capture":
			captures += f.Count
		}
	}
	if skipped == 0 || skipped > captures {
		t.Fatalf("skipped sessions %d, failed captures %d (failures %+v)", skipped, captures, sw.Failures())
	}
}

// TestBaseURLPathPrefixesRequests: the path of the base URL (its trailing
// slash dropped) goes before every request's path.
func TestBaseURLPathPrefixesRequests(t *testing.T) {
	var mu sync.Mutex
	paths := map[string]int{}
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		paths[string(ctx.RequestURI())]++ // as sent (Path would fold "//")
		mu.Unlock()
		ctx.SetBodyString("ok")
	})
	prof := loadPing(t, `
  model: closed
  stages: "0->1 in 0s, hold 200ms"
  think: 20ms
`)
	sum, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base + "/api/"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if sum.Overall.Count == 0 || len(paths) != 1 || paths["/api/ping"] == 0 {
		t.Fatalf("%d requests; paths seen %v, want only /api/ping", sum.Overall.Count, paths)
	}
}

// TestLoopsLeaveAProcessor: a swarm leaves its other goroutines a
// processor beside its loops (GOMAXPROCS goes to loops + 1 when it is not
// above), so a loop back from epoll_wait need not wait for one; and the
// loops a later swarm defaults to do not count those raised processors.
func TestLoopsLeaveAProcessor(t *testing.T) {
	was := runtime.GOMAXPROCS(2)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := loadPing(t, `
  model: closed
  stages: "0->2 in 0s, hold 300ms"
`)
	if _, _, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base, Loops: 2}); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Fatalf("GOMAXPROCS %d after a swarm of 2 loops, want 3", got)
	}
	if got, want := DefaultLoops(2), min(2, runtime.NumCPU()); got != want {
		t.Fatalf("DefaultLoops after GOMAXPROCS was raised: %d, want %d (the CPUs it was before)", got, want)
	}
}

// TestPrefilledAgentsBeforeStart: a closed model's agents are made before
// the start (all of the peak, when there is time), each the agent it would
// have been (same region from its own random source); a run cut short
// while most of them have not started ends cleanly, and one whose start is
// already due makes none early.
func TestPrefilledAgentsBeforeStart(t *testing.T) {
	base := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") })
	prof := load(t, "target: "+base+`
population:
  regions: {a: 1, b: 1, c: 1}
workload:
  model: closed
  stages: "0->3000 in 30s"
  think: 1s
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: /ping}
`)
	s, rec := newSwarm(t, prof, Config{BaseURL: base})
	s.prefill(time.Time{})
	if len(s.all) != 3000 {
		t.Fatalf("prefill made %d agents, want the peak's 3000", len(s.all))
	}
	for _, id := range []int{0, 1, 1234, 2999} {
		if a, b := s.all[id], newAgent(s, id); a.region != b.region || a.gid != b.gid || a.l != nil {
			t.Fatalf("agent %d made early: region %d gid %d loop %v; made late: region %d gid %d", id, a.region, a.gid, a.l, b.region, b.gid)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not end within 15 s of a cancel at 0.3 s")
	}
	started := 0
	for _, a := range s.all {
		if a.l != nil {
			started++
		}
	}
	if started == 0 || started > 100 {
		t.Fatalf("%d agents started in 0.3 s of a 100-a-second ramp", started)
	}
	if sum := rec.Summary(s.Elapsed()); sum.Overall.Count == 0 {
		t.Fatal("no requests recorded")
	}

	late, _ := newSwarm(t, prof, Config{BaseURL: base})
	late.prefill(time.Now().Add(-time.Second))
	if len(late.all) != 0 {
		t.Fatalf("a start already due: prefill made %d agents", len(late.all))
	}
}
