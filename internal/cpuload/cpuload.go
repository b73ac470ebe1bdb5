// Package cpuload watches how busy the machine's CPUs are and how much of
// them a process tree (a run, its worker processes and the bundled
// target's shards) uses, once a second while a storm goes. A storm on a
// saturated machine measures the machine as much as the target: its
// latencies then include time spent waiting for a CPU, and the run's
// summary says so.
package cpuload

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Load is what a Watch saw over a span of the run.
type Load struct {
	// CPUs is the number of CPUs the machine has.
	CPUs int
	// Intervals is the number of sampling intervals Busy, Median and Peak
	// are taken from.
	Intervals int
	// Busy is the machine's busy share (0 … 1, all CPUs together) in the
	// span's 90th-percentile interval, Median in its median one and Peak
	// in its busiest (ranks by nearest rank, rounded up, as every
	// percentile of ours).
	Busy, Median, Peak float64
	// Groups is the cores each group of the tree used on average over the
	// span (see Start), Other the rest of the busy time: processes outside
	// the tree, and kernel work charged to no process (network softirqs,
	// wake-ups), a third of a core in a storm on a 2-core VM.
	Groups map[string]float64
	Other  float64
	// Waiting is the share of the span's time in which some runnable task
	// waited for a CPU (the kernel's pressure stall information, "some"),
	// when HasWaiting.
	Waiting    float64
	HasWaiting bool
}

// procKey names a process across readings: a pid reused by a new process
// has another start time.
type procKey struct {
	pid   int
	start uint64
}

// procCPU is a process of the tree at a reading: its group and the CPU
// seconds it has used so far.
type procCPU struct {
	group string
	cpu   float64
}

// rawReading is one look at the machine's and the tree's CPU time, as the
// source takes it.
type rawReading struct {
	at          time.Time
	busy, total float64 // the machine's CPU seconds so far, every CPU
	waited      float64 // seconds in which some task waited for a CPU, so far (-1: not known)
	procs       map[procKey]procCPU
}

// reading is what history keeps of a rawReading: the machine's counters,
// and the CPU each group used since the reading before (indexed as
// history.groups), so that a long run keeps a few words a second.
type reading struct {
	at          time.Time
	busy, total float64
	waited      float64
	used        []float64
}

// history is a watch's readings.
type history struct {
	groups   []string
	last     map[procKey]procCPU // the processes at the last reading
	readings []reading
}

// add keeps r. A process new to the tree counts from its start; one that
// left takes only its last part-interval with it.
func (h *history) add(r rawReading) {
	used := make([]float64, len(h.groups))
	for k, p := range r.procs {
		g := slices.Index(h.groups, p.group)
		if g < 0 {
			g = len(h.groups)
			h.groups = append(h.groups, p.group)
			used = append(used, 0)
		}
		used[g] += max(p.cpu-h.last[k].cpu, 0)
	}
	h.last = r.procs
	h.readings = append(h.readings, reading{at: r.at, busy: r.busy, total: r.total, waited: r.waited, used: used})
}

// Watch samples the machine and a process tree every interval until Stop.
// Its methods are for one goroutine (Stop and Over may follow each other
// in any order, any number of times).
type Watch struct {
	src   source
	stop  chan struct{}
	done  chan struct{}
	every time.Duration

	mu   sync.Mutex
	hist history
}

// Start watches the machine and the tree of processes rooted at root (root
// and its descendants, alive at each reading), every interval. group names
// the group a process of the tree counts in, from its command line. It
// fails where the system does not expose CPU times (/proc on Linux), and
// where the run may use fewer CPUs than the machine has (CPU affinity or a
// cgroup's CPU quota below them): the machine's figures would then flatter
// a storm starved of CPU.
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
	w.hist.add(r)
	w.mu.Unlock()
}

// Stop ends the sampling after one last reading. It is safe on a nil Watch
// and after an earlier Stop.
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
	return w.hist.over(w.src.cpus(), w.every/2, from, to)
}

// over computes Over. Intervals shorter than minLen (the last one, cut by
// Stop) count in the averages but not in the ranks: a few ticks make a
// share too coarse to rank.
func (h *history) over(cpus int, minLen time.Duration, from, to time.Time) (Load, bool) {
	rs := h.readings
	var shares []float64
	var secs, machine, waited, waitedSecs float64
	used := map[string]float64{}
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1], rs[i]
		if a.at.Before(from) || b.at.After(to) || b.total <= a.total {
			continue
		}
		// The share is what the CPUs were not idle of the interval's wall
		// time. The kernel measures idle time exactly but busy time by its
		// tick, which misses busy spells that start and end between two
		// ticks: in a storm's thousands of wake-ups a second, /proc/stat
		// counted 1.52 CPU-seconds a second of 2 (busy / total said 80%
		// busy, idle said 85%). Should the counters ever run ahead of the
		// wall clock instead, busy / total is the higher figure: the share
		// is the higher of the two. Clamped: the kernel's iowait can step
		// back, a share never leaves 0 … 1.
		dt := b.at.Sub(a.at)
		idle := (b.total - b.busy) - (a.total - a.busy)
		share := max(1-idle/(dt.Seconds()*float64(cpus)), (b.busy-a.busy)/(b.total-a.total))
		share = min(max(share, 0), 1)
		if dt >= minLen {
			shares = append(shares, share)
		}
		secs += dt.Seconds()
		machine += share * float64(cpus) * dt.Seconds()
		if a.waited >= 0 && b.waited >= a.waited {
			waited += b.waited - a.waited
			waitedSecs += dt.Seconds()
		}
		for g, c := range b.used {
			used[h.groups[g]] += c
		}
	}
	if len(shares) == 0 || secs <= 0 {
		return Load{}, false
	}
	slices.Sort(shares)
	rank := func(p float64) float64 { return shares[max(int(math.Ceil(p*float64(len(shares))))-1, 0)] }
	l := Load{CPUs: cpus, Intervals: len(shares), Busy: rank(0.9), Median: rank(0.5), Peak: shares[len(shares)-1],
		Groups: map[string]float64{}}
	tree := 0.0
	for g, c := range used {
		l.Groups[g] = c / secs
		tree += c / secs
	}
	l.Other = max(machine/secs-tree, 0)
	if waitedSecs > 0 {
		l.Waiting, l.HasWaiting = min(waited/waitedSecs, 1), true
	}
	return l, true
}
