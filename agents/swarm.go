package agents

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// Defaults of Config.
const (
	// DefaultDialTimeout bounds one connect (and TLS handshake).
	DefaultDialTimeout = 5 * time.Second
	// DefaultInterval is how often the recorder is rotated.
	DefaultInterval = time.Second
	// DefaultOpenMaxAgents caps the open model's agents when neither the
	// profile nor Config sets a maximum.
	DefaultOpenMaxAgents = 10000
	// maxConcurrentDials bounds the connects in flight: a storm that starts
	// 15,000 agents at once neither overflows the target's accept queue nor
	// holds 15,000 connect goroutines (8 KiB of stack each) at the peak.
	maxConcurrentDials = 256
	// StopGrace is how long agents get, once the run ends, to finish the
	// request they are waiting for; after it the remaining calls are cut
	// and not recorded.
	StopGrace = time.Second
)

// ErrUnreachable is returned by Run (wrapped) when not a single connection
// to the target could be opened.
var ErrUnreachable = errors.New("target unreachable")

// Config tunes a Swarm. The zero value runs the profile as written against
// the profile's own target.
type Config struct {
	// BaseURL, when set, receives every region's requests (overrides the
	// profile's target), e.g. "http://127.0.0.1:8080" or "https://shop.example/api".
	BaseURL string
	// RegionURLs maps a region to the base URLs serving it (the bundled
	// target's shards); used when BaseURL is empty, before the profile's own
	// target. An agent of the region keeps to one of them, chosen by its id.
	RegionURLs map[string][]string
	// Seed seeds every agent's random source together with its id, so two
	// runs with the same seed make the same choices.
	Seed uint64
	// Timeout, when > 0, replaces every step's own timeout.
	Timeout time.Duration
	// DialTimeout bounds one connect (default DefaultDialTimeout).
	DialTimeout time.Duration
	// MaxBodySize and MaxHeaderSize cap an answer's body and header in
	// bytes (defaults DefaultMaxBodySize, DefaultMaxHeaderSize); an answer
	// over a cap is recorded as body_too_large or header_too_large.
	MaxBodySize, MaxHeaderSize int
	// SourceAddrs are the local addresses agents dial from, round-robin by
	// agent id (for remote targets). Empty: for loopback targets the swarm
	// spreads agents over 127.0.0.2, 127.0.0.3, ...; otherwise the kernel
	// picks.
	SourceAddrs []net.IP
	// Insecure skips TLS certificate verification.
	Insecure bool
	// TLS, field by field, replaces the profile's target.tls (CA file,
	// client certificate, server name, minimum version) for https targets.
	TLS profiles.TLS
	// MaxAgents caps the agents alive at once (the closed model's level and
	// the open model's maximum); 0 means no cap beyond the profile's.
	MaxAgents int
	// Interval is how often the recorder is rotated (default DefaultInterval).
	Interval time.Duration
	// OnInterval, if set, is called from the rotation goroutine with every
	// rotated interval (and once more with the last, partial one when the
	// run ends) and the swarm's stats at that moment. iv is released back to
	// the recorder after OnInterval returns: do not keep it.
	OnInterval func(iv *report.Interval, st Stats)
	// OnAnswer, if set, is called on the agent's event loop after every
	// recorded attempt of a step (game-day audits: order ids, answer modes).
	// The Answer's Body and Context are only valid during the call. It
	// must be quick and never block: the loop runs thousands of agents and
	// waits for it. Nil costs nothing on the request path.
	OnAnswer func(a Answer)
	// Segment, when not the whole storm, runs only that segment's agents,
	// stage levels and arrivals (see Segment); the other segments run in
	// other processes with the same profile, seed and Start.
	Segment Segment
	// Loops is the number of event loops that run the agents (default
	// DefaultLoops of the swarm's peak). Run raises GOMAXPROCS to one more
	// than Loops if it is not already above.
	Loops int
	// Start, when set, is the storm's time zero: Run waits until then (for
	// segments started on several processes or hosts to share one clock)
	// and the stages run from it. A Start in the past starts at once, with
	// the stages as far along as the clock says. Make the recorder with
	// report.Options.Start set to the same time, so its first interval
	// starts there too.
	Start time.Time
}

