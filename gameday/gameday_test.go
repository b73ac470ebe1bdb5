package gameday

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
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
