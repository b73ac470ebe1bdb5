package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/agentstorm/agentstorm/target"
)

// maxLatency bounds Fixed and Jitter of a latency rule.
const maxLatency = time.Minute

// ShardState is one shard in State.
type ShardState struct {
	ID     int    `json:"id"`
	Region string `json:"region"`
	URL    string `json:"url"`
	// PID is the current process id, 0 while not running.
	PID int `json:"pid"`
	// State is StateUp, StateFrozen, StateKilled, StateExited or StateClosed.
	State string `json:"state"`
	// FrozenUntil is when a frozen shard gets SIGCONT; nil when not frozen.
	FrozenUntil *time.Time `json:"frozen_until,omitempty"`
	// ExtraRTT is the topology's added round trip, as a Go duration.
	ExtraRTT string `json:"extra_rtt"`
	// Restarts counts restores that started a new process.
	Restarts int `json:"restarts"`
	// DataDir is the shard's own data directory.
	DataDir string `json:"data_dir"`
}

// State is the supervisor's whole state (GET /admin/state).
type State struct {
	Topology        string        `json:"topology"`
	Shards          []ShardState  `json:"shards"`
	InventoryFailed bool          `json:"inventory_failed"`
	OrdersPaused    bool          `json:"orders_paused"`
	Latency         []LatencyRule `json:"latency"`
	// EventsDropped counts the oldest events dropped from the bounded log.
	EventsDropped int `json:"events_dropped"`
}

// latencyRuleJSON is the wire form of LatencyRule.
type latencyRuleJSON struct {
	Shard  *int   `json:"shard,omitempty"`
	Path   string `json:"path,omitempty"`
	Fixed  string `json:"fixed"`
	Jitter string `json:"jitter"`
}

// MarshalJSON writes the rule with durations as Go duration strings:
// {"shard":1,"path":"/v1/carts","fixed":"150ms","jitter":"20ms"}.
func (r LatencyRule) MarshalJSON() ([]byte, error) {
	return json.Marshal(latencyRuleJSON{Shard: r.Shard, Path: r.Path, Fixed: r.Fixed.String(), Jitter: r.Jitter.String()})
}

