// Package cpuload watches how busy the machine's CPUs are and how much of
// them a process tree (a run, its worker processes and the bundled
// target's shards) uses, once a second while a storm goes. A storm on a
// saturated machine measures the machine as much as the target: every
// latency then includes time spent waiting for a CPU, and the run's
// summary says so.
package cpuload

import (
	"slices"
	"sync"
	"time"
)

// Load is what a Watch saw over a span of the run.
type Load struct {
	// CPUs is the number of CPUs the machine has.
	CPUs int
	// Intervals is the number of sampling intervals the span covers.
	Intervals int
	// Busy is the machine's busy share (0 … 1, all CPUs) in the span's
	// median interval, Peak in its busiest.
	Busy, Peak float64
	// Groups is the cores each group of the tree used on average over the
	// span (see Start), Other what processes outside the tree used.
	Groups map[string]float64
	Other  float64
}

// reading is one look at the machine's and the tree's CPU time.
type reading struct {
	at          time.Time
	busy, total float64            // the machine's CPU seconds, every CPU
	groups      map[string]float64 // the tree's CPU seconds by group
}

// Watch samples the machine and a process tree every interval until Stop.
type Watch struct {
	src   source
	stop  chan struct{}
	done  chan struct{}
	every time.Duration

	mu       sync.Mutex
	readings []reading
}

// Start watches the machine and the tree of processes rooted at root (root
// and its descendants, alive at each reading), every interval. group names
// the group a process of the tree counts in, from its command line. It
// fails where the system does not expose CPU times (/proc on Linux).
func Start(root int, group func(args []string) string, every time.Duration) (*Watch, error) {
	src, err := newSource(root, group)
	if err != nil {
		return nil, err
	}
	w := &Watch{src: src, stop: make(chan struct{}), done: make(chan struct{}), every: every}
	w.sample()
	go w.run()
	return w, nil
}

func (w *Watch) run() {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.sample()
		}
	}
}

// sample takes a reading; one that fails is skipped.
func (w *Watch) sample() {
	r, err := w.src.read()
	if err != nil {
		return
	}
	w.mu.Lock()
	w.readings = append(w.readings, r)
	w.mu.Unlock()
}

// Stop ends the sampling after one last reading. It is safe on a nil Watch.
func (w *Watch) Stop() {
	if w == nil {
		return
	}
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	w.sample()
}

// Over returns the load over the intervals that lie within [from, to]; ok
// is false when there is none (or w is nil).
func (w *Watch) Over(from, to time.Time) (l Load, ok bool) {
	if w == nil {
		return Load{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return over(w.readings, w.src.cpus(), from, to)
}

// over computes Over from readings.
func over(rs []reading, cpus int, from, to time.Time) (Load, bool) {
	l := Load{CPUs: cpus, Groups: map[string]float64{}}
	var shares []float64
	var secs, machine float64
	used := map[string]float64{}
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		if a.at.Before(from) || b.at.After(to) || b.total <= a.total {
			continue
		}
		share := float64(b.busy-a.busy) / float64(b.total-a.total)
		shares = append(shares, share)
		dt := b.at.Sub(a.at).Seconds()
		secs += dt
		machine += share * float64(cpus) * dt
		for g, c := range b.groups {
			// A process that left the tree between two readings takes its
			// time with it: a group's total can fall; that counts as 0.
			used[g] += max(c-a.groups[g], 0)
		}
	}
	if len(shares) == 0 || secs <= 0 {
		return Load{}, false
	}
	slices.Sort(shares)
	l.Intervals = len(shares)
	l.Busy = shares[(len(shares)-1)/2]
	l.Peak = shares[len(shares)-1]
	tree := 0.0
	for g, c := range used {
		l.Groups[g] = c / secs
		tree += c / secs
	}
	l.Other = max(machine/secs-tree, 0)
	return l, true
}
