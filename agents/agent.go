package agents

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// Redial backoff after a failed connect: it doubles from minBackoff up to
// maxBackoff, with jitter from the agent's random source.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

var errAborted = errors.New("call cut at the end of the run")

// agent is one simulated shopper: its identity, variables, random source
// and its own keep-alive connection. Through a pause it holds no buffers.
type agent struct {
	s      *Swarm
	id     int // local number in this process (index of Swarm.all)
	gid    int // storm-wide id (Segment.GlobalID(id)): seeds, customer, endpoint, source address
	region int
	ep     *endpoint
	pcg    rand.PCG
	rng    *rand.Rand
	c      profiles.Context

	mu   sync.Mutex // guards conn against abort()
	conn net.Conn
	tc   trackedConn
	uses int // answers read on conn

	ewma      time.Duration // moving average of the service time
	backoff   time.Duration
	nextDial  time.Time
	timer     *time.Timer // think and backoff pauses; wake fires it early
	cb        *callBufs   // call buffers, held only between back-to-back calls
	needThink bool

	stopping atomic.Bool    // closed model: stop after the current request (see wake)
	work     chan time.Time // open model: intended start of the next session; closed when the run ends
	idle     chan<- *agent  // open model: where the agent waits for work
}

func newAgent(s *Swarm, id int) *agent {
	gid := s.cfg.Segment.GlobalID(id)
	a := &agent{s: s, id: id, gid: gid}
	a.pcg.Seed(s.cfg.Seed, uint64(gid))
	a.rng = rand.New(&a.pcg)
	pop := s.prof.Population
	if pop != nil && len(pop.Regions()) > 0 {
		a.region, a.c.Region = pop.PickRegion(a.rng)
		a.c.Customer = pop.Customer(gid)
	}
	eps := s.eps[a.region]
	a.ep = eps[gid%len(eps)]
	a.c.RegionIndex = a.region
	a.c.PathPrefix = a.ep.prefix
	a.c.AgentID = gid
	a.c.Rand = a.rng
	a.c.Vars = s.prof.NewVars()
	a.timer = time.NewTimer(time.Hour)
	a.timer.Stop()
	return a
}

// wake cuts the agent's pause short, if it is in one, after its stopping
// flag or the swarm's halting flag was set: sleep waits on the timer alone
// (a one-channel receive, cheaper than a select with the stop channels on
// every think time), so a stop fires the timer. Safe from any goroutine.
func (a *agent) wake() { a.timer.Reset(0) }

// halted reports whether the run has ended or this agent was asked to stop.
// (Atomic flags: cheaper than a select on every request; wake cuts a pause
// short once either is set.)
func (a *agent) halted() bool {
	return a.s.halting.Load() || a.stopping.Load()
}

// runClosed is the closed model's loop: sessions back to back, think time
// between requests, until stop or the end of the run.
func (a *agent) runClosed(wg *sync.WaitGroup) {
	defer func() {
		a.releaseBufs()
		a.closeConn()
		a.s.agents.Add(-1)
		a.s.mu.Lock()
		a.s.free = append(a.s.free, a.id)
		a.s.mu.Unlock()
		wg.Done()
	}()
	// Connect at once, so a ramp shows connected agents; a failure is
	// retried (and recorded) by the first request.
	if a.conn == nil {
		_ = a.dial(time.Now().Add(a.s.cfg.DialTimeout))
	}
	a.needThink = false
	for !a.halted() {
		a.session(time.Time{})
	}
}

// runOpen is the open model's loop: wait for a session, run it, go back to
// the idle queue.
func (a *agent) runOpen(wg *sync.WaitGroup) {
	defer func() {
		a.releaseBufs()
		a.closeConn()
		a.s.agents.Add(-1)
		wg.Done()
	}()
	for at := range a.work { // Run closes work when the run ends
		a.s.active.Add(1)
		a.needThink = false
		a.session(at)
		a.s.active.Add(-1)
		a.releaseBufs()
		if a.halted() {
			return
		}
		a.idle <- a // never blocks: the queue holds every agent
	}
}

