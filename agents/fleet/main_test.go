package fleet

import (
	"context"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"
)

// workerEnv makes this test binary a worker process (RunWorkerMain), as
// cmd/agentstorm's `worker` subcommand is.
const workerEnv = "AGENTSTORM_FLEET_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := RunWorkerMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// countingServer answers 201 on loopback and counts the requests.
func countingServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		n.Add(1)
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"cart_id":"c0-1","mode":"in_stock"}`)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "http://" + ln.Addr().String(), &n
}

// tinyProfile is 4 agents posting carts every 20 ms, in one region.
const tinyProfile = `name: tiny
population: {regions: {default: 1}}
workload:
  model: closed
  stages: "0->4 in 0s, hold 30s"
  think: 20ms
flows:
  - name: f
    steps:
      - {name: open_cart, method: POST, path: /v1/carts, body: {a: 1}, expect: {status: 201}}
`

func writeProfile(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
