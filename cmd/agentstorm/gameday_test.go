package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/target"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// gameDayJSON is the part of the JSON summary the game-day tests read.
type gameDayJSON struct {
	Figures map[string]float64 `json:"figures"`
	Events  []struct {
		AtSeconds float64 `json:"at_seconds"`
		Name      string  `json:"name"`
		Error     string  `json:"error"`
	} `json:"events"`
	Sections struct {
		GameDay struct {
			Faults []struct {
				Name     string  `json:"name"`
				Restored bool    `json:"restored"`
				Recovery float64 `json:"recovery_ms"`
				Regions  []struct {
					Region       string `json:"region"`
					Faulted      bool   `json:"faulted"`
					WithinBudget bool   `json:"within_budget"`
					Before       struct {
						Count    int64   `json:"count"`
						ErrorPct float64 `json:"error_pct"`
					} `json:"before"`
					During struct {
						Count    int64   `json:"count"`
						ErrorPct float64 `json:"error_pct"`
						Sessions *struct {
							Ended        int64   `json:"ended"`
							AbandonedPct float64 `json:"abandoned_pct"`
							LostSales    int64   `json:"lost_sales"`
						} `json:"sessions"`
					} `json:"during"`
				} `json:"regions"`
			} `json:"faults"`
			Degradation *struct {
				Seconds  int   `json:"seconds"`
				Preorder int64 `json:"preorder"`
				InStock  int64 `json:"in_stock"`
			} `json:"degradation"`
			Orders *struct {
				Accepted, Created, Processing, Rejected, Lost, Duplicated, Unreachable int
			} `json:"orders"`
		} `json:"gameday"`
	} `json:"sections"`
}

