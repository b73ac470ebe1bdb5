package gameday

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

func TestPlanAddsUndos(t *testing.T) {
	plan := Plan([]profiles.ChaosAction{
		{At: 10 * time.Second, Action: profiles.ChaosFailInventory, Shard: -1, Duration: 5 * time.Second},
		{At: 2 * time.Second, Action: profiles.ChaosKillShard, Shard: 1, Duration: 3 * time.Second},
		{At: 4 * time.Second, Action: profiles.ChaosFreezeShard, Shard: 0, Duration: time.Second},
	})
	var got []string
	for _, s := range plan {
		got = append(got, s.At.String()+" "+s.Name())
	}
	want := "2s kill_shard shard 1,4s freeze_shard shard 0,5s restore_shard shard 1,10s fail_inventory,15s restore_inventory"
	if strings.Join(got, ",") != want {
		t.Errorf("plan = %s, want %s", strings.Join(got, ","), want)
	}
}

func TestExecActionKeepsExitStatusAndOutput(t *testing.T) {
	start := time.Now()
	ex := &Executor{Target: "http://shop.example", Start: start, Actions: []profiles.ChaosAction{
		{Action: profiles.ChaosExec, Shard: -1, Command: []string{"sh", "-c", `echo "$AGENTSTORM_ACTION|$AGENTSTORM_TARGET|$AGENTSTORM_START"; exit 3`}},
		{Action: profiles.ChaosKillShard, Shard: 0},
	}}
	ex.Run(context.Background())
	evs := ex.Events()
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
	e := evs[0]
	wantOut := `exec sh -c echo "$AGENTSTORM_ACTION|$AGENTSTORM_TARGET|$AGENTSTORM_START"; exit 3|http://shop.example|` + start.UTC().Format(time.RFC3339Nano)
	if e.ExitCode != 3 || strings.TrimSpace(e.Output) != wantOut || !strings.Contains(e.Error, "exit status 3") {
		t.Errorf("exec event = %+v\nwant output %s", e, wantOut)
	}
	if !strings.Contains(evs[1].Error, "needs the bundled target's admin API") {
		t.Errorf("kill without an admin API = %+v", evs[1])
	}
}

func TestCollectorOrdersAndModes(t *testing.T) {
	c := NewCollector(time.Now(), "add_to_cart")
	c.Observe("checkout", 0, "http://a", 202, []byte(`{"order_id":"o0-1","status":"processing"}`), []byte("k1"))
	c.Observe("checkout", 0, "http://a", 202, []byte(`{"order_id":"o0-1","status":"processing"}`), []byte("k1")) // a replay
	c.Observe("checkout", 1, "http://b", 202, []byte(`{"order_id":"o1-7"}`), []byte("k2"))
	c.Observe("checkout", 1, "http://b", 202, []byte(`{"order_id":"o1-8"}`), []byte("k2")) // one key, two orders
	c.Observe("checkout", 1, "http://b", 503, []byte(`{"error":"x"}`), []byte("k3"))
	c.Observe("add_to_cart", 0, "http://a", 200, []byte(`{"mode":"preorder"}`), nil)
	c.Observe("add_to_cart", 0, "http://a", 200, []byte(`{"mode":"in_stock"}`), nil)
	c.Observe("add_to_cart", 0, "http://a", 0, nil, nil)
	if n := len(c.Orders()); n != 3 {
		t.Errorf("orders = %d, want 3", n)
	}
	d := c.DuplicateKeys()
	if len(d) != 1 || strings.Join(d["k2"], ",") != "o1-7,o1-8" {
		t.Errorf("duplicates = %v", d)
	}
	m := c.Modes()
	if len(m) != 1 || m[0] != (ModeCounts{InStock: 1, Preorder: 1, Errors: 1}) {
		t.Errorf("modes = %+v", m)
	}
}

