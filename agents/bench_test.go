package agents

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// benchProfile is a typical write step: a JSON body with variables, a
// capture and an expectation on the answer.
const benchProfile = `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->256 in 0s, hold 5s"
population:
  regions: {us-east: 1, eu-west: 1}
  skus: {count: 1000, popularity: zipf, exponent: 1.1}
flows:
  - name: f
    steps:
      - name: add_to_cart
        method: POST
        path: /v1/carts/c1-42/items
        body: {sku: "{{sku}}", qty: "{{int 1 3}}", customer: "{{customer.id}}"}
        capture: {mode: $.mode}
        expect:
          status: 200
          json: {mode: [in_stock, preorder]}
`

// BenchmarkAgentCall is one agent's full request path on a kept-alive
// loopback connection: render the request into a pooled buffer, write it,
// read the answer, check it, capture from it, record it. It must not
// allocate (the in-process server is fasthttp, which does not either).
// "json" adds a JSON capture and a JSON expectation (profiles' gjson use);
// "status" checks the status only; "patience" is json with a patience
// and the step a sale, so every answer is judged and every session's end
// and sale recorded (bench/RESULTS.md compares the variants).
func BenchmarkAgentCall(b *testing.B) {
	b.Run("json", func(b *testing.B) { benchAgentCall(b, benchProfile) })
	plain := strings.Replace(strings.Replace(benchProfile, "        capture: {mode: $.mode}\n", "", 1),
		"          json: {mode: [in_stock, preorder]}\n", "", 1)
	b.Run("status", func(b *testing.B) { benchAgentCall(b, plain) })
	judged := "patience: 10s\norder_value: 85.00\n" + strings.Replace(benchProfile, "        capture:", "        sale: true\n        capture:", 1)
	b.Run("patience", func(b *testing.B) { benchAgentCall(b, judged) })
}

// BenchmarkAgentCookies is BenchmarkAgentCall's json step repeated ten
// times a session against a server that sets a session cookie on every
// answer: "jar" keeps it and sends it back (cookies on, the default),
// "off" is the same with cookies: false. Their difference is the jar's cost.
func BenchmarkAgentCookies(b *testing.B) {
	repeated := strings.Replace(benchProfile, "        capture:", "        repeat: 10\n        capture:", 1)
	b.Run("jar", func(b *testing.B) { benchAgentCall(b, repeated, benchSetCookie) })
	b.Run("off", func(b *testing.B) { benchAgentCall(b, "cookies: false\n"+repeated, benchSetCookie) })
}

