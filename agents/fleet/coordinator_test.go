package fleet

import (
	"context"
	"fmt"
	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/report"
)

// coordTest runs a storm of n segments in worker processes (this test
// binary re-run as a worker) against a counting loopback server; with
// local, segment 0 runs in this process (Config.Local) as `agentstorm run`
// does. kill, when >= 0, SIGKILLs that worker after killAfter.
func coordTest(t *testing.T, n int, args []string, kill int, killAfter time.Duration, local bool) (*Coordinator, []*report.Interval, int64, *report.Summary, agents.Stats) {
	t.Helper()
	t.Setenv(workerEnv, "1")
	base, served := countingServer(t)
	prof := writeProfile(t, tinyProfile)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(700 * time.Millisecond)
	var mu sync.Mutex
	cmds := make([]*exec.Cmd, n)
	var ivs []*report.Interval
	argsOf := func(i int) []string {
		return append([]string{"--segment", agents.Segment{Index: i, Count: n}.String(),
			"--start-at", start.Format(time.RFC3339Nano), "--profile", prof, "--target", base}, args...)
	}
	cfg := Config{
		Workers: n, Start: start, Planned: 3 * time.Second,
		Steps: []string{"open_cart"}, Regions: []string{"default"}, Dir: t.TempDir(),
		Command: func(i int) *exec.Cmd {
			c := exec.Command(exe, argsOf(i)...)
			mu.Lock()
			cmds[i] = c
			mu.Unlock()
			return c
		},
		OnInterval: func(iv *report.Interval, st agents.Stats) {
			c := *iv
			c.All = nil
			ivs = append(ivs, &c)
		},
	}
	if local {
		cfg.Local = func(ctx context.Context, seg agents.Segment, stdout, stderr io.Writer) int {
			if seg.Index != 0 {
				t.Errorf("local segment %s, want 0", seg)
			}
			return RunWorkerMain(ctx, argsOf(seg.Index), stdout, stderr)
		}
	}
	c := New(cfg)
	if kill >= 0 {
		time.AfterFunc(time.Until(start.Add(killAfter)), func() {
			mu.Lock()
			defer mu.Unlock()
			_ = cmds[kill].Process.Kill()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, st, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, ivs, served.Load(), sum, st
}

// TestCoordinatorMergesWorkers runs 3 segments of a 7-agent storm, in 3
// workers and in this process and 2 workers, and checks the merged live
// intervals, the merged logs and the target's own count agree exactly.
func TestCoordinatorMergesWorkers(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprintf("local=%v", local), func(t *testing.T) { testCoordinatorMerges(t, local) })
	}
}

func testCoordinatorMerges(t *testing.T, local bool) {
	c, ivs, served, sum, st := coordTest(t, 3, []string{"--agents", "7", "--duration", "2500ms", "--ramp", "0s"}, -1, 0, local)
	if len(c.Losses()) != 0 || c.Started() != 3 {
		t.Fatalf("started %d, losses %v", c.Started(), c.Losses())
	}
	var live int64
	for _, iv := range ivs {
		live += iv.Count()
	}
	if len(ivs) < 3 || len(ivs) > 4 {
		t.Errorf("%d merged intervals, want 3 (two seconds and the rest)", len(ivs))
	}
	if ivs[0].ActiveAgents != 7 {
		t.Errorf("first second: %d active agents, want 7", ivs[0].ActiveAgents)
	}
	if served == 0 || live != served || sum.Overall.Count != served || sum.Overall.Raw.Count != served {
		t.Fatalf("target served %d; merged live intervals %d; merged logs %d (%d latencies)", served, live, sum.Overall.Count, sum.Overall.Raw.Count)
	}
	if st.Dials != 7 || st.DialErrors != 0 {
		t.Errorf("stats: %d dials, %d failed; want 7, 0", st.Dials, st.DialErrors)
	}
}

// TestCoordinatorWorkerLoss kills the worker process of one of two
// segments mid-run: the loss is reported, the other segment (run in this
// process) runs to the end, and what the dead one had streamed is kept.
func TestCoordinatorWorkerLoss(t *testing.T) {
	c, ivs, _, sum, _ := coordTest(t, 2, []string{"--agents", "4", "--duration", "3s", "--ramp", "0s"}, 1, 1500*time.Millisecond, true)
	losses := c.Losses()
	if len(losses) != 1 || losses[0].Segment.Index != 1 {
		t.Fatalf("losses %v, want worker 1", losses)
	}
	l := losses[0]
	if l.Intervals < 1 || l.Requests == 0 || l.At < time.Second || l.At > 2500*time.Millisecond {
		t.Errorf("loss %v: want >= 1 interval kept, noticed at about 1.5 s", l)
	}
	if !strings.Contains(l.String(), "segment 1/2") || !strings.Contains(l.String(), "kept") {
		t.Errorf("loss text %q", l.String())
	}
	var live int64
	for _, iv := range ivs {
		live += iv.Count()
	}
	if sum.Overall.Count != live {
		t.Fatalf("merged logs %d requests, live intervals %d", sum.Overall.Count, live)
	}
	if last := ivs[len(ivs)-1]; last.End.Sub(ivs[0].Start) < 2900*time.Millisecond {
		t.Errorf("storm stopped at %s after the loss, want it to go on to 3 s", last.End.Sub(ivs[0].Start))
	}
	// A whole second after the loss and before the end (at 3 s the agents
	// stop): worker 0's 2 agents.
	start := ivs[0].Start
	seen := false
	for _, iv := range ivs {
		if at := iv.End.Sub(start); at > l.At+100*time.Millisecond && at < 2900*time.Millisecond && iv.Duration() > time.Second/2 {
			seen = true
			if iv.ActiveAgents != 2 {
				t.Errorf("second ending at %s, after the loss: %d active agents, want 2 (worker 0's)", at, iv.ActiveAgents)
			}
		}
	}
	if !seen {
		t.Error("no whole second after the loss")
	}
}

// TestMergerLateWorker checks the merge of a lagging worker: seconds are
// emitted in order once LateAfter has passed without it, its late data
// joins the next second (totals stay exact), and the emitted seconds'
// times never go backwards.
func TestMergerLateWorker(t *testing.T) {
	start := time.Now().Add(-10 * time.Second) // every second is already late
	mk := func(k int, n int64) *report.Interval {
		iv := &report.Interval{Start: start.Add(time.Duration(k-1) * time.Second), End: start.Add(time.Duration(k)*time.Second + 3*time.Millisecond),
			Steps: []string{"s"}, Regions: []string{"r"}, Cells: make([]report.CellInterval, 1)}
		iv.Cells[0].Counts[report.OK] = n
		iv.Counts[report.OK] = n
		return iv
	}
	var got []*report.Interval
	var ends []time.Duration
	m := newMerger(Config{Start: start, LateAfter: time.Second, OnInterval: func(iv *report.Interval, st agents.Stats) {
		c := *iv
		got = append(got, &c)
		ends = append(ends, st.Elapsed)
	}}, report.NewPackedPool(4))
	ws := []*workerState{{lastK: -1}, {lastK: -1}}
	// Worker 0 delivers seconds 1 and 2; worker 1 nothing yet.
	for k := 1; k <= 2; k++ {
		m.add(k, mk(k, 10))
		ws[0].lastK = k
	}
	m.flush(ws, false)
	if len(got) != 2 {
		t.Fatalf("%d seconds emitted without the late worker, want 2", len(got))
	}
	// Worker 1's second 1 arrives late: it joins second 3.
	m.add(1, mk(1, 7))
	ws[1].lastK = 1
	m.flush(ws, false)
	m.add(4, mk(4, 10))
	ws[0].lastK = 4
	m.flush(ws, true)
	var total int64
	for i, iv := range got {
		total += iv.Count()
		if i > 0 && ends[i] < ends[i-1] {
			t.Errorf("second %d ends at %s, before the previous (%s)", i+1, ends[i], ends[i-1])
		}
	}
	if total != 37 || len(got) != 4 || got[2].Count() != 7 {
		t.Fatalf("emitted %d seconds, %d requests (third %d); want 4 seconds, 37 requests, the third 7 (the late data)", len(got), total, got[min(2, len(got)-1)].Count())
	}
}

// TestMergerRecyclesHistograms: the merger gives every histogram it merged
// back to the pool, and those of an emitted second once its observers have
// seen them whole; the figures are those of all the workers' histograms.
func TestMergerRecyclesHistograms(t *testing.T) {
	pool := report.NewPackedPool(16)
	start := time.Now().Add(-10 * time.Second)
	var p99 int64 = -1
	m := newMerger(Config{Start: start, LateAfter: time.Second, OnInterval: func(iv *report.Interval, st agents.Stats) {
		p99 = iv.Cells[0].Latency.ValueAtPercentile(99)
	}}, pool)
	given := map[*hdr.PackedHistogram]bool{}
	mk := func(v int64) *report.Interval {
		iv := &report.Interval{Start: start, End: start.Add(time.Second), Steps: []string{"s"}, Regions: []string{"r"},
			Cells: make([]report.CellInterval, 1)}
		h := pool.Get()
		for i := 0; i < 100; i++ {
			_ = h.RecordValue(v)
		}
		iv.Cells[0].Latency = h
		given[h] = true
		return iv
	}
	a, b := mk(1000), mk(50000) // two workers' second 1: 100 values of 1 ms, 100 of 50 ms
	m.add(1, a)
	m.add(1, b)
	m.flush([]*workerState{{lastK: 1}, {lastK: 1}}, false)
	if p99 < 49900 || p99 > 50100 {
		t.Fatalf("merged p99 %d µs, want ~50,000 (the second worker's values)", p99)
	}
	back := 0
	for i := 0; i < 3; i++ {
		h := pool.Get()
		if h.TotalCount() != 0 {
			t.Fatalf("a pooled histogram holds %d values", h.TotalCount())
		}
		if given[h] {
			back++
		}
	}
	if back != 2 {
		t.Fatalf("%d of the 2 workers' histograms came back to the pool, want both", back)
	}
}