// Answer is one recorded attempt of a step, for Config.OnAnswer.
type Answer struct {
	// Step is the step; StepID its recorder id; Region the agent's region id.
	Step           *profiles.Step
	StepID, Region int
	// BaseURL is the endpoint the agent sends to.
	BaseURL string
	// Status is the HTTP status (0 when there was no answer); Outcome the
	// recorded class; Body the answer's body (nil without an answer).
	Status  int
	Outcome report.Outcome
	Body    []byte
	// Context is the agent's template context (IdempotencyKey, Region, ...).
	Context *profiles.Context
}

// Stats is a snapshot of a running swarm, for the live line.
type Stats struct {
	// Elapsed is the time since Run started; Planned the profile's duration.
	Elapsed, Planned time.Duration
	// Active is the agents running (closed model) or in a session (open).
	Active int64
	// Agents is the agents alive (open model: busy and idle).
	Agents int64
	// Connected is the connections open now.
	Connected int64
	// Dials and DialErrors count connection attempts and their failures.
	Dials, DialErrors int64
	// Dropped is the open model's sessions that found no idle agent.
	Dropped int64
	// FullAt is when the connections open first reached MaxAgents (the
	// ramp's end, measured at the connect), since the start; 0 until then.
	FullAt time.Duration
	// HostConnections counts the connections opened to each host of a
	// profile with targets: ("target" for the profile's own); nil without.
	HostConnections map[string]int64
}

// Swarm runs one profile's agents against a target. Create it with New,
// run it once with Run.
type Swarm struct {
	cfg       Config
	prof      *profiles.Profile
	rec       *report.Recorder
	open      bool
	planned   time.Duration
	think     profiles.Think
	thinkMean time.Duration
	maxAgents int

	eps   [][]*endpoint // per region index: the endpoints serving it
	named []*endpoint   // the profile's targets: (see hosts.go)
	// hostConns counts the connections opened to each host of a
	// multi-host profile (index as agent.hosts).
	hostConns []atomic.Int64
	steps     map[*profiles.Step]stepInfo
	dialer    *dialer
	pool      *bufPool

	ran       atomic.Bool
	start     time.Time    // set by Run before any goroutine starts
	startNano atomic.Int64 // start, for readers outside Run
	stopped   atomic.Int64 // nanoseconds since start when the run ended; 0 while running
	halting   atomic.Bool  // set when the run ends (see agent.halted)
	aborting  atomic.Bool
	dialCtx   context.Context
	dialSem   chan struct{}  // a slot per connect in flight (goroutine transport; the loops count their own)
	loops     []*loop        // the event loops, one per core; agent id picks its loop
	wg        sync.WaitGroup // an agent started and not yet left

	active, agents, connected  atomic.Int64
	dials, dialErrors, dropped atomic.Int64
	fullAt                     atomic.Int64 // nanoseconds since start when connected first reached maxAgents
	everConnected              atomic.Bool

	mu     sync.Mutex
	all    []*agent // every agent ever created, by id
	free   []int    // closed model: ids of agents that stopped and exited
	failMu sync.Mutex
	// bodyCapKind and headerCapKind name the answer caps in Failures.
	bodyCapKind, headerCapKind string
	fails                      map[failKey]int64
}

