package fleet

import (
	"bytes"
	"context"
	"io"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/hlog"
)

// streamed is one interval of a worker's stream, as the coordinator reads it.
type streamed struct {
	Iv    *report.Interval
	Stats Stats
}

// stream is what runWorkerStream read of a worker's stdout.
type stream struct {
	log   []byte     // the lines kept (whole intervals)
	ivs   []streamed // the intervals decoded
	last  Stats      // the last stats line
	ended bool       // the end line was read
}

// readWorkerStream reads a worker's stream as the coordinator does.
func readWorkerStream(r io.Reader) (*stream, error) {
	c := &Coordinator{cfg: Config{Steps: []string{"open_cart"}, Regions: []string{"default"}}}
	var log bytes.Buffer
	s := &stream{}
	var err error
	s.last, s.ended, err = c.readStream(r, &log, func(iv *report.Interval, st Stats) { s.ivs = append(s.ivs, streamed{iv, st}) })
	s.log = log.Bytes()
	return s, err
}

// runWorkerStream runs RunWorkerMain in-process with the worker's command
// line args until it ends or ctx does, reading its stdout as the
// coordinator does.
func runWorkerStream(t *testing.T, ctx context.Context, args ...string) *stream {
	t.Helper()
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	var s *stream
	var rerr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s, rerr = readWorkerStream(pr)
		_, _ = io.Copy(io.Discard, pr)
	}()
	code := RunWorkerMain(ctx, args, pw, &errOut)
	pw.Close()
	wg.Wait()
	if rerr != nil {
		t.Fatalf("read stream: %v\nstderr: %s", rerr, errOut.String())
	}
	if code != exitOK {
		t.Fatalf("worker exit %d\nstderr: %s", code, errOut.String())
	}
	return s
}

