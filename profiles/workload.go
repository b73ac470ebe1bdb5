package profiles

import (
	"math/rand/v2"
	"time"
)

// Duration returns the planned length of the run: the sum of the stages.
func (w Workload) Duration() time.Duration {
	var d time.Duration
	for _, s := range w.Stages {
		d += s.Duration
	}
	return d
}

// TargetsInFlight reports whether the stage levels are sessions in flight:
// the open model with levels: in_flight.
func (w Workload) TargetsInFlight() bool { return w.Model == Open && w.Levels == InFlight }

// LevelAt returns the planned level at t since the start: agents (closed),
// sessions started per second or sessions in flight (open). Before the start
// and after the end it is 0 and the last stage's target.
func (w Workload) LevelAt(t time.Duration) float64 {
	prev := 0.0
	if t < 0 {
		return 0
	}
	for _, s := range w.Stages {
		if t < s.Duration {
			frac := float64(t) / float64(s.Duration)
			return prev + (float64(s.Target)-prev)*frac
		}
		t -= s.Duration
		prev = float64(s.Target)
	}
	return prev
}

// Peak returns the highest level of any stage.
func (w Workload) Peak() int {
	p := 0
	for _, s := range w.Stages {
		p = max(p, s.Target)
	}
	return p
}

// LevelSteps walks the instants at which the plan's whole level, the floor
// of LevelAt, changes: one unit at a time, in time order. On a ramp from a to
// b over D the level reaches k (a < k <= b) at D*(k-a)/(b-a) into the
// stage, and falls below k (b < k <= a) at D*(a-k)/(a-b); a stage of no
// duration changes it by every unit at its start. Make it with Steps.
type LevelSteps struct {
	stages []Stage
	i      int           // the stage being walked
	t0     time.Duration // when stage i starts
	from   int           // the level when stage i starts
	level  int           // the whole level after the last change returned
}

// Steps returns a walk over the plan's level changes from the start.
func (w Workload) Steps() LevelSteps { return LevelSteps{stages: w.Stages} }

// Next returns the next change: when it happens (since the start) and the
// level after it, one above or one below the level before. ok is false
// once the plan has no more changes.
func (it *LevelSteps) Next() (at time.Duration, level int, ok bool) {
	for it.i < len(it.stages) {
		st := it.stages[it.i]
		a, b := it.from, st.Target
		if it.level != b {
			var frac float64
			if b > a {
				it.level++
				frac = float64(it.level-a) / float64(b-a)
			} else {
				frac = float64(a-it.level) / float64(a-b)
				it.level--
			}
			return it.t0 + time.Duration(frac*float64(st.Duration)), it.level, true
		}
		it.t0 += st.Duration
		it.from = b
		it.i++
	}
	return 0, 0, false
}

// Sample draws one think time.
func (t Think) Sample(r *rand.Rand) time.Duration {
	switch t.Kind {
	case ThinkConstant:
		return t.Min
	case ThinkUniform:
		if t.Max <= t.Min {
			return t.Min
		}
		return t.Min + time.Duration(r.Int64N(int64(t.Max-t.Min)+1))
	case ThinkExponential:
		d := time.Duration(r.ExpFloat64() * float64(t.Mean))
		// Cap at 20 means so one unlucky draw cannot park an agent for the run.
		return min(d, 20*t.Mean)
	}
	return 0
}