// TestCollectorCopiesReusedBuffers: agents reuse their body and key buffers,
// so what Observe keeps must not change when they are overwritten.
func TestCollectorCopiesReusedBuffers(t *testing.T) {
	c := NewCollector(time.Now(), "add_to_cart")
	body, key := []byte(`{"order_id":"o0-1"}`), []byte("k1")
	c.Observe("checkout", 0, "http://a", 202, body, key)
	copy(body, `{"order_id":"o0-2"}`)
	copy(key, "k9")
	c.Observe("checkout", 0, "http://a", 202, body, []byte("k1"))
	got := map[string]string{}
	for _, o := range c.Orders() {
		got[o.ID] = o.Key
	}
	if len(got) != 2 || got["o0-1"] != "k1" || got["o0-2"] != "k1" {
		t.Errorf("orders = %v, want o0-1 and o0-2, both with key k1", got)
	}
	if d := c.DuplicateKeys(); len(d) != 1 || strings.Join(d["k1"], ",") != "o0-1,o0-2" {
		t.Errorf("duplicates = %v", d)
	}
}

// TestAnalyzeBlastRadiusAndRecovery feeds a real recorder's intervals: region
// b fails from second 3 to 5 while region a keeps answering; b is killed at
// 3 s and restored at 6 s.
func TestAnalyzeBlastRadiusAndRecovery(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tl := recordedTimeline(start, []string{"add_to_cart"}, []string{"a", "b"}, 10, func(rec *report.Recorder, sec int) {
		for i := 0; i < 100; i++ {
			rec.Record(i, 0, 0, time.Millisecond, report.OK, 0)
			if sec >= 3 && sec < 6 {
				rec.Record(i, 0, 1, 0, report.ConnRefused, 0)
			} else {
				rec.Record(i, 0, 1, 2*time.Millisecond, report.OK, 0)
			}
		}
	})
	col := NewCollector(start, "add_to_cart")
	events := []Event{
		{At: 3 * time.Second, Action: profiles.ChaosKillShard, Name: "kill_shard shard 1", Shards: []int{1}, Regions: []string{"b"}},
		{At: 6 * time.Second, Action: profiles.ChaosRestoreShard, Name: "restore_shard shard 1", Shards: []int{1}, Regions: []string{"b"}, Auto: true},
	}
	res := Analyze(events, tl, col, AnalyzeOptions{})
	if len(res.Faults) != 1 {
		t.Fatalf("faults = %+v", res.Faults)
	}
	f := res.Faults[0]
	a, b := f.Regions[0], f.Regions[1]
	if a.Faulted || !a.WithinBudget || a.During.Count != 300 || a.During.ErrorPct != 0 || a.During.P99 < 900*time.Microsecond || a.During.P99 > 1100*time.Microsecond {
		t.Errorf("region a = %+v", a)
	}
	if !b.Faulted || b.During.ErrorPct != 100 || b.Before.Count != 300 || b.Before.ErrorPct != 0 || b.After.ErrorPct != 0 {
		t.Errorf("region b = %+v", b)
	}
	if !f.Restored || f.Recovery != time.Second {
		t.Errorf("restored %v, recovery %s, want 1 s (second 6 is good)", f.Restored, f.Recovery)
	}
	fig := res.Figures()
	if fig["recovery"] != 1000 || fig["regions_outside_budget"] != 0 {
		t.Errorf("figures = %v", fig)
	}
	if v := res.Verdict(); len(v) != 1 || !strings.Contains(v[0], "affected b (100% errors); a stayed within budget; recovered 1s after the restore") {
		t.Errorf("verdict = %q", v)
	}
}

