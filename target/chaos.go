package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// ChaosState is the whole chaos configuration of one shard. The supervisor pushes it whole
// (POST /internal/chaos with the shard's ControlToken) after every admin change and after a
// restore; Shard.SetChaos is the in-process equivalent.
type ChaosState struct {
	// InventoryFailed makes the inventory part unavailable: add-to-cart answers 200 with mode
	// "preorder" and GET /v1/inventory/{sku} answers 200 with available 0 and degraded true.
	InventoryFailed bool `json:"inventory_failed"`
	// OrdersPaused stops the order worker; checkouts are still accepted and stay queued.
	OrdersPaused bool `json:"orders_paused"`
	// Latency delays answers whose path starts with a rule's PathPrefix; the delays of all
	// matching rules add up.
	Latency []LatencyRule `json:"latency"`
}

// LatencyRule delays every answer whose request path starts with PathPrefix by Fixed plus a
// uniformly random duration in [0, Jitter].
type LatencyRule struct {
	PathPrefix string   `json:"path_prefix,omitempty"` // empty = every path
	Fixed      Duration `json:"fixed"`                 // JSON string like "150ms"
	Jitter     Duration `json:"jitter"`                // uniform 0..Jitter added
}

// Duration is a time.Duration that marshals to JSON as a Go duration string such as "150ms"
// and unmarshals from such a string or from a number of nanoseconds.
type Duration time.Duration

// MarshalJSON encodes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a Go duration string ("150ms", "1.5s") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	switch x := v.(type) {
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return fmt.Errorf("duration %q: want a Go duration such as \"150ms\": %w", x, err)
		}
		*d = Duration(p)
	case float64:
		if x != float64(int64(x)) {
			return fmt.Errorf("duration %v: a number must be a whole count of nanoseconds", x)
		}
		*d = Duration(int64(x))
	default:
		return fmt.Errorf("duration %s: want a string such as \"150ms\" or a number of nanoseconds", string(b))
	}
	return nil
}

// maxLatency bounds a single rule's delay so that a typo cannot hang a shard for hours.
const maxLatency = 60 * time.Second

// Validate reports the first problem with c, naming the offending rule.
func (c ChaosState) Validate() error {
	for i, r := range c.Latency {
		if r.Fixed < 0 || r.Jitter < 0 {
			return fmt.Errorf("latency[%d]: fixed and jitter must not be negative", i)
		}
		if time.Duration(r.Fixed) > maxLatency || time.Duration(r.Jitter) > maxLatency {
			return fmt.Errorf("latency[%d]: fixed and jitter must each be at most %v", i, maxLatency)
		}
		if r.PathPrefix != "" && !strings.HasPrefix(r.PathPrefix, "/") {
			return fmt.Errorf("latency[%d]: path_prefix %q must start with /", i, r.PathPrefix)
		}
	}
	return nil
}

// decodeChaos decodes a strict ChaosState JSON body.
func decodeChaos(body []byte) (ChaosState, error) {
	var c ChaosState
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("chaos state: %w", err)
	}
	if dec.More() {
		return c, errors.New("chaos state: trailing data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("chaos state: %w", err)
	}
	return c, nil
}

// chaosRuntime is the compiled, immutable form of a ChaosState used on the request path.
type chaosRuntime struct {
	state    ChaosState
	extraRTT time.Duration
	rules    []LatencyRule
}

// delay returns how long to hold the answer for path (topology RTT plus matching rules).
func (c *chaosRuntime) delay(path []byte) time.Duration {
	d := c.extraRTT
	for i := range c.rules {
		r := &c.rules[i]
		if len(path) >= len(r.PathPrefix) && string(path[:len(r.PathPrefix)]) == r.PathPrefix {
			d += time.Duration(r.Fixed)
			if r.Jitter > 0 {
				d += time.Duration(rand.Int64N(int64(r.Jitter) + 1))
			}
		}
	}
	return d
}