// New prepares a swarm for prof that records into rec. rec should be made
// with RecorderOptions(prof) so its step and region ids match.
func New(cfg Config, prof *profiles.Profile, rec *report.Recorder) (*Swarm, error) {
	if prof == nil || rec == nil {
		return nil, errors.New("agents: New needs a profile and a recorder")
	}
	if len(prof.Flows) == 0 {
		return nil, fmt.Errorf("profile %s has no flows", prof.Name)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	if cfg.MaxHeaderSize <= 0 {
		cfg.MaxHeaderSize = DefaultMaxHeaderSize
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if err := cfg.Segment.Validate(); err != nil {
		return nil, err
	}
	s := &Swarm{
		bodyCapKind:   fmt.Sprintf("body over the %s cap (--max-body-size)", byteSize(cfg.MaxBodySize)),
		headerCapKind: fmt.Sprintf("header over the %s cap (--max-header-size)", byteSize(cfg.MaxHeaderSize)),
		cfg:           cfg,
		prof:          prof,
		rec:           rec,
		open:          prof.Workload.Model == profiles.Open,
		planned:       prof.Workload.Duration(),
		think:         prof.Workload.Think,
		dialSem:       make(chan struct{}, maxConcurrentDials),
		steps:         make(map[*profiles.Step]stepInfo),
		fails:         make(map[failKey]int64),
	}
	s.thinkMean = thinkMean(s.think)
	if s.planned <= 0 {
		return nil, fmt.Errorf("profile %s: the workload's stages last 0 s", prof.Name)
	}
	names := rec.Steps()
	for _, f := range prof.Flows {
		for _, st := range f.Steps {
			id := slices.Index(names, st.Name)
			if id < 0 {
				return nil, fmt.Errorf("recorder has no step %q: make it with agents.RecorderOptions(profile)", st.Name)
			}
			timeout := st.Timeout
			if cfg.Timeout > 0 {
				timeout = cfg.Timeout
			}
			if timeout <= 0 {
				timeout = defaultStepTimeout
			}
			s.steps[st] = stepInfo{id: id, timeout: timeout}
		}
	}
	regions := prof.Population.Regions()
	if got := rec.Regions(); len(regions) > 0 && len(got) != len(regions) {
		return nil, fmt.Errorf("recorder has %d regions, profile %d: make it with agents.RecorderOptions(profile)", len(got), len(regions))
	}
	if len(regions) == 0 {
		regions = []string{"default"}
	}
	for _, r := range regions {
		var raws []string
		switch {
		case cfg.BaseURL != "":
			raws = []string{cfg.BaseURL}
		case len(cfg.RegionURLs[r]) > 0:
			raws = cfg.RegionURLs[r]
		case prof.Target.URLFor(r) != "":
			raws = []string{prof.Target.URLFor(r)}
		default:
			return nil, fmt.Errorf("no target URL for region %q (give a target URL, or run against the bundled target)", r)
		}
		var eps []*endpoint
		for _, raw := range raws {
			ep, err := parseEndpoint(raw, cfg.Insecure)
			if err == nil {
				err = ep.applyTLS(prof.Target.TLS.Over(cfg.TLS), cfg.Insecure)
			}
			if err != nil {
				return nil, fmt.Errorf("region %s: %w", r, err)
			}
			eps = append(eps, ep)
		}
		s.eps = append(s.eps, eps)
	}
	named, err := parseNamedTargets(prof.Targets, cfg.Insecure)
	if err != nil {
		return nil, err
	}
	s.named = named
	if len(s.named) > 0 {
		s.hostConns = make([]atomic.Int64, 1+len(s.named))
	}
	s.maxAgents = prof.Workload.Peak()
	if s.open {
		s.maxAgents = MaxOpenAgents(prof.Workload)
	}
	// Source addresses are spread by global id over the whole storm's
	// agents, so segments on one machine never crowd one address.
	stormAgents := s.maxAgents
	s.maxAgents = cfg.Segment.Share(s.maxAgents)
	if cfg.MaxAgents > 0 && s.maxAgents > cfg.MaxAgents {
		s.maxAgents = cfg.MaxAgents
	}
	if s.maxAgents < 1 {
		s.maxAgents = 1
	}
	s.dialer = newDialer(cfg.DialTimeout, max(stormAgents, s.maxAgents), cfg.SourceAddrs)
	s.pool = newBufPool(readBufSize, maxPooledBufs)
	return s, nil
}

// MaxOpenAgents is the most agents an open-model workload has alive at
// once: its max_agents, else the peak for in-flight levels (a session in
// flight holds an agent), else DefaultOpenMaxAgents.
func MaxOpenAgents(w profiles.Workload) int {
	switch {
	case w.MaxAgents > 0:
		return w.MaxAgents
	case w.TargetsInFlight():
		return w.Peak()
	}
	return DefaultOpenMaxAgents
}

// RecorderOptions returns the recorder options matching prof: its step
// names (unique, in flow order), regions, which steps write, and the model.
func RecorderOptions(prof *profiles.Profile) report.Options {
	var o report.Options
	seen := map[string]bool{}
	for _, f := range prof.Flows {
		for _, st := range f.Steps {
			if seen[st.Name] {
				continue
			}
			seen[st.Name] = true
			o.Steps = append(o.Steps, st.Name)
			switch strings.ToUpper(st.Method) {
			case "POST", "PUT", "PATCH", "DELETE":
				o.Writes = append(o.Writes, true)
			default:
				o.Writes = append(o.Writes, false)
			}
		}
	}
	if prof.Population != nil {
		o.Regions = append(o.Regions, prof.Population.Regions()...)
	}
	o.Model = report.ModelClosed
	if prof.Workload.Model == profiles.Open {
		o.Model = report.ModelOpen
	}
	return o
}

// MaxAgents returns the most agents the swarm will have alive at once.
func (s *Swarm) MaxAgents() int { return s.maxAgents }

// Stats returns a snapshot of the swarm's counters. Safe to call at any time.
func (s *Swarm) Stats() Stats {
	return Stats{
		Elapsed:         s.Elapsed(),
		Planned:         s.planned,
		Active:          s.active.Load(),
		Agents:          s.agents.Load(),
		Connected:       s.connected.Load(),
		Dials:           s.dials.Load(),
		DialErrors:      s.dialErrors.Load(),
		Dropped:         s.dropped.Load(),
		FullAt:          time.Duration(s.fullAt.Load()),
		HostConnections: s.hostConnections(),
	}
}

// hostConnections is Stats.HostConnections.
func (s *Swarm) hostConnections() map[string]int64 {
	if len(s.hostConns) == 0 {
		return nil
	}
	m := make(map[string]int64, len(s.hostConns))
	for i := range s.hostConns {
		m[s.hostName(i)] = s.hostConns[i].Load()
	}
	return m
}

// Elapsed returns how long the run has run (until it stopped, once it has).
func (s *Swarm) Elapsed() time.Duration {
	st := s.startNano.Load()
	if st == 0 {
		return 0
	}
	if e := s.stopped.Load(); e > 0 {
		return time.Duration(e)
	}
	return time.Since(time.Unix(0, st))
}

// Failure is one kind of failed check of one step, for Failures.
type Failure struct {
	// Step is the step's name.
	Step string
	// Kind is "status", "json:PATH", "body", "capture", or "skipped:NAME
	// unset" when a session ended before a step whose variable an earlier
	// capture failed to set.
	Kind string
	// Status is the answer's status code.
	Status int
	// Count is how many answers failed this way.
	Count int64
}

// failKey keys the failure counts; lookups with it do not allocate.
type failKey struct {
	step   int
	kind   string
	status int
}

// Failures returns the failed checks counted by step, kind and status,
// most frequent first.
func (s *Swarm) Failures() []Failure {
	names := s.rec.Steps()
	s.failMu.Lock()
	out := make([]Failure, 0, len(s.fails))
	for k, v := range s.fails {
		out = append(out, Failure{Step: names[k.step], Kind: k.kind, Status: k.status, Count: v})
	}
	s.failMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Step != out[j].Step {
			return out[i].Step < out[j].Step
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

func (s *Swarm) countFailure(step int, kind string, status int) {
	s.failMu.Lock()
	s.fails[failKey{step, kind, status}]++
	s.failMu.Unlock()
}

// Run runs the workload until its stages end or ctx is cancelled, then
// stops the agents (each gets StopGrace to finish the request it waits for)
// and rotates the recorder a last time. It returns an error wrapping
// ErrUnreachable when no connection could ever be opened; a cancelled ctx is
// not an error (what was recorded is summarised as for a normal end).
func (s *Swarm) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("agents: Run called twice on one Swarm")
	}
	s.prefill(s.cfg.Start)
	defer s.closeSpares() // after the loops stop (deferred below)
	if st := s.cfg.Start; !st.IsZero() {
		if d := time.Until(st); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		s.start = st
	} else {
		s.start = time.Now()
	}
	s.startNano.Store(s.start.UnixNano())
	var loopsDone sync.WaitGroup
	if err := s.startLoops(&loopsDone); err != nil {
		return err
	}
	defer func() {
		for _, l := range s.loops {
			l.stop()
		}
		loopsDone.Wait()
	}()
	runCtx, cancelRun := context.WithDeadline(ctx, s.start.Add(s.planned))
	defer cancelRun()
	dialCtx, cancelDial := context.WithCancel(context.Background())
	defer cancelDial()
	s.dialCtx = dialCtx

	rotDone := make(chan struct{})
	rotStop := make(chan struct{})
	go s.rotate(rotStop, rotDone)

	switch {
	case s.prof.Workload.TargetsInFlight():
		s.track(runCtx)
	case s.open:
		s.schedule(runCtx)
	default:
		s.control(runCtx)
	}
	s.stopped.Store(int64(time.Since(s.start)))
	s.halting.Store(true)
	s.mu.Lock()
	for _, a := range s.all {
		if a != nil && a.l != nil { // a prefilled agent never started has no loop
			a.wake() // a pause ends; an idle open-model agent leaves
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(StopGrace):
		s.abort()
		cancelDial()
		<-done
	}
	close(rotStop)
	<-rotDone
	s.rec.SetActiveAgents(0)
	iv := s.rec.Rotate(time.Now())
	if s.cfg.OnInterval != nil {
		s.cfg.OnInterval(iv, s.Stats())
	}
	s.rec.Release(iv)
	if !s.everConnected.Load() && s.dials.Load() > 0 {
		return fmt.Errorf("%w: %d connection attempts, none succeeded", ErrUnreachable, s.dials.Load())
	}
	return nil
}

// rotate rotates the recorder every Interval until stop is closed.
func (s *Swarm) rotate(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.rec.SetActiveAgents(int(s.active.Load()))
			iv := s.rec.Rotate(now)
			if s.cfg.OnInterval != nil {
				s.cfg.OnInterval(iv, s.Stats())
			}
			s.rec.Release(iv)
		}
	}
}

// DefaultLoops is the number of event loops a swarm of agents (its peak)
// runs when Config.Loops is 0. A swarm of more than fewAgents runs one loop
// per two cores (GOMAXPROCS, at most the CPUs), at least one: at agent-like load (each
// connection idle most of the time) every loop sleeps and wakes on its own,
// so fewer, busier loops batch more events per wake-up (on two cores,
// 15,000 agents at 0.5 req/s each cost 36 µs of CPU per request on one loop
// and 48 µs on two). A smaller swarm runs one loop per core: its agents are
// few because each is busy (a saturation test), and one loop then is the
// bottleneck (256 agents, no think time, two cores: one loop served
// 55–59k req/s and left 10% of the CPU idle, two served 64k, as wrk).
func DefaultLoops(agents int) int {
	// At most the CPUs: a swarm raises GOMAXPROCS past its loops (see
	// startLoops), and a later swarm in the process must not count that.
	procs := min(runtime.GOMAXPROCS(0), runtime.NumCPU())
	if agents <= fewAgents {
		return procs
	}
	return max(procs/2, 1)
}

// fewAgents is the most agents a swarm runs one loop per core for.
const fewAgents = 2048

// startLoops starts the event loops, each allowed its share of
// maxConcurrentDials connects in flight.
func (s *Swarm) startLoops(done *sync.WaitGroup) error {
	n := s.cfg.Loops
	if n <= 0 {
		n = DefaultLoops(s.maxAgents)
	}
	// A loop keeps its processor (P) busy, and the swarm's other goroutines
	// (the open model's scheduler, the recorder, the collector) need one
	// too: with as many loops as processors, a loop back from epoll_wait
	// could wait up to the runtime's 10 ms slice for a P (two loops on two,
	// open model at 2,000 sessions/s against a 20 ms server: p99 31–33 ms;
	// with a third P 21.5–21.7; bench/RESULTS.md, session 10).
	if runtime.GOMAXPROCS(0) <= n {
		runtime.GOMAXPROCS(n + 1)
	}
	for range n {
		l, err := newLoop(s, maxConcurrentDials/n)
		if err != nil {
			for _, l := range s.loops {
				l.p.close()
			}
			s.loops = nil
			return fmt.Errorf("start event loop: %w", err)
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		done.Add(1)
		go l.run(done)
	}
	return nil
}

// abort cuts every call still in flight; their outcomes are not recorded.
// The loops close their agents' sockets; goroutine-transport connections
// get a deadline in the past.
func (s *Swarm) abort() {
	s.aborting.Store(true)
	for _, l := range s.loops {
		l.post(command{kind: cmdAbort})
	}
	past := time.Unix(1, 0)
	s.mu.Lock()
	all := s.all
	s.mu.Unlock()
	for _, a := range all {
		if a == nil {
			continue
		}
		for _, g := range a.goConns() {
			g.mu.Lock()
			if g.c != nil {
				_ = g.c.SetDeadline(past)
			}
			g.mu.Unlock()
		}
	}
}

// agentFor returns agent id, creating it on first use.
func (s *Swarm) agentFor(id int) *agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.all) <= id {
		s.all = append(s.all, nil)
	}
	a := s.all[id]
	if a == nil {
		a = newAgent(s, id)
		s.all[id] = a
	}
	if a.l == nil {
		a.l = s.loops[id%len(s.loops)]
	}
	return a
}

