// Package gameday runs a game day: it executes a profile's chaos schedule
// during a storm (against the bundled target's admin API, or any system
// through exec commands), collects what the agents saw (order ids answered
// 202 with their idempotency keys, add-to-cart answer modes, per-second
// per-region latency and errors), and audits the run afterwards: order
// integrity (created, still processing, lost, duplicated), graceful
// degradation (the pre-order share while inventory was failed), each
// fault's blast radius per region before, during and after, and the
// recovery time after each restore.
//
// The flow, as cmd/agentstorm wires it:
//
//	col := gameday.NewCollector(start, "add_to_cart")     // agents.Config.OnAnswer -> col.Observe
//	tl := gameday.NewTimeline(start, regions)             // every interval -> tl.Add(iv)
//	ex := &gameday.Executor{Actions: prof.ChaosActions, Admin: admin, Start: start, OnEvent: ...}
//	go ex.Run(ctx)
//	... storm ...
//	res := gameday.Analyze(ex.Events(), tl, col, opts)    // degradation, blast radius, recovery
//	oa := gameday.AuditOrders(ctx, col, auditOpts)        // after the queue drains
//	res.Orders = &oa
//	res.Figures() -> report.Summary.Figures (lost_orders, duplicate_orders, preorder_share, recovery...)
//
// The package talks to targets over HTTP only; it never imports the target.
package gameday

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
)

// Admin is a client of the bundled target's chaos admin API.
type Admin struct {
	// URL is the admin listener's base URL; Token its bearer token.
	URL, Token string
	// Client is the HTTP client (default: one with a 30 s timeout).
	Client *http.Client
}

// TopologyShard is one shard of the admin API's GET /v1/topology.
type TopologyShard struct {
	ID     int    `json:"id"`
	Region string `json:"region"`
	URL    string `json:"url"`
}

// Topology is the admin API's GET /v1/topology answer.
type Topology struct {
	Regions map[string]string `json:"regions"`
	Shards  []TopologyShard   `json:"shards"`
}

