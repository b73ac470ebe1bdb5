package profiles

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Chaos action names (ChaosAction.Action).
const (
	ChaosKillShard        = "kill_shard"
	ChaosRestoreShard     = "restore_shard"
	ChaosFreezeShard      = "freeze_shard"
	ChaosFailInventory    = "fail_inventory"
	ChaosRestoreInventory = "restore_inventory"
	ChaosAddLatency       = "add_latency"
	ChaosClearLatency     = "clear_latency"
	ChaosPauseOrders      = "pause_orders"
	ChaosResumeOrders     = "resume_orders"
	ChaosExec             = "exec"
)

// chaosActionNames lists every action a chaos: entry may name.
var chaosActionNames = []string{ChaosKillShard, ChaosRestoreShard, ChaosFreezeShard, ChaosFailInventory,
	ChaosRestoreInventory, ChaosAddLatency, ChaosClearLatency, ChaosPauseOrders, ChaosResumeOrders, ChaosExec}

// chaosUndo maps an action that breaks something to the action that
// restores it (used for `duration:`; see UndoOf).
var chaosUndo = map[string]string{
	ChaosKillShard:     ChaosRestoreShard,
	ChaosFailInventory: ChaosRestoreInventory,
	ChaosAddLatency:    ChaosClearLatency,
	ChaosPauseOrders:   ChaosResumeOrders,
}

// UndoOf returns the action that restores what action breaks ("" if none).
func UndoOf(action string) string { return chaosUndo[action] }

// ChaosAction is one validated entry of a profile's chaos: schedule.
//
//	chaos:
//	  - {at: 30s, action: kill_shard, shard: 1, duration: 15s}   # restore_shard 15 s later
//	  - {at: stage 2, action: fail_inventory, duration: 15s}      # at the start of stage 2 (1-based)
//	  - {at: 40s, action: add_latency, region: eu-west, path: /v1/carts, fixed: 150ms, jitter: 20ms}
//	  - {at: 50s, action: freeze_shard, shard: 0, duration: 2s}
//	  - {at: 60s, action: exec, command: [kubectl, delete, pod, checkout-0]}
type ChaosAction struct {
	// At is the time after the storm's start; when Stage > 0 it is the
	// start of that stage (1-based), filled in by the loader from the stages.
	At time.Duration
	// Stage is the 1-based stage the action is tied to (0: a time).
	Stage int
	// Action is one of the Chaos* names.
	Action string
	// Shard is the shard the action applies to (-1: none given).
	Shard int
	// Region names the region whose shards the action applies to ("" none).
	Region string
	// Duration, when > 0, schedules the undo action (UndoOf) that long
	// after (freeze_shard: how long the shard stays frozen).
	Duration time.Duration
	// Fixed and Jitter are add_latency's delay; Path its path prefix.
	Fixed, Jitter time.Duration
	Path          string
	// Command is exec's program and arguments.
	Command []string
	// Line and Column locate the entry in the profile.
	Line, Column int
}

// Name is a short description of the action for timelines, e.g.
// "kill_shard shard 1" or "fail_inventory".
func (a ChaosAction) Name() string {
	s := a.Action
	switch {
	case a.Shard >= 0:
		s += " shard " + strconv.Itoa(a.Shard)
	case a.Region != "":
		s += " region " + a.Region
	}
	if a.Action == ChaosExec && len(a.Command) > 0 {
		s += " " + strings.Join(a.Command, " ")
	}
	return s
}

var chaosKeys = []string{"at", "action", "shard", "region", "duration", "fixed", "jitter", "path", "command"}