// prefill makes the agents of the closed model's peak before the storm
// starts, so that its ramp only starts them: making one (its random source,
// customer and variables, and the page faults of its memory) was a
// twentieth of a generator's CPU in the default storm's connect storm, when
// the machine has none to spare. An agent made early is the same agent (its
// random source is seeded by its id). Each also gets the socket of its
// first connect, options set and source bound (openSpare): the connect
// itself, all the target sees, still happens when the agent starts, and the
// system calls before it were two fifths of the generator's connect. It
// stops at by, the start (zero: no limit); closeSpares closes the sockets
// left unused.
func (s *Swarm) prefill(by time.Time) {
	if s.open || s.prof.Workload.TargetsInFlight() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := len(s.all); id < s.maxAgents; id++ {
		if id%256 == 0 && !by.IsZero() && !time.Now().Before(by) {
			return
		}
		a := newAgent(s, id)
		a.openSpare()
		s.all = append(s.all, a)
	}
}

// closeSpares closes the sockets prefill opened that no connect took (agents
// never started). It runs once the loops are done.
func (s *Swarm) closeSpares() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.all {
		if a != nil && a.spare >= 0 {
			sysClose(int(a.spare))
			a.spare = -1
		}
	}
}

// control is the closed model: it keeps round(LevelAt(t)) agents running,
// starting agents as the level rises and asking the newest to stop (after
// their current request) as it falls.
func (s *Swarm) control(ctx context.Context) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var running []*agent // oldest first
	next := 0
	for {
		lvl := int(math.Round(s.prof.Workload.LevelAt(time.Since(s.start))))
		lvl = min(s.cfg.Segment.Share(lvl), s.maxAgents)
		for len(running) < lvl {
			id := -1
			s.mu.Lock()
			if n := len(s.free); n > 0 {
				id = s.free[n-1]
				s.free = s.free[:n-1]
			}
			s.mu.Unlock()
			if id < 0 {
				id = next
				next++
			}
			a := s.agentFor(id)
			a.stopping.Store(false)
			running = append(running, a)
			s.active.Add(1)
			s.agents.Add(1)
			s.wg.Add(1)
			a.l.post(command{kind: cmdStart, a: a})
		}
		for len(running) > lvl {
			a := running[len(running)-1]
			a.stopping.Store(true)
			a.wake()
			running = running[:len(running)-1]
			s.active.Add(-1)
		}
		select {
		case <-ctx.Done():
			s.active.Store(0)
			return
		case <-tick.C:
		}
	}
}