// TestExecActionKillsWhatItLeaves: a command that backgrounds a process
// and exits returns at once, and the background process is killed with
// its group (it neither outlives the action nor holds the output open).
func TestExecActionKillsWhatItLeaves(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ex := &Executor{Start: time.Now(), Actions: []profiles.ChaosAction{
		{Action: profiles.ChaosExec, Shard: -1, Command: []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; echo started"}},
	}}
	start := time.Now()
	ex.Run(context.Background())
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("exec took %s: it waited for the backgrounded sleep", took)
	}
	evs := ex.Events()
	if len(evs) != 1 || strings.TrimSpace(evs[0].Output) != "started" || evs[0].ExitCode != 0 {
		t.Fatalf("events = %+v", evs)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// Gone, or a zombie waiting for an init that may not reap it.
	alive := func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		f := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		return len(f) > 0 && f[0] != "Z"
	}
	for deadline := time.Now().Add(2 * time.Second); alive(); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the backgrounded sleep (pid %d) is still running after the action", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAnalyzeLostSalesPerFault: sessions recorded with the answers give
// each fault its blast radius in abandoned sessions and lost sales, per
// region before, during and after, in the verdict, the lines, the JSON
// and the figures; without sessions none of it appears.
func TestAnalyzeLostSalesPerFault(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tl := recordedTimeline(start, []string{"add_to_cart", "checkout"}, []string{"a", "b"}, 10, func(rec *report.Recorder, sec int) {
		for r := 0; r < 2; r++ {
			rec.Record(sec, 0, r, time.Millisecond, report.OK, 0)
			// Every second: 20 sessions per region; region b's shoppers
			// abandon 15 of them at add_to_cart (before the sale) while
			// its shard is slow (seconds 3-5), 1 otherwise.
			abandoned := 1
			if r == 1 && sec >= 3 && sec < 6 {
				abandoned = 15
			}
			for i := 0; i < 20-abandoned; i++ {
				rec.RecordSale(1, r, 100)
				rec.RecordSession(1, r, report.SessionCompleted, 0, false)
			}
			for i := 0; i < abandoned; i++ {
				rec.RecordSession(0, r, report.SessionAbandoned, report.AbandonSlow, true)
			}
		}
	})
	events := []Event{
		{At: 3 * time.Second, Action: profiles.ChaosAddLatency, Name: "add_latency shard 1", Shards: []int{1}, Regions: []string{"b"}},
		{At: 6 * time.Second, Action: profiles.ChaosClearLatency, Name: "clear_latency shard 1", Shards: []int{1}, Regions: []string{"b"}, Auto: true},
	}
	res := Analyze(events, tl, nil, AnalyzeOptions{})
	f := res.Faults[0]
	if s := f.Sessions; s == nil || s.Ended != 120 || s.Abandoned != 48 || s.LostSales != 48 || s.Sales != 72 || s.AbandonedPct != 40 {
		t.Fatalf("fault sessions %+v, want 120 ended, 48 abandoned and lost (3 s × (15 + 1)), 72 sales", f.Sessions)
	}
	a, b := f.Regions[0], f.Regions[1]
	if b.During.Sessions.LostSales != 45 || b.Before.Sessions.Abandoned != 3 || b.After.Sessions.AbandonedPct != 5 || a.During.Sessions.LostSales != 3 {
		t.Errorf("region b %+v %+v %+v, a %+v", b.Before.Sessions, b.During.Sessions, b.After.Sessions, a.During.Sessions)
	}
	if v := res.Verdict(); len(v) != 1 || !strings.Contains(v[0], "shoppers abandoned 40.0% of sessions during it (5.0% before), ~48 sales lost") {
		t.Errorf("verdict = %q", v)
	}
	lines := strings.Join(res.Lines(), "\n")
	if !strings.Contains(lines, "75.0% of 60, 45 lost") || !strings.Contains(lines, "abandoned, lost sales: before") {
		t.Errorf("lines lack the sessions per region:\n%s", lines)
	}
	if res.Figures()["fault_lost_sales"] != 48 {
		t.Errorf("figures %v", res.Figures())
	}
	js, err := json.Marshal(res)
	if err != nil || !strings.Contains(string(js), `"sessions":{"ended":120,"abandoned":48,"abandoned_pct":40,"sales":72,"lost_sales":48}`) {
		t.Errorf("json %s (%v)", js, err)
	}

	plain := recordedTimeline(start, []string{"x"}, []string{"a"}, 4, func(rec *report.Recorder, _ int) {
		rec.Record(0, 0, 0, time.Millisecond, report.OK, 0)
	})
	res = Analyze([]Event{{At: time.Second, Action: profiles.ChaosKillShard, Name: "kill_shard shard 0", Shards: []int{0}}}, plain, nil, AnalyzeOptions{})
	js, _ = json.Marshal(res)
	if _, ok := res.Figures()["fault_lost_sales"]; ok || strings.Contains(string(js), "sessions") || strings.Contains(strings.Join(res.Lines(), "\n"), "sessions") ||
		strings.Contains(strings.Join(res.Verdict(), ""), "abandoned") {
		t.Errorf("a game day without sessions shows them: %s", js)
	}
}

// TestFaultLostSalesOverlap: two faults whose windows overlap count the
// sales lost in their shared seconds once, not twice.
func TestFaultLostSalesOverlap(t *testing.T) {
	tl := recordedTimeline(time.Unix(1_700_000_000, 0), []string{"add_to_cart"}, []string{"a", "b"}, 10, func(rec *report.Recorder, _ int) {
		for r := 0; r < 2; r++ {
			rec.Record(0, 0, r, time.Millisecond, report.OK, 0)
			// One sale lost in every region, every second.
			rec.RecordSession(0, r, report.SessionAbandoned, report.AbandonSlow, true)
		}
	})
	events := []Event{
		{At: 2 * time.Second, Action: profiles.ChaosAddLatency, Name: "add_latency shard 0", Shards: []int{0}, Regions: []string{"a"}},
		{At: 4 * time.Second, Action: profiles.ChaosAddLatency, Name: "add_latency shard 1", Shards: []int{1}, Regions: []string{"b"}},
		{At: 6 * time.Second, Action: profiles.ChaosClearLatency, Name: "clear_latency shard 0", Shards: []int{0}, Regions: []string{"a"}},
		{At: 8 * time.Second, Action: profiles.ChaosClearLatency, Name: "clear_latency shard 1", Shards: []int{1}, Regions: []string{"b"}},
	}
	res := Analyze(events, tl, nil, AnalyzeOptions{})
	if len(res.Faults) != 2 || res.Faults[0].Sessions.LostSales != 8 || res.Faults[1].Sessions.LostSales != 8 {
		t.Fatalf("faults %d, lost %v; want 2 faults of 4 s × 2 regions = 8 each", len(res.Faults), res.Faults)
	}
	// Seconds 2-8 once: 6 s × 2 regions, where the two faults' sum is 16.
	if got := res.Figures()["fault_lost_sales"]; got != 12 {
		t.Errorf("fault_lost_sales %v, want 12 (the overlap counted once)", got)
	}
}

// recordedTimeline runs a real recorder for secs seconds from start, calling
// each to record a second's answers and sessions, and returns the timeline
// its intervals make.
func recordedTimeline(start time.Time, steps, regions []string, secs int, each func(rec *report.Recorder, sec int)) *Timeline {
	rec := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Start: start})
	tl := NewTimeline(start, rec.Regions())
	for sec := 0; sec < secs; sec++ {
		each(rec, sec)
		iv := rec.Rotate(start.Add(time.Duration(sec+1) * time.Second))
		tl.Add(iv)
		rec.Release(iv)
	}
	return tl
}