// chaos validates the chaos: section into p.ChaosActions.
func (l *loader) chaos(n *yaml.Node) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind == yaml.MappingNode {
		// chaos: {actions: [...], defaults: &anchor {...}}: the other keys
		// are a place for YAML anchors.
		var acts *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "actions" {
				acts = n.Content[i+1]
			}
		}
		if acts == nil {
			return
		}
		n = deref(acts)
	}
	if n.Kind != yaml.SequenceNode {
		l.errf(n, "write chaos: as a list of {at: 30s, action: kill_shard, shard: 1, duration: 15s}", "chaos: expected a list of actions; got %s", kindName(n))
		return
	}
	for i, item := range n.Content {
		what := fmt.Sprintf("chaos[%d]", i)
		f := l.fields(item, what, chaosKeys)
		if f == nil {
			continue
		}
		a := ChaosAction{Shard: -1, Line: deref(item).Line, Column: deref(item).Column}
		ok := true
		if v := f["action"]; v == nil {
			l.errf(item, "one of "+strings.Join(chaosActionNames, ", "), "%s: missing action:", what)
			ok = false
		} else if s, good := l.str(v, what+" action"); good {
			a.Action = s
			if !slices.Contains(chaosActionNames, s) {
				hint := "one of " + strings.Join(chaosActionNames, ", ")
				if dm := didYouMean(s, chaosActionNames); dm != "" {
					hint = dm
				}
				l.errf(v, hint, "%s: unknown action %q", what, s)
				ok = false
			}
		} else {
			ok = false
		}
		if v := f["at"]; v == nil {
			l.errf(item, "e.g. at: 30s (after the start) or at: stage 2 (when stage 2 starts)", "%s: missing at:", what)
			ok = false
		} else {
			v = deref(v)
			s := strings.TrimSpace(v.Value)
			if rest, isStage := strings.CutPrefix(s, "stage"); isStage && v.Kind == yaml.ScalarNode {
				k, err := strconv.Atoi(strings.TrimSpace(rest))
				if err != nil || k < 1 || k > len(l.p.Workload.Stages) {
					l.errf(v, fmt.Sprintf("the workload has %d stages, numbered from 1", len(l.p.Workload.Stages)), "%s: at: %q is not a stage of the workload", what, s)
					ok = false
				} else {
					a.Stage = k
					for _, st := range l.p.Workload.Stages[:k-1] {
						a.At += st.Duration
					}
				}
			} else if d, good := l.duration(v, what+" at"); good {
				a.At = d
			} else {
				ok = false
			}
		}
		if v := f["shard"]; v != nil {
			if k, good := l.integer(v, what+" shard", 0, 1023); good {
				a.Shard = int(k)
			} else {
				ok = false
			}
		}
		if v := f["region"]; v != nil {
			if s, good := l.str(v, what+" region"); good {
				a.Region = s
				if l.p.Population != nil {
					if regions := l.p.Population.Regions(); !slices.Contains(regions, s) {
						l.errf(v, "the population's regions are "+strings.Join(regions, ", "), "%s: region %q is not in the population", what, s)
						ok = false
					}
				}
			}
		}
		for _, k := range []struct {
			key string
			dst *time.Duration
		}{{"duration", &a.Duration}, {"fixed", &a.Fixed}, {"jitter", &a.Jitter}} {
			if v := f[k.key]; v != nil {
				if d, good := l.duration(v, what+" "+k.key); good {
					*k.dst = d
				} else {
					ok = false
				}
			}
		}
		if v := f["path"]; v != nil {
			if s, good := l.str(v, what+" path"); good {
				if !strings.HasPrefix(s, "/") {
					l.errf(v, "e.g. path: /v1/carts", "%s: path %q must start with /", what, s)
					ok = false
				}
				a.Path = s
			}
		}
		if v := f["command"]; v != nil {
			a.Command = l.stringList(v, what+" command")
		}
		if !ok {
			continue
		}
		l.checkChaosFields(item, what, &a, f)
	}
}

// checkChaosFields checks which fields an action needs and allows, and
// appends a valid action.
func (l *loader) checkChaosFields(item *yaml.Node, what string, a *ChaosAction, f map[string]*yaml.Node) {
	before := len(l.errs)
	needsShard := a.Action == ChaosKillShard || a.Action == ChaosRestoreShard || a.Action == ChaosFreezeShard
	if needsShard && a.Shard < 0 && a.Region == "" {
		l.errf(item, "add shard: N (0-based) or region: NAME", "%s: %s needs shard: or region:", what, a.Action)
	}
	if a.Shard >= 0 && a.Region != "" {
		l.errf(f["region"], "keep one of them", "%s: give shard: or region:, not both", what)
	}
	if !needsShard && a.Action != ChaosAddLatency && (f["shard"] != nil || f["region"] != nil) {
		n := f["shard"]
		if n == nil {
			n = f["region"]
		}
		l.errf(n, "inventory, orders and clear_latency act on every shard", "%s: %s takes no shard: or region:", what, a.Action)
	}
	if a.Action == ChaosFreezeShard && a.Duration <= 0 {
		l.errf(item, "e.g. duration: 2s", "%s: freeze_shard needs duration: (how long the shard stays stopped)", what)
	}
	if f["duration"] != nil && a.Action != ChaosFreezeShard && UndoOf(a.Action) == "" {
		l.errf(f["duration"], "duration: schedules the undo of kill_shard, fail_inventory, add_latency or pause_orders", "%s: %s takes no duration:", what, a.Action)
	}
	if a.Action == ChaosAddLatency && a.Fixed <= 0 && a.Jitter <= 0 {
		l.errf(item, "e.g. fixed: 150ms, jitter: 20ms", "%s: add_latency needs fixed: or jitter:", what)
	}
	if a.Action != ChaosAddLatency {
		for _, k := range []string{"fixed", "jitter", "path"} {
			if f[k] != nil {
				l.errf(f[k], "only add_latency takes fixed:, jitter: and path:", "%s: %s takes no %s:", what, a.Action, k)
			}
		}
	}
	if a.Action == ChaosExec && len(a.Command) == 0 {
		l.errf(item, `e.g. command: [kubectl, delete, pod, checkout-0] (the program and its arguments; env AGENTSTORM_START, AGENTSTORM_ACTION, AGENTSTORM_TARGET)`, "%s: exec needs command:", what)
	}
	if a.Action != ChaosExec && f["command"] != nil {
		l.errf(f["command"], "only exec takes command:", "%s: %s takes no command:", what, a.Action)
	}
	if total := l.p.Workload.Duration(); total > 0 && a.At > total {
		l.errf(f["at"], fmt.Sprintf("the workload lasts %s", total), "%s: at: %s is after the end of the storm", what, a.At)
	}
	if len(l.errs) == before {
		l.p.ChaosActions = append(l.p.ChaosActions, *a)
	}
}