// arrivals generates the open model's intended session start times (as
// offsets from the start) from the stages' rate, integrating the rate so a
// ramp's arrivals follow it exactly.
type arrivals struct {
	w   profiles.Workload
	end time.Duration
	t   time.Duration
	acc float64 // sessions accumulated since the last arrival, in [0, 1)
	seg Segment // only this segment's arrivals are returned
	k   int     // arrivals of the whole storm generated so far
}

// next returns this segment's next arrival, or false when the plan has
// ended. Every segment generates the whole storm's schedule and keeps
// arrival k when k % Count == Index, so the segments add up to the plan.
func (g *arrivals) next() (time.Duration, bool) {
	for {
		t, ok := g.nextAll()
		if !ok {
			return 0, false
		}
		k := g.k
		g.k++
		if g.seg.Owns(k) {
			return t, true
		}
	}
}

// nextAll returns the whole storm's next arrival.
func (g *arrivals) nextAll() (time.Duration, bool) {
	const slot = time.Millisecond
	for g.t < g.end {
		slotEnd := min(g.t-g.t%slot+slot, g.end)
		rate := g.w.LevelAt(g.t)
		avail := rate * (slotEnd - g.t).Seconds()
		if need := 1 - g.acc; rate > 0 && avail >= need {
			g.t += time.Duration(need / rate * float64(time.Second))
			g.acc = 0
			return g.t, true
		}
		g.acc += avail
		g.t = slotEnd
	}
	return 0, false
}