// BenchmarkAgentCompression is BenchmarkAgentCall's json step asking for
// gzip (compression: gzip) from a server that sends its answer gzipped,
// decoded before the check and the capture; "plain" is the same server
// and profile without compression. Their difference is the decoding's cost.
func BenchmarkAgentCompression(b *testing.B) {
	body := []byte(`{"cart_id":"c1-42","mode":"in_stock","items":3}`)
	gz := fasthttp.AppendGzipBytes(nil, body)
	gzipped := func(ctx *fasthttp.RequestCtx) {
		if len(ctx.Request.Header.Peek("Accept-Encoding")) > 0 {
			ctx.Response.Header.Set("Content-Encoding", "gzip")
			ctx.SetBody(gz)
		}
	}
	b.Run("gzip", func(b *testing.B) { benchAgentCall(b, "compression: gzip\n"+benchProfile, gzipped) })
	b.Run("plain", func(b *testing.B) { benchAgentCall(b, benchProfile, gzipped) })
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSetCookie sets a session cookie on an answer.
func benchSetCookie(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Set-Cookie", "sid=3f2a9c61e0b84d57; Path=/; HttpOnly")
}

func benchAgentCall(b *testing.B, src string, also ...fasthttp.RequestHandler) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"cart_id":"c1-42","mode":"in_stock","items":3}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
		for _, h := range also {
			h(ctx)
		}
	}}
	go srv.Serve(ln)     //nolint:errcheck
	defer srv.Shutdown() //nolint:errcheck
	prof, err := profiles.Load("bench.yaml", []byte(src), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rec := report.NewRecorder(RecorderOptions(prof))
	s, err := New(Config{BaseURL: "http://" + ln.Addr().String()}, prof, rec)
	if err != nil {
		b.Fatal(err)
	}
	// One agent on a real event loop, started, run for n answers, then
	// stopped; every answer goes through the loop as in a storm.
	s.start = time.Now()
	var loops sync.WaitGroup
	if err := s.startLoops(&loops); err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, l := range s.loops {
			l.stop()
		}
		loops.Wait()
	}()
	a := s.agentFor(1)
	var count, target atomic.Int64
	done := make(chan struct{}, 1)
	s.cfg.OnAnswer = func(Answer) {
		if count.Add(1) == target.Load() {
			a.stopping.Store(true)
			done <- struct{}{}
		}
	}
	runN := func(n int) {
		count.Store(0)
		target.Store(int64(n))
		a.stopping.Store(false)
		s.wg.Add(1)
		a.l.post(command{kind: cmdStart, a: a})
		<-done
		s.wg.Wait()
	}
	runN(100) // warm up: connection, pools, histograms
	if n := rec.Summary(time.Second).Overall.Count; n != 100 {
		b.Fatalf("warm-up recorded %d requests", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	runN(b.N)
	cpu := processCPU() - cpu0
	b.StopTimer()
	// CPU (user+system) of the whole process per request: the agent's
	// loop and the in-process server, whose work is the same in the
	// variants a benchmark compares.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	sum := rec.Summary(time.Second)
	if sum.Overall.Errors != 0 {
		b.Fatalf("errors: %v (failures %v)", sum.Overall.Counts, s.Failures())
	}
	if prof.TracksSessions() && sum.Overall.Sessions.Sales < int64(b.N) {
		b.Fatalf("sessions %+v: every answer should have been a sale", sum.Overall.Sessions)
	}
}

// BenchmarkSwarmClosedLoop runs the real swarm, 256 agents with no think
// time in the closed model, against the server at $AGENTSTORM_BENCH_TARGET
// (bench/barefast in another process) for $AGENTSTORM_BENCH_SECONDS
// (default 5), on $AGENTSTORM_BENCH_LOOPS event loops (default
// DefaultLoops). Run with -benchtime=1x; bench/swarm-vs-wrk.sh alternates
// it with wrk -t2 -c256.
func BenchmarkSwarmClosedLoop(b *testing.B) {
	target := os.Getenv("AGENTSTORM_BENCH_TARGET")
	if target == "" {
		b.Skip("AGENTSTORM_BENCH_TARGET not set")
	}
	secs := "5s"
	if s := os.Getenv("AGENTSTORM_BENCH_SECONDS"); s != "" {
		secs = s + "s"
	}
	src := `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->256 in 0s, hold ` + secs + `"
flows:
  - name: f
    steps:
      - name: add_to_cart
        method: POST
        path: /cart/items
        body: {sku: sku-1, qty: 1}
`
	prof, err := profiles.Load("bench.yaml", []byte(src), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rec := report.NewRecorder(RecorderOptions(prof))
	loops, _ := strconv.Atoi(os.Getenv("AGENTSTORM_BENCH_LOOPS")) // 0: the default
	s, err := New(Config{BaseURL: target, Loops: loops}, prof, rec)
	if err != nil {
		b.Fatal(err)
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	if err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	sum := rec.Summary(s.Elapsed())
	b.ReportMetric(sum.Overall.RPS, "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(sum.Overall.Count), "cpu-us/req")
	b.ReportMetric(float64(sum.Overall.Errors), "errors")
}

// BenchmarkMemoryPerAgent starts $AGENTSTORM_BENCH_AGENTS (default 15,000)
// closed-model agents at once, with 2 s think time, against the base URLs in
// $AGENTSTORM_BENCH_TARGETS (comma-separated, e.g. the bundled target's
// shards; bench/swarm-memory.sh sets it up), and reports how long until
// every agent was connected and the RSS growth per agent once they all
// think. Run with -benchtime=1x.
func BenchmarkMemoryPerAgent(b *testing.B) {
	targets := os.Getenv("AGENTSTORM_BENCH_TARGETS")
	if targets == "" {
		b.Skip("AGENTSTORM_BENCH_TARGETS not set")
	}
	n := 15000
	if s := os.Getenv("AGENTSTORM_BENCH_AGENTS"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			b.Fatalf("AGENTSTORM_BENCH_AGENTS: %v", err)
		}
	}
	src := fmt.Sprintf(`
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->%d in 0s, hold 12s"
  think: 2s
population:
  regions: {us-east: 1}
  skus: {count: 1000}
flows:
  - name: f
    steps:
      - {name: inventory, method: GET, path: "/v1/inventory/{{sku}}"}
`, n)
	prof, err := profiles.Load("bench.yaml", []byte(src), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	rec := report.NewRecorder(RecorderOptions(prof))
	urls := strings.Split(targets, ",")
	s, err := New(Config{RegionURLs: map[string][]string{"us-east": urls}}, prof, rec)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	before := rssBytes(b)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Run(context.Background()) }()
	var connectedIn time.Duration
	for time.Since(start) < 10*time.Second {
		if s.Stats().Connected >= int64(n) {
			connectedIn = time.Since(start)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Let every agent make a few requests and settle into thinking.
	time.Sleep(7*time.Second - time.Since(start))
	runtime.GC()
	if os.Getenv("AGENTSTORM_BENCH_FREEOS") != "" {
		debug.FreeOSMemory()
		debug.FreeOSMemory()
	}
	time.Sleep(500 * time.Millisecond)
	during := rssBytes(b)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := s.Stats()
	b.Logf("per agent: stack %d B, heap in use %d B (%d objects), heap idle-not-released %d B",
		int64(ms.StackInuse)/int64(n), int64(ms.HeapInuse)/int64(n), int64(ms.HeapObjects)/int64(n),
		int64(ms.HeapIdle-ms.HeapReleased)/int64(n))
	if p := os.Getenv("AGENTSTORM_BENCH_HEAPPROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	sum := rec.Summary(s.Elapsed())
	if connectedIn == 0 {
		b.Fatalf("only %d of %d agents connected within 10 s", st.Connected, n)
	}
	b.ReportMetric(connectedIn.Seconds(), "s-to-connect-all")
	b.ReportMetric(float64(during-before)/float64(n)/1024, "KiB-RSS/agent")
	b.ReportMetric(sum.Overall.RPS, "req/s")
	b.ReportMetric(float64(sum.Overall.Errors), "errors")
	b.Logf("%d agents: RSS %d MiB before, %d MiB thinking (%d connected, %d requests); all connected in %s",
		n, before>>20, during>>20, st.Connected, sum.Overall.Count, connectedIn)
}

// rssBytes reads this process's resident set size from /proc/self/statm.
func rssBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatal(err)
	}
	var size, rss int64
	if _, err := fmt.Sscan(string(data), &size, &rss); err != nil {
		b.Fatal(err)
	}
	return rss * int64(os.Getpagesize())
}
