package profiles

import (
	"math/rand/v2"
	"time"

	"go.yaml.in/yaml/v3"
)

// Patience is how long an agent waits for an answer before it abandons its
// session: the rest of the flow is skipped and the session counts as
// abandoned (slow, timeout or, with OnError, error). It is written
// patience: on the profile, a flow or a step (the step's wins over the
// flow's, which wins over the profile's), as a duration (100ms), a uniform
// range (80ms..300ms), an exponential distribution (exp(150ms)), none, or
// a mapping {wait: DIST, on_error: true}. The profile's or flow's patience
// is drawn once per session, a step's own when the step is entered, from
// the agent's random source.
type Patience struct {
	// Wait is the distribution drawn from (the think-time syntax and
	// type); Kind ThinkNone means no patience (patience: none, which turns
	// an outer patience off).
	Wait Think
	// OnError also makes an error answer (bad status, failed expectation,
	// refused, reset...) abandon the session; timeouts always do.
	OnError bool
}

// Active reports whether p gives the agent a patience (false for nil and
// for patience: none).
func (p *Patience) Active() bool { return p != nil && p.Wait.Kind != ThinkNone }

// Draw draws one patience from the agent's random source.
func (p *Patience) Draw(r *rand.Rand) time.Duration { return p.Wait.Sample(r) }

const patienceHint = "a duration (100ms), a range (80ms..300ms), exp(150ms), none, or {wait: 100ms, on_error: true}"

// patience parses a patience: value; what names it in errors.
func (l *loader) patience(n *yaml.Node, what string) *Patience {
	n = deref(n)
	p := &Patience{}
	if n.Kind != yaml.MappingNode {
		p.Wait = l.dist(n, what, "patience", patienceHint)
		return p
	}
	f := l.fields(n, what, []string{"wait", "on_error"})
	if f == nil {
		return p
	}
	if w := f["wait"]; w != nil {
		p.Wait = l.dist(deref(w), what+".wait", "patience", patienceHint)
	} else {
		l.errf(n, "e.g. {wait: 100ms, on_error: true}", "%s: missing wait:; expected how long the agent waits", what)
	}
	if e := f["on_error"]; e != nil {
		p.OnError = l.boolean(e, what+".on_error")
	}
	return p
}

// boolean parses true or false.
func (l *loader) boolean(n *yaml.Node, what string) bool {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		l.errf(n, "true or false", "%s: expected true or false; got %s", what, kindName(n))
		return false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
}

// resolveSessions applies the profile's patience to flows without their
// own, the order value to sale steps without a value of their own (an
// explicit value, 0 included, wins), and marks the
// flows with a sale step. It runs after flows and order_value are read.
func (l *loader) resolveSessions() {
	p := l.p
	for _, f := range p.Flows {
		if f.Patience == nil {
			f.Patience = p.Patience
		}
		if !f.Patience.Active() {
			f.Patience = nil
		}
		for _, st := range f.Steps {
			if st.Sale {
				f.HasSale = true
				if !st.saleValueSet {
					st.SaleValue = p.OrderValue
				}
			}
		}
	}
}

// TracksSessions reports whether the profile's sessions are judged: some
// flow or step has a patience, or some step is a sale. Only such profiles
// count session outcomes (and pay for it).
func (p *Profile) TracksSessions() bool {
	for _, f := range p.Flows {
		if f.HasSale {
			return true
		}
	}
	return p.HasPatience()
}

// HasPatience reports whether some flow or step has an active patience:
// only then can a session be abandoned. A step's `patience: none` stays set
// (it opts the step out of its flow's patience) but makes no one leave.
func (p *Profile) HasPatience() bool {
	for _, f := range p.Flows {
		if f.Patience.Active() {
			return true
		}
		for _, st := range f.Steps {
			if st.Patience.Active() {
				return true
			}
		}
	}
	return false
}