// earlyStart is how much before its intended instant the open model may start
// a session: the Go runtime's timer granularity when idle.
const earlyStart = time.Millisecond

// schedule is the open model with per-second levels (track runs in-flight
// ones): it starts sessions at the planned rate on idle
// agents (creating agents up to the maximum); a session due when none is
// free is recorded as dropped. Lateness never slows the schedule: every
// session keeps its intended start time.
func (s *Swarm) schedule(ctx context.Context) {
	idle := make(chan *agent, s.maxAgents)
	gen := arrivals{w: s.prof.Workload, end: s.planned, seg: s.cfg.Segment}
	rng := rand.New(rand.NewPCG(s.cfg.Seed, math.MaxUint64-uint64(s.cfg.Segment.Index)))
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	spawned := 0
	for {
		off, ok := gen.next()
		if !ok {
			<-ctx.Done()
			return
		}
		at := s.start.Add(off)
		// Wake up to earlyStart before the intended start: an idle Go
		// runtime's timers fire up to a millisecond late (its poller sleeps
		// in whole milliseconds), and since a session's latency runs from its
		// intended start, that lateness would be in every figure. A session
		// that starts early is timed from its actual send instead.
		if d := time.Until(at) - earlyStart; d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		select {
		case a := <-idle:
			a.l.post(command{kind: cmdWork, a: a, at: at})
		default:
			if spawned < s.maxAgents {
				a := s.agentFor(spawned)
				spawned++
				a.idle = idle
				s.agents.Add(1)
				s.wg.Add(1)
				a.l.post(command{kind: cmdWork, a: a, at: at})
			} else {
				s.dropSession(rng)
			}
		}
	}
}