// session runs one flow. intended is the session's scheduled start (open
// model; zero in the closed model): the first request's latency runs from it.
func (a *agent) session(intended time.Time) {
	s := a.s
	flow := s.prof.PickFlow(a.rng)
	a.c.Session++
	a.c.Vars.Reset()
	if pop := s.prof.Population; pop != nil && pop.Addresses() > 0 {
		a.c.Address = pop.PickAddress(a.rng)
	}
	for _, step := range flow.Steps {
		info := s.steps[step]
		n := step.Repeat.Count(a.rng)
		perms := max(step.Permutations, 1)
		for it := 0; it < n; it++ {
			for p := 0; p < perms; p++ {
				// An earlier capture failed (its step timed out or answered
				// an error): end the session rather than send a request
				// with an empty value, such as /v1/carts//items.
				if name := step.Unset(&a.c); name != "" {
					s.countFailure(info.id, "skipped:"+name+" unset", 0)
					return
				}
				if a.needThink {
					if !a.sleep(s.think.Sample(a.rng)) {
						return
					}
				}
				a.needThink = true
				if a.halted() {
					return
				}
				a.c.Iteration, a.c.Perm = it, p
				a.c.StartExecution()
				a.execute(info, step, intended)
				intended = time.Time{}
			}
		}
	}
}

// sleep waits d unless the agent is stopped first; it reports whether the
// agent should go on.
func (a *agent) sleep(d time.Duration) bool {
	if d <= 0 {
		return !a.halted()
	}
	a.releaseBufs() // nothing is held through a pause
	a.timer.Reset(d)
	// A wake that came before this Reset was undone by it, but its flag
	// was set before: look again.
	if a.halted() {
		a.timer.Stop()
		return false
	}
	<-a.timer.C
	return !a.halted()
}

// execute runs one execution of a step: the first attempt and the retries
// the step's policy allows, each recorded with its outcome.
func (a *agent) execute(info stepInfo, step *profiles.Step, intended time.Time) {
	s := a.s
	stepID, timeout := info.id, info.timeout
	for attempt := 0; ; attempt++ {
		if !a.waitRedial() {
			return
		}
		sent := time.Now()
		from := sent
		if attempt == 0 && !intended.IsZero() && intended.Before(sent) {
			from = intended
		}
		class, status := a.call(stepID, step, sent.Add(timeout), timeout)
		if class == classAborted {
			return
		}
		now := time.Now()
		var expected time.Duration
		if !s.open {
			expected = s.thinkMean + a.ewma
			if class.answered() { // timeouts and failures say nothing of the usual pace
				svc := now.Sub(sent)
				if a.ewma == 0 {
					a.ewma = svc
				} else {
					a.ewma += (svc - a.ewma) / 8
				}
			}
			if expected <= 0 {
				expected = now.Sub(sent)
			}
		}
		outcome := class.outcome()
		s.rec.Record(a.id, stepID, a.region, now.Sub(from), outcome, expected)
		if s.cfg.OnAnswer != nil {
			ans := Answer{Step: step, StepID: stepID, Region: a.region, BaseURL: a.ep.raw, Status: status, Outcome: outcome, Context: &a.c}
			if class.answered() && a.cb != nil {
				ans.Body = a.cb.resp.Body()
			}
			s.cfg.OnAnswer(ans)
		}
		if attempt >= step.Retry.Max {
			return
		}
		retry := (step.Retry.On5xx && status >= 500) ||
			(step.Retry.OnTimeout && (class == classTimeout || class == classRefused || class == classReset))
		if !retry {
			return
		}
		if !a.sleep(step.Retry.Backoff << attempt) {
			return
		}
	}
}

// classAborted marks a call cut by the end of the run: not recorded.
const classAborted errClass = 255

// answered reports whether the class is an answer from the target.
func (c errClass) answered() bool {
	return c == classOK || c == classBadStatus || c == classExpectFailed
}

// outcome maps a class to the recorder's outcome.
func (c errClass) outcome() report.Outcome {
	switch c {
	case classOK:
		return report.OK
	case classBadStatus:
		return report.BadStatus
	case classExpectFailed:
		return report.ExpectFailed
	case classRefused:
		return report.ConnRefused
	case classReset:
		return report.ConnReset
	case classTimeout:
		return report.Timeout
	case classDNS:
		return report.DNS
	case classTLS:
		return report.TLS
	}
	return report.OtherError
}

// releaseBufs gives the agent's call buffers back to the pool.
func (a *agent) releaseBufs() {
	if a.cb != nil {
		a.s.pool.put(a.cb)
		a.cb = nil
	}
}