// shortGameDay writes the built-in gameday profile, shortened by
// replacements of its text, to a temporary file.
func shortGameDay(t *testing.T, repl ...string) string {
	t.Helper()
	src, err := profiles.BuiltinSource("gameday")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(s, repl[i]) {
			t.Fatalf("the gameday profile lacks %q", repl[i])
		}
		s = strings.ReplaceAll(s, repl[i], repl[i+1])
	}
	p := filepath.Join(t.TempDir(), "gameday-short.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGameDayShort runs the built-in game day shortened (16 agents, 14 s;
// shard 1 killed with SIGKILL for 3 s, inventory failed for 3 s) and checks
// every audit: the schedule ran, the blast radius hit only the killed
// shard's region, add-to-cart stayed a sale in pre-order mode, every order
// answered 202 was found and none twice, recovery was measured, exit 0.
// Its agents give up on an error (the built-in's patience has on_error)
// and checkout is the sale step: the kill's blast radius in lost sales is the killed region's.
func TestGameDayShort(t *testing.T) {
	if testing.Short() {
		t.Skip("a 14 s storm")
	}
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	prof := shortGameDay(t,
		"0->300 in 5s, hold 100s, ->0 in 5s", "0->16 in 1s, hold 13s",
		"think: exp(500ms)", "think: exp(100ms)",
		"{at: 30s, action: kill_shard, shard: 1, duration: 15s}", "{at: 2s, action: kill_shard, shard: 1, duration: 3s}",
		"{at: 65s, action: fail_inventory, duration: 15s}", "{at: 9s, action: fail_inventory, duration: 3s}",
		// Errors, not slowness, on a loaded test machine: the built-in's
		// 100 ms patience becomes 2 s.
		"patience: {wait: 100ms, on_error: true}", "patience: {wait: 2s, on_error: true}")
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	code, out, errOut := runIt(t, nil, "--profile", prof, "--out", "json="+jsonPath)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"Chaos    2.0s  kill_shard shard 1  ok", "restore_inventory (auto)  ok",
		"Game day\n========\nVerdict:", "none lost, none duplicated", "lost_orders == 0", "All 6 budgets met."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	j := readJSONFile[gameDayJSON](t, jsonPath)
	wantEvents := []string{"kill_shard shard 1", "restore_shard shard 1", "fail_inventory", "restore_inventory"}
	if len(j.Events) != len(wantEvents) {
		t.Fatalf("events = %+v, want %v", j.Events, wantEvents)
	}
	for i, e := range j.Events {
		if e.Name != wantEvents[i] || e.Error != "" {
			t.Errorf("event %d = %+v, want %s without error", i, e, wantEvents[i])
		}
	}
	if at := j.Events[0].AtSeconds; at < 1.9 || at > 2.5 {
		t.Errorf("kill at %.2fs, want 2s", at)
	}
	gd := j.Sections.GameDay
	o := gd.Orders
	if o == nil || o.Accepted < 10 {
		t.Fatalf("orders audit = %+v, want at least 10 accepted", o)
	}
	if o.Lost != 0 || o.Duplicated != 0 || o.Unreachable != 0 || o.Created+o.Processing+o.Rejected != o.Accepted {
		t.Errorf("orders audit = %+v: want none lost, duplicated or unreachable, every one accounted for", *o)
	}
	if j.Figures["lost_orders"] != 0 || j.Figures["duplicate_orders"] != 0 || j.Figures["accepted_orders"] != float64(o.Accepted) {
		t.Errorf("figures = %v", j.Figures)
	}
	if len(gd.Faults) != 2 {
		t.Fatalf("faults = %+v, want the kill and the inventory failure", gd.Faults)
	}
	kill := gd.Faults[0]
	if !kill.Restored || kill.Recovery < 0 || kill.Recovery >= 10000 {
		t.Errorf("kill fault = %+v: want restored and recovered within 10 s", kill)
	}
	for _, r := range kill.Regions {
		switch {
		case r.Region == "us-west":
			if !r.Faulted || r.During.ErrorPct < 50 {
				t.Errorf("killed shard's region %+v: want faulted, most requests failing", r)
			}
			if s := r.During.Sessions; s == nil || s.AbandonedPct < 50 || s.LostSales == 0 {
				t.Errorf("killed shard's region sessions %+v: want most abandoned (errors), sales lost", s)
			}
		default:
			if r.Faulted || !r.WithinBudget || r.During.Count == 0 || r.During.ErrorPct > 1 {
				t.Errorf("region %+v: want untouched by the kill", r)
			}
			if s := r.During.Sessions; s == nil || s.Ended == 0 || s.AbandonedPct > 5 {
				t.Errorf("region %s sessions %+v: want sessions, few abandoned", r.Region, s)
			}
		}
	}
	if j.Figures["fault_lost_sales"] == 0 || !strings.Contains(out, "shoppers abandoned") {
		t.Errorf("no sales lost to the kill: figures %v", j.Figures)
	}
	d := gd.Degradation
	if d == nil || d.Seconds < 2 || d.Preorder == 0 || d.InStock != 0 {
		t.Errorf("degradation = %+v: want pre-order answers only while inventory was failed", d)
	}
	if s := j.Figures["preorder_share"]; s < 99 {
		t.Errorf("preorder_share = %v, want >= 99", s)
	}
	if v, ok := j.Figures["regions_outside_budget"]; !ok || v != 0 {
		t.Errorf("regions_outside_budget = %v (%v), want 0", v, ok)
	}
	if r, ok := j.Figures["recovery"]; !ok || r >= 10000 {
		t.Errorf("recovery = %v (%v), want < 10 s", r, ok)
	}
}

// TestGameDayCatchesLostOrders breaks durability on purpose: the shards
// answer checkouts 202 a second before writing them, and the schedule
// kills one with SIGKILL mid-burst. The order audit must find the lost
// orders, the lost_orders budget must fail and the run exit 99.
func TestGameDayCatchesLostOrders(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	t.Setenv(target.UnsafeAckEnv, "1") // inherited by the shard processes
	dir := t.TempDir()
	prof := filepath.Join(dir, "broken.yaml")
	src := `name: broken-durability
target: bundled
workload: {model: closed, stages: "0->12 in 1s, hold 4s", think: 30ms}
population:
  regions: {us-east: 1, us-west: 1}
  customers: 1000
  addresses: {count: 100, zones: ["10001", DE]}
  skus: 100
flows:
  - name: buyer
    steps:
      - {name: open_cart, method: POST, path: /v1/carts, body: {customer_id: "{{customer.id}}", region: "{{agent.region}}"}, capture: {cart_id: $.cart_id}, expect: {status: 201}}
      - {name: add_to_cart, method: POST, path: "/v1/carts/{{cart_id}}/items", body: {sku: "{{sku}}", qty: 1}, expect: {status: 200}}
      - {name: checkout, method: POST, path: "/v1/carts/{{cart_id}}/checkout", idempotency_key: "{{uuid}}", body: {destination: "{{address.zone}}", carrier: ups, speed: standard}, expect: {status: 202}}
chaos:
  - {at: 3s, action: kill_shard, shard: 0, duration: 1s}
budgets: ["lost_orders == 0", "duplicate_orders == 0"]
`
	if err := os.WriteFile(prof, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "out.json")
	code, out, errOut := runIt(t, nil, "--profile", prof, "--out", "json="+jsonPath)
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want 99\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "budget missed: lost_orders == 0") || !strings.Contains(out, "ORDER INTEGRITY BROKEN") {
		t.Errorf("the failure is not named:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	j := readJSONFile[gameDayJSON](t, jsonPath)
	o := j.Sections.GameDay.Orders
	if o == nil || o.Lost == 0 || j.Figures["lost_orders"] != float64(o.Lost) {
		t.Fatalf("orders audit = %+v, figures %v: want lost orders found", o, j.Figures)
	}
	if o.Lost >= o.Accepted {
		t.Errorf("orders audit = %+v: only the orders in flight at the kill may be lost", *o)
	}
}

func TestGameDayRefusesWorkers(t *testing.T) {
	code, _, errOut := runIt(t, nil, "--profile", "gameday", "--workers", "2")
	if code != exitUsage || !strings.Contains(errOut, "runs in one process") {
		t.Fatalf("exit %d, stderr %s: want 2 and a clear message", code, errOut)
	}
}

// TestGameDayExecutorAgainstBundledTarget runs a schedule against the
// bundled target's real admin API (shards are this test binary): a region's
// shard killed and auto-restored, latency added to a path of a shard, order
// workers paused; the target's state and events must show each.
func TestGameDayExecutorAgainstBundledTarget(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	t.Setenv("TMPDIR", t.TempDir()) // the target's data directory goes away with the test
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sup, err := supervisor.Start(ctx, supervisor.Config{Shards: 2, Regions: []string{"us-east", "eu-west"}, Listen: "127.0.0.1:0", Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	admin := &gameday.Admin{URL: sup.AdminURL(), Token: sup.Token()}
	topo, err := admin.Topology(ctx)
	if err != nil || len(topo.Shards) != 2 {
		t.Fatalf("topology %+v, %v", topo, err)
	}
	ex := &gameday.Executor{Admin: admin, Topology: topo, Start: time.Now(), Actions: []profiles.ChaosAction{
		{At: 0, Action: profiles.ChaosKillShard, Region: "eu-west", Shard: -1, Duration: 300 * time.Millisecond},
		{At: 50 * time.Millisecond, Action: profiles.ChaosAddLatency, Shard: 0, Fixed: 150 * time.Millisecond, Path: "/v1/carts"},
		{At: 100 * time.Millisecond, Action: profiles.ChaosPauseOrders, Shard: -1},
	}}
	var states []string
	ex.OnEvent = func(e gameday.Event) {
		st := sup.State()
		states = append(states, e.Name+": "+st.Shards[1].State)
	}
	ex.Run(ctx)
	evs := ex.Events()
	if len(evs) != 4 {
		t.Fatalf("events = %+v", evs)
	}
	for _, e := range evs {
		if e.Error != "" {
			t.Errorf("event %s failed: %s", e.Name, e.Error)
		}
	}
	if evs[0].Name != "kill_shard region eu-west" || len(evs[0].Shards) != 1 || evs[0].Shards[0] != 1 {
		t.Errorf("kill event = %+v, want shard 1 (eu-west)", evs[0])
	}
	if !evs[3].Auto || evs[3].Action != profiles.ChaosRestoreShard || evs[3].At < 300*time.Millisecond {
		t.Errorf("last event = %+v, want the auto restore after 300 ms", evs[3])
	}
	if want := "kill_shard region eu-west: killed"; states[0] != want {
		t.Errorf("after the kill: %q, want %q", states[0], want)
	}
	st := sup.State()
	if st.Shards[1].State != supervisor.StateUp || st.Shards[1].Restarts != 1 {
		t.Errorf("shard 1 after the restore: %+v", st.Shards[1])
	}
	if !st.OrdersPaused || len(st.Latency) != 1 || st.Latency[0].Path != "/v1/carts" || st.Latency[0].Fixed != 150*time.Millisecond ||
		st.Latency[0].Shard == nil || *st.Latency[0].Shard != 0 {
		t.Errorf("state = %+v, want orders paused and one latency rule on shard 0 /v1/carts", st)
	}
}

// TestGameDayExecOnYourOwnSystem runs an exec action against a target that
// is not the bundled one: the command gets the storm's start, the action
// and the target in its environment, and its exit status and output are
// kept in the JSON, on the timeline, and in the text.
func TestGameDayExecOnYourOwnSystem(t *testing.T) {
	url := okServer(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	prof := writeProfile(t, `name: exec-day
workload: {model: closed, stages: "0->2 in 1s, hold 2s", think: 50ms}
flows:
  - name: f
    steps:
      - {name: open_cart, method: POST, path: /v1/carts, body: {a: 1}, expect: {status: 201}}
chaos:
  - {at: 1s, action: exec, command: [sh, -c, 'echo "$AGENTSTORM_ACTION $AGENTSTORM_TARGET" > `+marker+`; echo broke it; exit 4']}
`)
	jsonPath := filepath.Join(dir, "out.json")
	code, out, errOut := runIt(t, nil, "--profile", prof, "--target", url, "--out", "json="+jsonPath)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	got, err := os.ReadFile(marker)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "exec sh -c ") || !strings.HasSuffix(strings.TrimSpace(string(got)), " "+url) {
		t.Errorf("the command saw %q", got)
	}
	if !strings.Contains(out, "exit 4; output: broke it") {
		t.Errorf("text lacks the exit status and output:\n%s", out)
	}
	var j struct {
		Events   []struct{ Name, Error string } `json:"events"`
		Sections struct {
			GameDay struct {
				Events []struct {
					ExitCode int     `json:"exit_code"`
					Output   string  `json:"output"`
					AtMs     float64 `json:"at_ms"`
				} `json:"events"`
				Orders *struct{} `json:"orders"`
			} `json:"gameday"`
		} `json:"sections"`
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	evs := j.Sections.GameDay.Events
	if len(j.Events) != 1 || !strings.Contains(j.Events[0].Error, "exit status 4") || len(evs) != 1 ||
		evs[0].ExitCode != 4 || evs[0].Output != "broke it\n" || evs[0].AtMs < 900 || evs[0].AtMs > 1500 {
		t.Errorf("events = %+v, game day events = %+v", j.Events, evs)
	}
	if j.Sections.GameDay.Orders != nil {
		t.Error("orders audited against a target that is not the bundled one")
	}
}
