package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/report"
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

// runWorkerStream runs `agentstorm worker args...` in-process, reading its
// stdout with a streamReader; it returns the exit code, the log the reader
// kept, the intervals it decoded and the reader.
func runWorkerStream(t *testing.T, sigs chan os.Signal, args ...string) (int, []byte, []*workerInterval, *streamReader) {
	t.Helper()
	pr, pw := io.Pipe()
	var errOut runBuffer
	env := &cliEnv{stdout: pw, stderr: &errOut, interrupts: sigs}
	sr := newStreamReader([]string{"open_cart"}, []string{"default"})
	var log bytes.Buffer
	var ivs []*workerInterval
	readDone := make(chan error, 1)
	go func() {
		readDone <- sr.read(pr, &log, func(w *workerInterval) { ivs = append(ivs, w) })
		_, _ = io.Copy(io.Discard, pr)
	}()
	code := runCLI(context.Background(), env, append([]string{"worker"}, args...))
	pw.Close()
	if err := <-readDone; err != nil {
		t.Fatalf("read stream: %v\nstderr: %s", err, errOut.String())
	}
	if code != exitOK {
		t.Fatalf("worker exit %d\nstderr: %s", code, errOut.String())
	}
	return code, log.Bytes(), ivs, sr
}

func TestWorkerStreamsIntervals(t *testing.T) {
	base, served := countingServer(t)
	prof := writeProfile(t, strings.Replace(tinyProfile, "\nworkload:", "\npopulation: {regions: {default: 1}}\nworkload:", 1))
	start := time.Now().Add(200 * time.Millisecond).UTC()
	_, log, ivs, sr := runWorkerStream(t, nil, "--segment", "1/3", "--start-at", start.Format(time.RFC3339Nano),
		"--profile", prof, "--target", base, "--agents", "7", "--duration", "2500ms", "--ramp", "0s")
	if len(ivs) < 3 || len(ivs) > 4 {
		t.Fatalf("%d intervals streamed, want 3 (2 full seconds and the rest)", len(ivs))
	}
	if !sr.ended {
		t.Fatal("no end line")
	}
	var sum int64
	for i, w := range ivs {
		sum += w.Iv.Count()
		if w.Stats.Segment != "1/3" {
			t.Errorf("interval %d: segment %q", i, w.Stats.Segment)
		}
		if i < len(ivs)-1 && w.Stats.Active != 2 { // agents 1 and 4 of 0…6
			t.Errorf("interval %d: %d active agents, want 2", i, w.Stats.Active)
		}
		if c := w.Iv.Cell(0, 0); c.Latency == nil || c.Latency.TotalCount() != c.Counts[report.OK] {
			t.Errorf("interval %d: histogram and counts disagree", i)
		}
	}
	if got := served.Load(); got != sum || sum == 0 {
		t.Fatalf("target served %d requests, stream says %d", got, sum)
	}
	if !sr.last.Final || sr.last.Dials != 2 || sr.last.DialErrors != 0 || sr.last.FullAtMs <= 0 || sr.last.FullAtMs > 1000 {
		t.Errorf("final stats line: %+v; want final, 2 dials, 0 failed, full within the first second", sr.last)
	}
	// The kept log is an hlog the report merger reads to the same totals.
	ls := report.NewLogSet()
	if err := ls.Read("worker.hlog", bytes.NewReader(log)); err != nil {
		t.Fatal(err)
	}
	s, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if s.Overall.Count != sum || s.Overall.Raw.Count != sum {
		t.Fatalf("log summary: %d requests, %d latencies; want %d", s.Overall.Count, s.Overall.Raw.Count, sum)
	}
	if first := ivs[0].Iv.Start; first.Sub(start).Abs() > 2*time.Millisecond {
		t.Errorf("first interval starts %s, storm start %s", first, start)
	}
}

func TestWorkerStopsCleanlyOnSignal(t *testing.T) {
	base, served := countingServer(t)
	prof := writeProfile(t, strings.Replace(tinyProfile, "\nworkload:", "\npopulation: {regions: {default: 1}}\nworkload:", 1))
	sigs := make(chan os.Signal, 1)
	time.AfterFunc(1500*time.Millisecond, func() { sigs <- os.Interrupt })
	began := time.Now()
	_, _, ivs, sr := runWorkerStream(t, sigs, "--segment", "0/1", "--profile", prof, "--target", base)
	if took := time.Since(began); took > 4*time.Second {
		t.Fatalf("worker took %s to stop after the signal at 1.5 s", took)
	}
	if !sr.ended || len(ivs) == 0 || !sr.last.Final {
		t.Fatalf("stream not closed cleanly: ended %v, %d intervals", sr.ended, len(ivs))
	}
	var sum int64
	for _, w := range ivs {
		sum += w.Iv.Count()
	}
	if got := served.Load(); got != sum {
		t.Fatalf("target served %d requests, stream says %d", got, sum)
	}
}

