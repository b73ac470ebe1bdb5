package agents

import (
	"context"
	"net"
	"os"
	"strings"
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
// "status" checks the status only.
func BenchmarkAgentCall(b *testing.B) {
	b.Run("json", func(b *testing.B) { benchAgentCall(b, benchProfile) })
	plain := strings.Replace(strings.Replace(benchProfile, "        capture: {mode: $.mode}\n", "", 1),
		"          json: {mode: [in_stock, preorder]}\n", "", 1)
	b.Run("status", func(b *testing.B) { benchAgentCall(b, plain) })
}

func benchAgentCall(b *testing.B, src string) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"cart_id":"c1-42","mode":"in_stock","items":3}`)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
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
	s.dialCtx = context.Background()
	a := newAgent(s, 1)
	step := prof.Flows[0].Steps[0]
	id := s.stepIDs[step]
	for i := 0; i < 100; i++ { // warm up: connection, pools, histograms
		a.c.StartExecution()
		a.execute(id, step, time.Time{})
	}
	if n := s.requests.Load(); n != 100 {
		b.Fatalf("warm-up recorded %d requests", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.c.StartExecution()
		a.execute(id, step, time.Time{})
	}
	b.StopTimer()
	a.closeConn()
	sum := rec.Summary(time.Second)
	if sum.Overall.Errors != 0 {
		b.Fatalf("errors: %v (failures %v)", sum.Overall.Counts, s.Failures())
	}
}

// BenchmarkSwarmClosedLoop runs the real swarm, 256 agents with no think
// time in the closed model, against the server at $AGENTSTORM_BENCH_TARGET
// (bench/barefast in another process) for $AGENTSTORM_BENCH_SECONDS
// (default 5). Run with -benchtime=1x; bench/swarm-vs-wrk.sh alternates it
// with wrk -t2 -c256.
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
	s, err := New(Config{BaseURL: target}, prof, rec)
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