// dropSession records an open-model session that found no idle agent,
// under the first step of a flow and a region drawn from rng as an agent
// would have drawn them.
func (s *Swarm) dropSession(rng *rand.Rand) {
	f := s.prof.PickFlow(rng)
	region := 0
	if s.prof.Population != nil && len(s.prof.Population.Regions()) > 0 {
		region, _ = s.prof.Population.PickRegion(rng)
	}
	s.rec.RecordDropped(s.steps[f.Steps[0]].id, region)
	s.dropped.Add(1)
}

// defaultStepTimeout bounds a request whose step sets no timeout (and
// Config.Timeout is not given).
const defaultStepTimeout = 10 * time.Second

// stepInfo is what a swarm works out once per step rather than per request.
type stepInfo struct {
	id      int           // the recorder's step id
	timeout time.Duration // per attempt: Config.Timeout, else the step's, else defaultStepTimeout
}

// thinkMean is the mean of a think-time distribution.
func thinkMean(t profiles.Think) time.Duration {
	switch t.Kind {
	case profiles.ThinkConstant:
		return t.Min
	case profiles.ThinkUniform:
		if t.Max <= t.Min {
			return t.Min
		}
		return (t.Min + t.Max) / 2
	case profiles.ThinkExponential:
		return t.Mean
	}
	return 0
}

// byteSize formats n bytes as KiB or MiB when it is a whole number of them.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