// TestStreamCutMidIntervalKeepsWholeIntervals feeds the reader a stream cut
// in the middle of an interval (a worker killed while writing): the
// complete intervals are kept, the cut one is dropped.
func TestStreamCutMidIntervalKeepsWholeIntervals(t *testing.T) {
	base, _ := countingServer(t)
	prof := writeProfile(t, strings.Replace(tinyProfile, "\nworkload:", "\npopulation: {regions: {default: 1}}\nworkload:", 1))
	_, full, ivs, _ := runWorkerStream(t, nil, "--segment", "0/1", "--profile", prof, "--target", base, "--duration", "2200ms", "--agents", "2")
	if len(ivs) < 2 {
		t.Fatalf("%d intervals", len(ivs))
	}
	// Cut just after the second interval's comment and half its histogram line.
	idx := 0
	for k := 0; k < 2; k++ {
		i := bytes.Index(full[idx:], []byte("#agentstorm-interval "))
		idx += i + 1
	}
	h := bytes.Index(full[idx:], []byte("\nTag="))
	cut := full[:idx+h+20]
	sr := newStreamReader([]string{"open_cart"}, []string{"default"})
	var log bytes.Buffer
	var got []*workerInterval
	if err := sr.read(bytes.NewReader(cut), &log, func(w *workerInterval) { got = append(got, w) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Iv.Count() != ivs[0].Iv.Count() {
		t.Fatalf("cut stream: %d intervals kept, want the first one", len(got))
	}
	ls := report.NewLogSet()
	if err := ls.Read("cut.hlog", &log); err != nil {
		t.Fatal(err)
	}
	s, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if s.Overall.Count != ivs[0].Iv.Count() {
		t.Fatalf("kept log: %d requests, want %d", s.Overall.Count, ivs[0].Iv.Count())
	}
}

func TestWorkerBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--segment", "3/3", "--target", "http://127.0.0.1:1"}, "index must be 0 to 2"},
		{[]string{"--segment", "0/2", "--target", "http://127.0.0.1:1", "--start-at", "tomorrow"}, "RFC 3339"},
		{[]string{"--segment", "0/2", "--region-url", "us-east"}, "REGION=http"},
		{[]string{"--segment", "0/2", "--target", "bundled"}, "give --target URL"},
	} {
		var out, errOut runBuffer
		code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, append([]string{"worker"}, c.args...))
		if code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("worker %v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

// TestRunTooBigForOneMachine: a storm needing more agents than
// maxAutoWorkers processes hold is a usage error, given before any worker
// starts, that names the machine's most and suggests --segment.
func TestRunTooBigForOneMachine(t *testing.T) {
	began := time.Now()
	code, out, errOut := runIt(t, nil, "--agents", "2000000000", "--target", "http://127.0.0.1:1")
	if code != exitUsage {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	capacity, _ := agentCapacity()
	most := commas(machineAgents(capacity))
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

// TestWorkerGCOffUntilConnected: a closed-model worker collects nothing
// while its agents connect (under a memory limit), then at GOGC 25; an
// open-model worker at 25 from the start.
func TestWorkerGCOffUntilConnected(t *testing.T) {
	oldPct := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	})
	current := func() (int, int64) {
		p := debug.SetGCPercent(0)
		debug.SetGCPercent(p)
		return p, debug.SetMemoryLimit(-1)
	}

	watch := setWorkerGC(true, 1000)
	if p, l := current(); p != -1 || l != 64<<20+1000*16<<10 {
		t.Fatalf("while connecting: GOGC %d, limit %d; want off under %d", p, l, 64<<20+1000*16<<10)
	}
	watch(agents.Stats{Connected: 500})
	if p, _ := current(); p != -1 {
		t.Fatalf("half connected: GOGC %d, want still off", p)
	}
	watch(agents.Stats{Connected: 1000, FullAt: 3 * time.Second})
	if p, l := current(); p != workerGCPercent || l != math.MaxInt64 {
		t.Fatalf("all connected: GOGC %d, limit %d; want %d and no limit", p, l, workerGCPercent)
	}

	debug.SetGCPercent(100)
	if watch := setWorkerGC(false, 1000); watch != nil {
		t.Fatal("open model: want nothing to watch")
	}
	if p, _ := current(); p != workerGCPercent {
		t.Fatalf("open model: GOGC %d, want %d", p, workerGCPercent)
	}
}