func TestWorkerStreamsIntervals(t *testing.T) {
	base, served := countingServer(t)
	prof := writeProfile(t, tinyProfile)
	start := time.Now().Add(200 * time.Millisecond).UTC()
	ramp := time.Duration(0)
	w := Worker{Segment: agents.Segment{Index: 1, Count: 3}, Start: start, Profile: prof, Seed: 1, Target: base,
		Overrides: profileOverrides(7, 2500*time.Millisecond, &ramp)}
	s := runWorkerStream(t, context.Background(), w.Args()...)
	ivs := s.ivs
	if len(ivs) < 3 || len(ivs) > 4 {
		t.Fatalf("%d intervals streamed, want 3 (2 full seconds and the rest)", len(ivs))
	}
	if !s.ended {
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
	if !s.last.Final || s.last.Dials != 2 || s.last.DialErrors != 0 || s.last.FullAtMs <= 0 || s.last.FullAtMs > 1000 {
		t.Errorf("final stats line: %+v; want final, 2 dials, 0 failed, full within the first second", s.last)
	}
	// The kept log is an hlog the report merger reads to the same totals.
	ls := hlog.NewSet()
	if err := ls.Read("worker.hlog", bytes.NewReader(s.log)); err != nil {
		t.Fatal(err)
	}
	sm, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if sm.Overall.Count != sum || sm.Overall.Raw.Count != sum {
		t.Fatalf("log summary: %d requests, %d latencies; want %d", sm.Overall.Count, sm.Overall.Raw.Count, sum)
	}
	if first := ivs[0].Iv.Start; first.Sub(start).Abs() > 2*time.Millisecond {
		t.Errorf("first interval starts %s, storm start %s", first, start)
	}
}

// profileOverrides returns overrides of the agents, the duration and the ramp.
func profileOverrides(agents int, d time.Duration, ramp *time.Duration) (o profiles.Overrides) {
	o.Agents, o.Duration, o.Ramp = agents, d, ramp
	return o
}

func TestWorkerStopsCleanlyOnSignal(t *testing.T) {
	base, served := countingServer(t)
	prof := writeProfile(t, tinyProfile)
	// The worker's context ends as its process's SIGINT ends it.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	began := time.Now()
	s := runWorkerStream(t, ctx, "--segment", "0/1", "--profile", prof, "--target", base)
	if took := time.Since(began); took > 4*time.Second {
		t.Fatalf("worker took %s to stop after the signal at 1.5 s", took)
	}
	if !s.ended || len(s.ivs) == 0 || !s.last.Final {
		t.Fatalf("stream not closed cleanly: ended %v, %d intervals", s.ended, len(s.ivs))
	}
	var sum int64
	for _, w := range s.ivs {
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
	prof := writeProfile(t, tinyProfile)
	s := runWorkerStream(t, context.Background(), "--segment", "0/1", "--profile", prof, "--target", base, "--duration", "2200ms", "--agents", "2")
	full, ivs := s.log, s.ivs
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
	got, err := readWorkerStream(bytes.NewReader(cut))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ivs) != 1 || got.ivs[0].Iv.Count() != ivs[0].Iv.Count() {
		t.Fatalf("cut stream: %d intervals kept, want the first one", len(got.ivs))
	}
	ls := hlog.NewSet()
	if err := ls.Read("cut.hlog", bytes.NewReader(got.log)); err != nil {
		t.Fatal(err)
	}
	sm, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if sm.Overall.Count != ivs[0].Iv.Count() {
		t.Fatalf("kept log: %d requests, want %d", sm.Overall.Count, ivs[0].Iv.Count())
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
		var out, errOut bytes.Buffer
		code := RunWorkerMain(context.Background(), c.args, &out, &errOut)
		if code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("worker %v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
}

// TestWorkerArgsRoundTrip: what the coordinator asks of a worker is what
// the worker parses.
func TestWorkerArgsRoundTrip(t *testing.T) {
	ramp, think := time.Duration(0), 250*time.Millisecond
	w := Worker{Segment: agents.Segment{Index: 2, Count: 5}, Start: time.Date(2026, 11, 26, 18, 0, 0, 5, time.UTC),
		Profile: "p.yaml", Seed: 9, Timeout: 2 * time.Second, Insecure: true, SourceAddrs: []string{"10.0.0.1", "10.0.0.2"},
		Target: "http://127.0.0.1:1", RegionURLs: map[string][]string{"eu": {"http://e1", "http://e2"}, "us": {"http://u"}}}
	w.Overrides.Agents, w.Overrides.Duration, w.Overrides.Ramp, w.Overrides.Think = 30, time.Minute, &ramp, &think
	got, err := parseWorker(w.Args())
	if err != nil {
		t.Fatal(err)
	}
	if got.Segment != w.Segment || !got.Start.Equal(w.Start) || got.Profile != w.Profile || got.Seed != w.Seed ||
		got.Timeout != w.Timeout || !got.Insecure || strings.Join(got.SourceAddrs, ",") != "10.0.0.1,10.0.0.2" ||
		got.Target != w.Target || len(got.RegionURLs["eu"]) != 2 || got.RegionURLs["us"][0] != "http://u" ||
		got.Overrides.Agents != 30 || got.Overrides.Duration != time.Minute || got.Overrides.Ramp == nil || *got.Overrides.Ramp != 0 ||
		got.Overrides.Think == nil || *got.Overrides.Think != think {
		t.Errorf("parsed %+v\nfrom %v", got, w.Args())
	}
	if got, _ := parseWorker([]string{"--segment", "0/1"}); got.Overrides.Ramp != nil || got.Overrides.Think != nil {
		t.Errorf("ramp and think not given, yet parsed as set: %+v", got.Overrides)
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

	watch := setWorkerGC(true, 1000, time.Now().Add(time.Hour))
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

	// A few agents still redialling: the ramp is over once its time is.
	debug.SetGCPercent(-1)
	watch = setWorkerGC(true, 1000, time.Now().Add(-time.Millisecond))
	watch(agents.Stats{Connected: 990})
	if p, _ := current(); p != workerGCPercent {
		t.Fatalf("ramp's time over, 990 of 1000 connected: GOGC %d, want %d", p, workerGCPercent)
	}

	debug.SetGCPercent(100)
	if watch := setWorkerGC(false, 1000, time.Time{}); watch != nil {
		t.Fatal("open model: want nothing to watch")
	}
	if p, _ := current(); p != workerGCPercent {
		t.Fatalf("open model: GOGC %d, want %d", p, workerGCPercent)
	}
}