// UnmarshalJSON reads the form MarshalJSON writes; durations may also be
// numbers of nanoseconds.
func (r *LatencyRule) UnmarshalJSON(b []byte) error {
	var w struct {
		Shard  *int          `json:"shard"`
		Path   string        `json:"path"`
		Fixed  *jsonDuration `json:"fixed"`
		Jitter *jsonDuration `json:"jitter"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("latency rule: %w", err)
	}
	*r = LatencyRule{Shard: w.Shard, Path: w.Path}
	if w.Fixed != nil {
		r.Fixed = time.Duration(*w.Fixed)
	}
	if w.Jitter != nil {
		r.Jitter = time.Duration(*w.Jitter)
	}
	return nil
}

// validateRule checks the rule against the shards the supervisor has.
func (s *Supervisor) validateRule(r LatencyRule) error {
	if r.Shard != nil {
		if _, err := s.shard(*r.Shard); err != nil {
			return fmt.Errorf("latency rule: %w", err)
		}
	}
	if r.Path != "" && r.Path[0] != '/' {
		return fmt.Errorf("latency rule: path %q must start with /: %w", r.Path, ErrBadInput)
	}
	if r.Fixed < 0 || r.Fixed > maxLatency {
		return fmt.Errorf("latency rule: fixed %s is out of range 0 to %s: %w", r.Fixed, maxLatency, ErrBadInput)
	}
	if r.Jitter < 0 || r.Jitter > maxLatency {
		return fmt.Errorf("latency rule: jitter %s is out of range 0 to %s: %w", r.Jitter, maxLatency, ErrBadInput)
	}
	if r.Fixed == 0 && r.Jitter == 0 {
		return fmt.Errorf("latency rule: fixed and jitter are both 0; give at least one: %w", ErrBadInput)
	}
	return nil
}

// State returns a snapshot of every shard and of the chaos settings.
func (s *Supervisor) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{
		Topology:        s.cfg.Topology,
		InventoryFailed: s.chaos.inventoryFailed,
		OrdersPaused:    s.chaos.ordersPaused,
		Latency:         append([]LatencyRule{}, s.chaos.latency...),
		EventsDropped:   s.dropped,
	}
	for _, sh := range s.shards {
		ss := ShardState{
			ID: sh.id, Region: sh.region, URL: "http://" + sh.addr, State: sh.state,
			ExtraRTT: sh.extraRTT.String(), Restarts: sh.restarts, DataDir: sh.dataDir,
		}
		if sh.proc != nil && (sh.state == StateUp || sh.state == StateFrozen) {
			ss.PID = sh.proc.pid
		}
		if sh.state == StateFrozen {
			t := sh.frozenUntil.UTC()
			ss.FrozenUntil = &t
		}
		st.Shards = append(st.Shards, ss)
	}
	return st
}

// SetInventoryFailed fails (true) or restores (false) the inventory part of
// every shard: add-to-cart then answers in pre-order mode.
func (s *Supervisor) SetInventoryFailed(ctx context.Context, failed bool) error {
	action := "inventory restore"
	if failed {
		action = "inventory fail"
	}
	return s.change(ctx, action, nil, "", func(c *chaosState) { c.inventoryFailed = failed })
}

// SetOrdersPaused pauses (true) or resumes (false) the order worker of
// every shard; checkouts are still accepted and queued.
func (s *Supervisor) SetOrdersPaused(ctx context.Context, paused bool) error {
	action := "orders resume"
	if paused {
		action = "orders pause"
	}
	return s.change(ctx, action, nil, "", func(c *chaosState) { c.ordersPaused = paused })
}

// AddLatency adds a latency rule; rules add up where several match.
func (s *Supervisor) AddLatency(ctx context.Context, r LatencyRule) error {
	if err := s.validateRule(r); err != nil {
		return err
	}
	detail := fmt.Sprintf("fixed %s jitter %s", r.Fixed, r.Jitter)
	if r.Path != "" {
		detail += " on paths " + r.Path + "*"
	}
	return s.change(ctx, "latency add", r.Shard, detail, func(c *chaosState) {
		c.latency = append(c.latency, r)
	})
}

// ClearLatency removes every latency rule.
func (s *Supervisor) ClearLatency(ctx context.Context) error {
	return s.change(ctx, "latency clear", nil, "", func(c *chaosState) { c.latency = nil })
}

// change applies fn to the chaos state and pushes the result to the
// affected shards (one shard, or all when shardID is nil). The change is
// kept even if a push fails; the shard gets it again on restore.
func (s *Supervisor) change(ctx context.Context, action string, shardID *int, detail string, fn func(*chaosState)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	fn(&s.chaos)
	s.mu.Unlock()
	var targets []*shard
	if shardID != nil {
		targets = []*shard{s.shards[*shardID]}
	} else {
		targets = s.shards
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, sh := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.push(ctx, sh)
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	s.record(action, shardID, detail, err)
	return err
}

// chaosFor is the whole chaos state of shard id, as pushed to it. The
// caller holds s.mu.
func (s *Supervisor) chaosFor(id int) target.ChaosState {
	cs := target.ChaosState{
		InventoryFailed: s.chaos.inventoryFailed,
		OrdersPaused:    s.chaos.ordersPaused,
		Latency:         []target.LatencyRule{},
	}
	for _, r := range s.chaos.latency {
		if r.Shard == nil || *r.Shard == id {
			cs.Latency = append(cs.Latency, target.LatencyRule{
				PathPrefix: r.Path, Fixed: target.Duration(r.Fixed), Jitter: target.Duration(r.Jitter),
			})
		}
	}
	return cs
}

// push sends sh its current chaos state. A shard that is not up is skipped
// (a frozen one is marked to get it when it thaws, a killed one gets it on
// restore). Pushes to one shard are serialised and each reads the newest
// state, so the last to land is never stale.
func (s *Supervisor) push(ctx context.Context, sh *shard) error {
	sh.pushMu.Lock()
	defer sh.pushMu.Unlock()
	s.mu.Lock()
	if sh.state != StateUp {
		sh.dirty = sh.state == StateFrozen
		s.mu.Unlock()
		return nil
	}
	cs := s.chaosFor(sh.id)
	sh.dirty = false
	url := "http://" + sh.addr + "/internal/chaos"
	s.mu.Unlock()

	err := s.postChaos(ctx, url, cs)
	if err != nil {
		s.mu.Lock()
		sh.dirty = true
		s.mu.Unlock()
		return fmt.Errorf("shard %d: %w: %w", sh.id, ErrPush, err)
	}
	return nil
}

// postChaos is one POST /internal/chaos.
func (s *Supervisor) postChaos(ctx context.Context, url string, cs target.ChaosState) error {
	body, err := json.Marshal(cs)
	if err != nil {
		return fmt.Errorf("encode chaos state: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.controlToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: status %d: %s", url, resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
