package profiles

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const chaosBase = `name: c
target: http://127.0.0.1:9
workload: {model: closed, stages: "0->2 in 5s, hold 20s"}
population: {regions: {us-east: 1, eu-west: 1}}
flows:
  - name: f
    steps:
      - {name: s, method: GET, path: /healthz}
`

func TestChaosValid(t *testing.T) {
	src := chaosBase + `chaos:
  - {at: 2s, action: kill_shard, shard: 1, duration: 3s}
  - {at: stage 2, action: fail_inventory, duration: 4s}
  - {at: 8s, action: add_latency, region: eu-west, path: /v1/carts, fixed: 150ms, jitter: 20ms}
  - {at: 9s, action: freeze_shard, shard: 0, duration: 1s}
  - {at: 10s, action: exec, command: [sh, -c, "echo hi"]}
`
	p, err := Load("c.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	a := p.ChaosActions
	if len(a) != 5 {
		t.Fatalf("actions = %+v", a)
	}
	if a[0].Action != ChaosKillShard || a[0].Shard != 1 || a[0].At != 2*time.Second || a[0].Duration != 3*time.Second || a[0].Line != 10 {
		t.Errorf("kill = %+v", a[0])
	}
	if a[1].Stage != 2 || a[1].At != 5*time.Second {
		t.Errorf("at: stage 2 = %+v, want 5s (after the first stage)", a[1])
	}
	if a[2].Region != "eu-west" || a[2].Shard != -1 || a[2].Fixed != 150*time.Millisecond || a[2].Jitter != 20*time.Millisecond || a[2].Path != "/v1/carts" {
		t.Errorf("latency = %+v", a[2])
	}
	if strings.Join(a[4].Command, " ") != "sh -c echo hi" || a[4].Name() != "exec sh -c echo hi" {
		t.Errorf("exec = %+v", a[4])
	}
	if UndoOf(ChaosKillShard) != ChaosRestoreShard || UndoOf(ChaosExec) != "" {
		t.Error("UndoOf")
	}
}

func TestChaosErrorsHavePositions(t *testing.T) {
	src := chaosBase + `chaos:
  - {at: 2s, action: kill_shrd, shard: 1}
  - {at: 2s, action: kill_shard}
  - {at: stage 3, action: fail_inventory}
  - {at: 2s, action: fail_inventory, shard: 1}
  - {at: 2s, action: exec}
  - {at: 2s, action: add_latency, region: mars, fixed: 1ms}
  - {at: 99s, action: pause_orders}
  - {at: 2s, action: resume_orders, duration: 1s}
  - {action: clear_latency}
`
	_, err := Load("c.yaml", []byte(src), "")
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("err = %v, want LoadErrors", err)
	}
	got := les.Error()
	for _, want := range []string{
		`c.yaml:10:22: chaos[0]: unknown action "kill_shrd" (did you mean "kill_shard"?)`,
		"c.yaml:11:5: chaos[1]: kill_shard needs shard: or region:",
		`c.yaml:12:10: chaos[2]: at: "stage 3" is not a stage of the workload`,
		"c.yaml:13:45: chaos[3]: fail_inventory takes no shard: or region:",
		"c.yaml:14:5: chaos[4]: exec needs command:",
		`c.yaml:15:43: chaos[5]: region "mars" is not in the population`,
		"c.yaml:16:10: chaos[6]: at: 1m39s is after the end of the storm",
		"c.yaml:17:47: chaos[7]: resume_orders takes no duration:",
		"c.yaml:18:5: chaos[8]: missing at:",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
}

func TestGameDayBuiltinHasChaos(t *testing.T) {
	p, err := Builtin("gameday")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ChaosActions) != 2 || p.ChaosActions[0].Action != ChaosKillShard || p.ChaosActions[1].Action != ChaosFailInventory {
		t.Errorf("gameday chaos = %+v", p.ChaosActions)
	}
	if d := p.Workload.Duration(); d < 90*time.Second || d > 150*time.Second {
		t.Errorf("gameday lasts %s, want about two minutes", d)
	}
}
