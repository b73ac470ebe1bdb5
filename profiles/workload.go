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

// LevelAt returns the planned level at t since the start: agents (closed) or
// sessions per second (open). Before the start and after the end it is 0 and
// the last stage's target.
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
