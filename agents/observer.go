package agents

import "github.com/agentstorm/agentstorm/report"

// An Observer is told of every interval of a storm, with the swarm's
// counters at its end (Config.OnInterval): the live line, the interval
// log, the live budget checks, the metrics, a game day's timeline. The
// interval belongs to the recorder: an observer must not keep it.
type Observer interface {
	ObserveInterval(iv *report.Interval, st Stats)
}

// ObserverFunc lets an ordinary function be an Observer, as
// net/http.HandlerFunc does for handlers.
type ObserverFunc func(iv *report.Interval, st Stats)

// ObserveInterval calls f(iv, st).
func (f ObserverFunc) ObserveInterval(iv *report.Interval, st Stats) { f(iv, st) }

// Observers is a list of observers, told of each interval in the order
// they were added. Its ObserveInterval method is what Config.OnInterval
// wants.
type Observers []Observer

// Add appends f to the list.
func (o *Observers) Add(f ObserverFunc) { *o = append(*o, f) }

// ObserveInterval tells every observer of iv, in order.
func (o Observers) ObserveInterval(iv *report.Interval, st Stats) {
	for _, ob := range o {
		ob.ObserveInterval(iv, st)
	}
}