// waitRedial waits out the redial backoff after a failed connect; it
// reports whether the agent should go on.
func (a *agent) waitRedial() bool {
	if a.conn != nil || a.nextDial.IsZero() {
		return true
	}
	return a.sleep(time.Until(a.nextDial))
}

// call sends one request of step on the agent's connection (dialling if
// needed) and reads the answer, checking expectations and applying captures.
func (a *agent) call(stepID int, step *profiles.Step, deadline time.Time, timeout time.Duration) (errClass, int) {
	s := a.s
	if a.conn == nil {
		if err := a.dial(deadline); err != nil {
			if s.aborting.Load() {
				return classAborted, 0
			}
			return classify(err), 0
		}
	}
	// Buffers are borrowed for the call and kept only while the agent goes
	// straight on to its next request (no think time); sleep gives them back.
	cb := a.cb
	if cb == nil {
		cb = s.pool.get()
		a.cb = cb
	}
	cb.w = step.AppendRequest(cb.w[:0], a.ep.host, &a.c)
	slack := timeout / 16
	readAny, err := exchange(&a.tc, cb, cb.w, deadline, slack)
	if err != nil && a.uses > 0 && !readAny && classify(err) == classReset && !s.aborting.Load() && time.Now().Before(deadline) {
		// The server closed the kept-alive connection while we were
		// thinking: that is not the target failing. Redial once and resend.
		a.closeConn()
		if derr := a.dial(deadline); derr != nil {
			return classify(derr), 0
		}
		_, err = exchange(&a.tc, cb, cb.w, deadline, slack)
	}
	if err != nil {
		a.closeConn()
		if s.aborting.Load() {
			return classAborted, 0
		}
		return classify(err), 0
	}
	a.uses++
	status := cb.resp.StatusCode()
	body := cb.resp.Body()
	class := classOK
	if ok, failure := step.Check(status, body); !ok {
		class = classExpectFailed
		if failure == "status" {
			class = classBadStatus
		}
		s.countFailure(stepID, failure, status)
	} else if len(step.Captures) > 0 {
		if err := step.Capture(body, cb.peek, &a.c); err != nil {
			class = classExpectFailed
			s.countFailure(stepID, "capture", status)
		}
	}
	if cb.resp.ConnectionClose() {
		a.closeConn()
	}
	return class, status
}

// dial opens the agent's connection. A failure sets the redial backoff.
func (a *agent) dial(deadline time.Time) error {
	s := a.s
	s.dials.Add(1)
	// Dial on a short-lived goroutine: the connect path needs an 8 KiB
	// stack, and the agent's own goroutine would keep that size for the
	// whole run; the request path fits in 4 KiB.
	type result struct {
		c   net.Conn
		err error
	}
	select { // at most maxConcurrentDials at once (see Swarm.dialSem)
	case s.dialSem <- struct{}{}:
	case <-s.dialCtx.Done():
		return errAborted
	}
	ch := make(chan result, 1)
	go func() {
		defer func() { <-s.dialSem }()
		ctx, cancel := context.WithDeadline(s.dialCtx, deadline)
		c, err := s.dialer.dial(ctx, a.ep, a.gid)
		cancel()
		ch <- result{c, err}
	}()
	r := <-ch
	c, err := r.c, r.err
	if err != nil {
		s.dialErrors.Add(1)
		if a.backoff == 0 {
			a.backoff = minBackoff
		} else {
			a.backoff = min(2*a.backoff, maxBackoff)
		}
		jitter := time.Duration(a.rng.Int64N(int64(a.backoff)/2 + 1))
		a.nextDial = time.Now().Add(a.backoff/2 + jitter)
		return err
	}
	a.mu.Lock()
	if s.aborting.Load() {
		a.mu.Unlock()
		c.Close()
		return errAborted
	}
	a.conn = c
	a.tc.reset(c)
	a.mu.Unlock()
	a.uses = 0
	a.backoff = 0
	a.nextDial = time.Time{}
	if s.connected.Add(1) == int64(s.maxAgents) {
		s.fullAt.CompareAndSwap(0, int64(time.Since(s.start)))
	}
	s.rec.AddConnections(1)
	s.everConnected.Store(true)
	return nil
}

// closeConn closes the agent's connection (linger 0: no TIME_WAIT).
func (a *agent) closeConn() {
	a.mu.Lock()
	c := a.conn
	a.conn = nil
	a.tc.reset(nil)
	a.mu.Unlock()
	if c != nil {
		c.Close()
		a.s.connected.Add(-1)
	}
}
