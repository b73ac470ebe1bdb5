package profiles

import (
	"errors"
	"math"
	"os"
	"strings"
	"time"
)

// Named loads a built-in profile by name, or a profile file when name looks
// like a path (a "/" or "\", a .yaml or .yml suffix) or names a file that
// exists, its ${NAME}s from lookup.
func Named(name string, lookup Lookup) (*Profile, error) {
	isFile := strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
	if !isFile {
		if fi, err := os.Stat(name); err == nil && !fi.IsDir() {
			isFile = true
		}
	}
	if isFile {
		return LoadFileWith(name, lookup)
	}
	return Builtin(name)
}

// Overrides are changes to a profile's workload from a command line.
type Overrides struct {
	// Agents, when above 0, scales the stages to a new peak (closed model,
	// and the open model's in-flight levels, with max_agents if set) or
	// sets the most concurrent sessions (open model, per-second levels).
	Agents int
	// Duration, when above 0, makes the stages a ramp (Ramp) and a hold
	// for the rest of it.
	Duration time.Duration
	// Ramp, when not nil, is the ramp from 0 to the peak (with Duration,
	// or over the profile's duration); nil keeps the first stage's.
	Ramp *time.Duration
	// Think, when not nil, replaces the think time by a constant one (0:
	// none).
	Think *time.Duration
}

// Apply rewrites p's workload by o. It fails when the workload then lasts
// no time at all.
func (o Overrides) Apply(p *Profile) error {
	w := &p.Workload
	if o.Think != nil {
		if *o.Think == 0 {
			w.Think = Think{Kind: ThinkNone}
		} else {
			w.Think = Think{Kind: ThinkConstant, Min: *o.Think, Max: *o.Think, Mean: *o.Think}
		}
	}
	peak := w.Peak()
	if o.Agents > 0 {
		switch {
		case w.TargetsInFlight():
			if w.MaxAgents > 0 && peak > 0 {
				w.MaxAgents = max(int(math.Round(float64(w.MaxAgents)*float64(o.Agents)/float64(peak))), 1)
			}
			w.ScaleStages(o.Agents)
			peak = o.Agents
		case w.Model == Open:
			w.MaxAgents = o.Agents
		default:
			w.ScaleStages(o.Agents)
			peak = o.Agents
		}
	}
	if o.Duration > 0 || o.Ramp != nil {
		d := o.Duration
		if d <= 0 {
			d = w.Duration()
		}
		ramp := time.Duration(0)
		if o.Ramp != nil {
			ramp = *o.Ramp
		} else if len(w.Stages) > 0 {
			ramp = w.Stages[0].Duration
		}
		ramp = min(ramp, d)
		peak = max(peak, 1)
		w.Stages = []Stage{{Duration: ramp, Target: peak}}
		if d > ramp {
			w.Stages = append(w.Stages, Stage{Duration: d - ramp, Target: peak})
		}
	}
	if w.Duration() <= 0 {
		return errors.New("the workload lasts 0 s: give --duration")
	}
	return nil
}

// ScaleStages multiplies every stage's target by the same factor so that
// the peak becomes to (every stage becomes to when the peak is 0).
func (w *Workload) ScaleStages(to int) {
	peak := w.Peak()
	if peak <= 0 {
		for i := range w.Stages {
			w.Stages[i].Target = to
		}
		return
	}
	k := float64(to) / float64(peak)
	for i := range w.Stages {
		w.Stages[i].Target = int(math.Round(float64(w.Stages[i].Target) * k))
	}
}
