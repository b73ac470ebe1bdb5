package main

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/agents/fleet"
)

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

// TestRunTooBigForOneMachine: a storm needing more agents than
// fleet.MaxAutoWorkers processes hold is a usage error, given before any worker
// starts, that names the machine's most and suggests --segment.
func TestRunTooBigForOneMachine(t *testing.T) {
	began := time.Now()
	code, out, errOut := runIt(t, nil, "--agents", "2000000000", "--target", "http://127.0.0.1:1")
	if code != exitUsage {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	capacity, _ := fleet.Capacity()
	most := commas(fleet.MachineAgents(capacity))
	if !strings.Contains(errOut, "one machine runs at most "+most) || !strings.Contains(errOut, "--segment") {
		t.Errorf("the error does not give the machine's most (%s) and --segment:\n%s", most, errOut)
	}
	if strings.Contains(out, "worker") {
		t.Errorf("workers were started:\n%s", out)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %s to refuse", took)
	}
}