func (a *Admin) client() *http.Client {
	if a.Client != nil {
		return a.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Do sends one admin call; body (if not nil) is sent as JSON and the answer
// decoded into out (if not nil). A non-2xx answer is an error carrying the
// target's message.
func (a *Admin) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("admin %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.URL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client().Do(req)
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("admin %s %s: %d: %s", method, path, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("admin %s %s: %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin %s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// Topology fetches the target's shards.
func (a *Admin) Topology(ctx context.Context) (Topology, error) {
	var t Topology
	err := a.Do(ctx, http.MethodGet, "/v1/topology", nil, &t)
	return t, err
}

// Event is one chaos action as executed: a mark on the storm's timeline.
type Event struct {
	// At is when it ran, since the storm's start; Time the wall clock.
	At   time.Duration `json:"-"`
	Time time.Time     `json:"time"`
	// Action is the action's name (profiles.Chaos*); Name a description
	// such as "kill_shard shard 1".
	Action string `json:"action"`
	Name   string `json:"name"`
	// Shards are the shards it acted on (empty: every shard or none).
	Shards []int `json:"shards,omitempty"`
	// Regions are the regions of those shards (empty: every region).
	Regions []string `json:"regions,omitempty"`
	// Auto is set on an undo scheduled by the action's duration.
	Auto bool `json:"auto,omitempty"`
	// Error is why it failed ("" when it succeeded).
	Error string `json:"error,omitempty"`
	// ExitCode and Output are an exec action's exit status and combined
	// output (the last 4 KiB).
	ExitCode int    `json:"exit_code,omitempty"`
	Output   string `json:"output,omitempty"`
	// Duration is a freeze's length (0 for other actions).
	Duration time.Duration `json:"-"`
	// Took is how long the action took.
	Took time.Duration `json:"-"`
}

// MarshalJSON writes At and Took as milliseconds.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	return json.Marshal(struct {
		plain
		At   float64 `json:"at_ms"`
		Took float64 `json:"took_ms"`
	}{plain(e), ms(e.At), ms(e.Took)})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Executor runs a chaos schedule against a target.
type Executor struct {
	// Actions is the validated schedule (profiles.Profile.ChaosActions).
	Actions []profiles.ChaosAction
	// Admin is the bundled target's admin API; nil for a user's own system
	// (then only exec actions can run; the others fail as events).
	Admin *Admin
	// Topology maps shards to regions (from Admin.Topology).
	Topology Topology
	// Target is the storm's target, passed to exec as AGENTSTORM_TARGET.
	Target string
	// Start is the storm's time zero.
	Start time.Time
	// OnEvent, if set, is called with every event as it happens.
	OnEvent func(Event)

	mu     sync.Mutex
	events []Event
}

// Step is one action of the expanded plan.
type Step struct {
	profiles.ChaosAction
	// Auto is set on an undo scheduled by a fault's duration; Of is the
	// index (in the schedule) of that fault, and of the action itself
	// otherwise.
	Auto bool
	Of   int
}

// Plan expands the schedule: every action with a duration gets its undo
// that long after (freeze_shard keeps its duration), sorted by time.
func Plan(actions []profiles.ChaosAction) []Step {
	var out []Step
	for i, a := range actions {
		out = append(out, Step{ChaosAction: a, Of: i})
		if u := profiles.UndoOf(a.Action); u != "" && a.Duration > 0 {
			b := a
			b.Action, b.At, b.Duration = u, a.At+a.Duration, 0
			out = append(out, Step{ChaosAction: b, Auto: true, Of: i})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// Run executes the schedule until every action ran or ctx ends; an action
// due after ctx ends is not run, except the undo (auto-restore) of a fault
// that ran, so a stopped storm leaves no shard killed.
func (e *Executor) Run(ctx context.Context) {
	plan := Plan(e.Actions)
	ran := map[int]bool{} // faults (by schedule index) that ran
	for i, s := range plan {
		wait := time.Until(e.Start.Add(s.At))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				for _, u := range plan[i:] {
					if u.Auto && ran[u.Of] {
						e.exec(context.Background(), u)
					}
				}
				return
			}
		}
		e.exec(context.WithoutCancel(ctx), s)
		if !s.Auto {
			ran[s.Of] = true
		}
	}
}

// Events returns the events so far, in order.
func (e *Executor) Events() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// shards resolves the action's shards and regions.
func (e *Executor) shards(a profiles.ChaosAction) ([]int, []string) {
	switch {
	case a.Shard >= 0:
		for _, s := range e.Topology.Shards {
			if s.ID == a.Shard {
				return []int{a.Shard}, []string{s.Region}
			}
		}
		return []int{a.Shard}, nil
	case a.Region != "":
		var ids []int
		for _, s := range e.Topology.Shards {
			if s.Region == a.Region {
				ids = append(ids, s.ID)
			}
		}
		return ids, []string{a.Region}
	}
	return nil, nil
}

// exec runs one action and records its event.
func (e *Executor) exec(ctx context.Context, s Step) {
	began := time.Now()
	ev := Event{At: began.Sub(e.Start), Time: began, Action: s.Action, Name: s.Name(), Auto: s.Auto}
	if s.Action == profiles.ChaosFreezeShard {
		ev.Duration = s.Duration
	}
	ev.Shards, ev.Regions = e.shards(s.ChaosAction)
	err := e.do(ctx, s.ChaosAction, ev.Shards, &ev)
	if err != nil {
		ev.Error = err.Error()
	}
	ev.Took = time.Since(began)
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
	if e.OnEvent != nil {
		e.OnEvent(ev)
	}
}

func (e *Executor) do(ctx context.Context, a profiles.ChaosAction, shards []int, ev *Event) error {
	if a.Action == profiles.ChaosExec {
		return e.runCommand(ctx, a, ev)
	}
	if e.Admin == nil {
		return fmt.Errorf("%s needs the bundled target's admin API; against your own system use action: exec", a.Action)
	}
	if (a.Shard >= 0 || a.Region != "") && len(shards) == 0 {
		return fmt.Errorf("region %s has no shard in the target's topology", a.Region)
	}
	perShard := func(verb string, body any) error {
		var errs []string
		for _, id := range shards {
			if err := e.Admin.Do(ctx, http.MethodPost, fmt.Sprintf("/admin/shards/%d/%s", id, verb), body, nil); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%s", strings.Join(errs, "; "))
		}
		return nil
	}
	switch a.Action {
	case profiles.ChaosKillShard:
		return perShard("kill", nil)
	case profiles.ChaosRestoreShard:
		return perShard("restore", nil)
	case profiles.ChaosFreezeShard:
		return perShard("freeze", map[string]string{"duration": a.Duration.String()})
	case profiles.ChaosFailInventory:
		return e.Admin.Do(ctx, http.MethodPost, "/admin/inventory/fail", nil, nil)
	case profiles.ChaosRestoreInventory:
		return e.Admin.Do(ctx, http.MethodPost, "/admin/inventory/restore", nil, nil)
	case profiles.ChaosPauseOrders:
		return e.Admin.Do(ctx, http.MethodPost, "/admin/orders/pause", nil, nil)
	case profiles.ChaosResumeOrders:
		return e.Admin.Do(ctx, http.MethodPost, "/admin/orders/resume", nil, nil)
	case profiles.ChaosClearLatency:
		return e.Admin.Do(ctx, http.MethodDelete, "/admin/latency", nil, nil)
	case profiles.ChaosAddLatency:
		rule := map[string]any{"fixed": a.Fixed.String(), "jitter": a.Jitter.String()}
		if a.Path != "" {
			rule["path"] = a.Path
		}
		if len(shards) == 0 {
			return e.Admin.Do(ctx, http.MethodPost, "/admin/latency", rule, nil)
		}
		for _, id := range shards {
			rule["shard"] = id
			if err := e.Admin.Do(ctx, http.MethodPost, "/admin/latency", rule, nil); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown action %q", a.Action)
}

// maxOutput is how much of an exec action's output is kept.
const maxOutput = 4 << 10

// runCommand runs an exec action with AGENTSTORM_START (RFC 3339),
// AGENTSTORM_ACTION (the action's name) and AGENTSTORM_TARGET in its
// environment, bounded to a minute. The command runs in its own process
// group, and the whole group is killed when the command exits (or times
// out): a backgrounded grandchild can neither outlive the action nor hold
// its output open.
func (e *Executor) runCommand(ctx context.Context, a profiles.ChaosAction, ev *Event) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The output goes to a pipe of ours rather than through exec's copying
	// goroutines, so Wait returns when the command exits, not when the last
	// process holding the pipe does.
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("exec %s: output pipe: %w", strings.Join(a.Command, " "), err)
	}
	defer r.Close()
	cmd := exec.CommandContext(ctx, a.Command[0], a.Command[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = append(os.Environ(),
		"AGENTSTORM_START="+e.Start.UTC().Format(time.RFC3339Nano),
		"AGENTSTORM_ACTION="+a.Name(),
		"AGENTSTORM_TARGET="+e.Target)
	err = cmd.Start()
	_ = w.Close() // the command holds its own copy
	if err != nil {
		return fmt.Errorf("exec %s: %w", strings.Join(a.Command, " "), err)
	}
	var out tailBuffer
	copied := make(chan struct{})
	go func() { defer close(copied); _, _ = io.Copy(&out, r) }()
	err = cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left running
	<-copied
	ev.Output = string(out.b)
	if cmd.ProcessState != nil {
		ev.ExitCode = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		return fmt.Errorf("exec %s: %w", strings.Join(a.Command, " "), err)
	}
	return nil
}

// tailBuffer keeps the last maxOutput bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxOutput {
		t.b = append(t.b[:0], t.b[len(t.b)-maxOutput:]...)
	}
	return len(p), nil
}
