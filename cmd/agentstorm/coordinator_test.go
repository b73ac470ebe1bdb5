package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/report"
)

// coordTest runs a storm of n worker processes (this test binary re-run as
// the CLI) against a counting loopback server. kill, when >= 0, SIGKILLs
// that worker after killAfter.
func coordTest(t *testing.T, n int, args []string, kill int, killAfter time.Duration) (*coordResult, []*report.Interval, int64, *report.Summary) {
	t.Helper()
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	base, served := countingServer(t)
	prof := writeProfile(t, strings.Replace(tinyProfile, "\nworkload:", "\npopulation: {regions: {default: 1}}\nworkload:", 1))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(700 * time.Millisecond)
	var mu sync.Mutex
	cmds := make([]*exec.Cmd, n)
	var ivs []*report.Interval
	cfg := coordConfig{
		Workers: n, Start: start, Planned: 3 * time.Second,
		Steps: []string{"open_cart"}, Regions: []string{"default"}, Dir: t.TempDir(),
		Command: func(i int) *exec.Cmd {
			a := append([]string{"worker", "--segment", agents.Segment{Index: i, Count: n}.String(),
				"--start-at", start.Format(time.RFC3339Nano), "--profile", prof, "--target", base}, args...)
			c := exec.Command(exe, a...)
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
	if kill >= 0 {
		time.AfterFunc(time.Until(start.Add(killAfter)), func() {
			mu.Lock()
			defer mu.Unlock()
			_ = cmds[kill].Process.Kill()
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := runCoordinator(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := readLogs(res.Logs)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	return res, ivs, served.Load(), sum
}

// TestCoordinatorMergesWorkers runs 3 workers of a 7-agent storm and checks
// the merged live intervals, the merged logs and the target's own count
// agree exactly.
func TestCoordinatorMergesWorkers(t *testing.T) {
	res, ivs, served, sum := coordTest(t, 3, []string{"--agents", "7", "--duration", "2500ms", "--ramp", "0s"}, -1, 0)
	if len(res.Losses) != 0 || res.Started != 3 {
		t.Fatalf("started %d, losses %v", res.Started, res.Losses)
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
	if res.Stats.Dials != 7 || res.Stats.DialErrors != 0 {
		t.Errorf("stats: %d dials, %d failed; want 7, 0", res.Stats.Dials, res.Stats.DialErrors)
	}
}

// TestCoordinatorWorkerLoss kills one of two workers mid-run: the loss is
// reported, the other worker runs to the end, and what the dead one had
// streamed is kept.
func TestCoordinatorWorkerLoss(t *testing.T) {
	res, ivs, _, sum := coordTest(t, 2, []string{"--agents", "4", "--duration", "3s", "--ramp", "0s"}, 1, 1500*time.Millisecond)
	if len(res.Losses) != 1 || res.Losses[0].Segment.Index != 1 {
		t.Fatalf("losses %v, want worker 1", res.Losses)
	}
	l := res.Losses[0]
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
	if ivs[len(ivs)-2].ActiveAgents != 2 {
		t.Errorf("after the loss: %d active agents, want 2 (worker 0's)", ivs[len(ivs)-2].ActiveAgents)
	}
}