// TestNoPatienceFaultSessionsUnmeasured: a profile without patience lets no
// session abandon, so a fault's abandoned share and lost sales, and
// fault_lost_sales, have no data (a budget on them is missed), not 0.
func TestNoPatienceFaultSessionsUnmeasured(t *testing.T) {
	tl := recordedTimeline(time.Unix(1_700_000_000, 0), []string{"checkout"}, []string{"a"}, 10, func(rec *report.Recorder, _ int) {
		rec.Record(0, 0, 0, time.Millisecond, report.OK, 0)
		rec.RecordSale(0, 0, 8500)
		rec.RecordSession(0, 0, report.SessionCompleted, 0, true)
	})
	events := []Event{
		{At: 2 * time.Second, Action: profiles.ChaosAddLatency, Name: "add_latency shard 0", Shards: []int{0}, Regions: []string{"a"}},
		{At: 6 * time.Second, Action: profiles.ChaosClearLatency, Name: "clear_latency shard 0", Shards: []int{0}, Regions: []string{"a"}},
	}
	measured := Analyze(events, tl, nil, AnalyzeOptions{})
	if got, ok := measured.Figures()["fault_lost_sales"]; !ok || got != 0 {
		t.Fatalf("with patience: fault_lost_sales %v (present %v), want a measured 0", got, ok)
	}
	res := Analyze(events, tl, nil, AnalyzeOptions{NoPatience: true})
	if got, ok := res.Figures()["fault_lost_sales"]; ok {
		t.Errorf("no patience: fault_lost_sales %v, want no data", got)
	}
	if f := res.Faults[0]; f.Sessions != nil || f.Regions[0].During.Sessions != nil || sessionVerdict(f) != "" {
		t.Errorf("no patience: fault sessions %+v, during %+v, verdict %q; want none", f.Sessions, f.Regions[0].During.Sessions, sessionVerdict(f))
	}
}
