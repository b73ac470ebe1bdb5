package agents

import (
	"errors"
	"math/rand/v2"
	"net/http/cookiejar"
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

// phase is what an agent waits for.
type phase uint8

const (
	phOff     phase = iota // not running: not started, idle between open-model sessions, or left
	phNext                 // closed model: queued to start its next session
	phConnect              // closed model: its first connect, before its first session; timer: dial timeout
	phThink                // timer: the think time before the next execution
	phRedial               // timer: the redial backoff before an attempt
	phBackoff              // timer: the retry backoff before the next attempt
	phDial                 // a connect in flight, or waiting for a connect slot; timer: its deadline
	phCall                 // the request is being written or the answer read; timer: the deadline
	phGoCall               // a goroutine runs the call (goroutine transport: TLS)
)

// agent is one simulated shopper: its identity, variables, random source
// and its own keep-alive connection, run as a state machine by its event
// loop (every field but the flags below is the loop's alone). Through a
// pause it holds no buffers: an idle agent is its socket and this struct.
type agent struct {
	s      *Swarm
	l      *loop
	id     int // local number in this process (index of Swarm.all)
	gid    int // storm-wide id (Segment.GlobalID(id)): seeds, customer, endpoint, source address
	region int
	ep     *endpoint
	pcg    rand.PCG
	rng    *rand.Rand
	c      profiles.Context

	phase     phase
	alive     bool // started and not left
	inSession bool // open model: counted in Swarm.active
	queued    bool // in the loop's ready list
	needThink bool
	hidx      int32  // index in the loop's timer heap, -1 when no timer is there
	inWheel   bool   // the agent's timer is in the loop's think wheel
	wnext     *agent // the next agent of its think-wheel slot (see thinkWheel)
	wslot     int32  // the think-wheel slot its timer is in, while inWheel

	// The event-loop connection: its socket (-1: none), the socket's tag
	// (see loop.event) and the call's buffers and answer framing.
	fd         int
	spare      int32 // a socket opened for the first connect (see openSpare), -1: none
	seq        uint32
	connecting bool // a connect is in flight on fd
	slot       bool // holds one of the loop's connect slots (see dial)
	dialQueued bool // waiting in loop.dialWait
	uses       int  // answers read on the connection
	cb         *callBuf
	g          *goConn        // the goroutine transport's connection (https; set at creation, nil for the poller)
	jar        *cookiejar.Jar // the session's cookies (see cookies.go); nil until a Set-Cookie arrives
	hops       int            // redirects followed in this attempt (see redirect.go)
	hop        []byte         // the next hop's request
	hosts      []hostConn     // multi-host profiles: the agent's target, then targets: (see hosts.go); nil otherwise
	hostID     int            // the index in hosts of the host the calls go to

	ewma     time.Duration // moving average of the service time
	backoff  time.Duration
	nextDial time.Time

	// Where the agent is in its session: the flow, the step (index si),
	// its repeat count n and iteration it, its permutation perm of perms,
	// and the attempt of the current execution.
	flow        *profiles.Flow
	si          int
	step        *profiles.Step
	info        stepInfo
	n, it       int
	perms, perm int
	attempt     int
	resent      bool      // the attempt was resent on a fresh connection (see callFailed)
	intended    time.Time // open model: the session's intended start, until its first request
	sent, from  time.Time // the attempt's send instant, and the instant its latency runs from
	deadline    time.Time

	ses *session // patience and session outcomes (session.go); nil when the profile judges no session

	stopping atomic.Bool   // closed model: stop after the current request (see wake)
	idle     chan<- *agent // open model: where the agent waits for work
	ended    time.Time     // open model: when its last session ended (read by the scheduler off idle)
}

func newAgent(s *Swarm, id int) *agent {
	gid := s.cfg.Segment.GlobalID(id)
	a := &agent{s: s, id: id, gid: gid, fd: -1, spare: -1, hidx: -1}
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
	if a.goTransport() {
		a.g = &goConn{}
	}
	if s.prof.TracksSessions() {
		a.ses = &session{}
	}
	a.initHosts()
	return a
}

// wake asks the agent's loop to cut its pause short, if it is in one,
// after its stopping flag or the swarm's halting flag was set. Safe from
// any goroutine.
func (a *agent) wake() { a.l.post(command{kind: cmdWake, a: a}) }

// halted reports whether the run has ended or this agent was asked to stop.
func (a *agent) halted() bool {
	return a.s.halting.Load() || a.stopping.Load()
}

// goTransport reports whether the agent's calls run on goroutines (https,
// or no poller on this system) rather than on its loop's poller.
func (a *agent) goTransport() bool { return a.ep.tls != nil || !hasPoller || len(a.s.named) > 0 }

// pause waits until at in phase ph (think, redial or retry backoff),
// unless the agent is already stopped: then its session ends at once.
// Nothing is held through a pause.
func (a *agent) pause(now time.Time, ph phase, at time.Time) {
	a.releaseBuf()
	if a.halted() {
		a.endSession(now)
		return
	}
	a.phase = ph
	a.l.tm.arm(a, a.l.clock(at))
}

// start begins a closed-model agent: it connects at once, so a ramp shows
// connected agents (a failure is retried, and recorded, by its first
// request), then runs sessions back to back until stopped.
func (a *agent) start(now time.Time) {
	a.alive = true
	a.needThink = false
	if a.connected() {
		a.beginSession(now, time.Time{})
		return
	}
	a.phase = phConnect
	a.dial(now, time.Time{})
}

// work starts an open-model session intended to start at intended.
func (a *agent) work(now, intended time.Time) {
	a.alive = true
	a.inSession = true
	a.s.active.Add(1)
	a.needThink = false
	a.beginSession(now, intended)
}

// beginSession starts a session: it picks a flow and enters its first
// step. intended is the session's scheduled start (open model; zero in the
// closed model): the first request's latency runs from it.
func (a *agent) beginSession(now, intended time.Time) {
	if !a.s.open && a.halted() {
		a.leave()
		return
	}
	s := a.s
	a.flow = s.prof.PickFlow(a.rng)
	a.c.Session++
	a.c.Vars.Reset()
	a.jar = nil
	if pop := s.prof.Population; pop != nil && pop.Addresses() > 0 {
		a.c.Address = pop.PickAddress(a.rng)
	}
	a.intended = intended
	if a.ses != nil {
		a.sessionBegun()
	}
	a.enterStep(0)
	a.advance(now)
}

// enterStep makes step i of the flow the current one.
func (a *agent) enterStep(i int) {
	a.si = i
	if i >= len(a.flow.Steps) {
		return
	}
	a.step = a.flow.Steps[i]
	a.useHost(a.step.TargetID)
	a.info = a.s.steps[a.step]
	a.n = a.step.Repeat.Count(a.rng)
	a.perms = max(a.step.Permutations, 1)
	a.it, a.perm = 0, 0
	if a.ses != nil {
		a.stepEntered()
	}
}

// advance goes on to the session's next execution (or its end): think
// first if a request came before, then execute.
func (a *agent) advance(now time.Time) {
	for a.it >= a.n {
		if a.si+1 >= len(a.flow.Steps) {
			if a.ses != nil {
				a.sessionEnded(report.SessionCompleted)
			}
			a.endSession(now)
			return
		}
		a.enterStep(a.si + 1)
	}
	// An earlier capture failed (its step timed out or answered an
	// error): end the session rather than send a request with an empty
	// value, such as /v1/carts//items.
	if name := a.step.Unset(&a.c); name != "" {
		a.s.countFailure(a.info.id, "skipped:"+name+" unset", 0)
		if a.ses != nil {
			a.sessionEnded(report.SessionFailed)
		}
		a.endSession(now)
		return
	}
	if a.needThink {
		if d := a.s.think.Sample(a.rng); d > 0 {
			a.pause(now, phThink, a.l.thinkEnd(now, d))
			return
		}
	}
	a.execute(now)
}

// execute starts the current execution's first attempt.
func (a *agent) execute(now time.Time) {
	a.needThink = true
	if a.halted() {
		a.endSession(now)
		return
	}
	a.c.Iteration, a.c.Perm = a.it, a.perm
	a.c.StartExecution()
	a.attempt = 0
	a.startAttempt(now)
}

// executed moves past the execution just finished.
func (a *agent) executed(now time.Time) {
	a.perm++
	if a.perm >= a.perms {
		a.perm = 0
		a.it++
	}
	a.advance(now)
}

// endSession ends the session: a closed-model agent starts its next one
// in the loop's next round (so an agent whose sessions end without any
// I/O cannot hold the loop), an open-model agent goes back to the idle
// queue.
func (a *agent) endSession(now time.Time) {
	a.releaseBuf()
	if a.s.open {
		a.inSession = false
		a.s.active.Add(-1)
		if a.halted() {
			a.leave()
			return
		}
		a.phase = phOff
		a.ended = now
		a.idle <- a // never blocks: the queue holds every agent
		return
	}
	if a.halted() {
		a.leave()
		return
	}
	a.phase = phNext
	if !a.queued {
		a.queued = true
		a.l.ready = append(a.l.ready, a)
	}
}

// resume runs a queued agent (see loop.runReady).
func (a *agent) resume(now time.Time) {
	if a.phase == phNext {
		a.beginSession(now, time.Time{})
	}
}

// startAttempt starts an attempt of the current execution, after the
// redial backoff if a connect failed before.
func (a *agent) startAttempt(now time.Time) {
	if !a.connected() && !a.nextDial.IsZero() && a.nextDial.After(now) {
		a.pause(now, phRedial, a.nextDial)
		return
	}
	// The send instant is read now, not taken from the loop's round: a
	// round may start many requests, and each is timed from its own.
	now = time.Now()
	a.sent = now
	a.from = now
	if a.attempt == 0 && !a.intended.IsZero() && a.intended.Before(now) {
		a.from = a.intended
	}
	a.intended = time.Time{}
	if a.ses != nil && a.attempt == 0 {
		a.ses.execFrom = a.from
	}
	a.deadline = now.Add(a.info.timeout)
	a.resent = false
	a.hops = 0
	if a.goTransport() {
		a.startGoCall(false)
		return
	}
	if a.cb == nil {
		a.cb = a.l.bufs.get()
	}
	a.cb.w = a.appendCookies(a.step.AppendRequest(a.cb.w[:0], a.ep.host, &a.c))
	if a.fd < 0 {
		a.phase = phDial
		a.dial(now, a.deadline)
		return
	}
	a.send(now)
}

// onTimer handles the agent's timer firing.
func (a *agent) onTimer(now time.Time) {
	switch a.phase {
	case phThink, phRedial, phBackoff:
		if a.halted() {
			a.endSession(now)
			return
		}
		switch a.phase {
		case phThink:
			a.execute(now)
		case phRedial:
			a.startAttempt(now)
		default:
			a.attempt++
			a.startAttempt(now)
		}
	case phConnect, phDial:
		a.closeConn() // the socket of a connect in flight, or the place in the queue
		a.dialFailed(now, errDialTimeout)
	case phCall:
		a.callFailed(now, errCallTimeout, true)
	}
}

// onWake handles a wake (the agent's stop or the run's end): a pause is cut
// short, an idle open-model agent leaves.
func (a *agent) onWake(now time.Time) {
	if !a.alive || !a.halted() {
		return
	}
	switch a.phase {
	case phThink, phRedial, phBackoff:
		a.l.tm.disarm(a)
		a.endSession(now)
	case phOff:
		a.leave()
	}
}

// finish records an attempt's outcome (body is the answer's, nil without
// one) and goes on: a retry when the step's policy says so, else the next
// execution.
func (a *agent) finish(now time.Time, class errClass, status int, body []byte) {
	s := a.s
	var expected time.Duration
	if !s.open {
		expected = s.thinkMean + a.ewma
		if class.answered() { // timeouts and failures say nothing of the usual pace
			svc := now.Sub(a.sent)
			if a.ewma == 0 {
				a.ewma = svc
			} else {
				a.ewma += (svc - a.ewma) / 8
			}
		}
		if expected <= 0 {
			expected = now.Sub(a.sent)
		}
	}
	outcome := class.outcome()
	step := a.step
	s.rec.Record(a.id, a.info.id, a.region, now.Sub(a.from), outcome, expected)
	switch class {
	case classBodyTooLarge: // say which cap, and how to raise it
		s.countFailure(a.info.id, s.bodyCapKind, status)
	case classHeaderTooLarge:
		s.countFailure(a.info.id, s.headerCapKind, status)
	}
	if s.cfg.OnAnswer != nil {
		ans := Answer{Step: step, StepID: a.info.id, Region: a.region, BaseURL: a.ep.raw, Status: status, Outcome: outcome, Context: &a.c}
		if class.answered() {
			ans.Body = body
		}
		s.cfg.OnAnswer(ans)
	}
	retry := a.attempt < step.Retry.Max &&
		((step.Retry.On5xx && status >= 500) ||
			(step.Retry.OnTimeout && (class == classTimeout || class == classRefused || class == classReset)))
	if a.ses != nil && a.judge(now, class, retry) {
		return
	}
	if !retry {
		a.executed(now)
		return
	}
	if d := step.Retry.Backoff << a.attempt; d > 0 {
		a.pause(now, phBackoff, now.Add(d))
		return
	}
	if a.halted() {
		a.endSession(now)
		return
	}
	a.attempt++
	a.startAttempt(now)
}

// answered checks an answer (expectations, captures) and records it.
func (a *agent) answered(now time.Time, status int, body []byte, header func(string) []byte) {
	a.uses++
	class := classOK
	if ok, failure := a.step.Check(status, body); !ok {
		class = classExpectFailed
		if failure == "status" {
			class = classBadStatus
		}
		a.s.countFailure(a.info.id, failure, status)
	} else if len(a.step.Captures) > 0 {
		if err := a.step.Capture(body, header, &a.c); err != nil {
			class = classExpectFailed
			a.s.countFailure(a.info.id, "capture", status)
		}
	}
	a.finish(now, class, status, body)
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
	case classBodyTooLarge:
		return report.BodyTooLarge
	case classHeaderTooLarge:
		return report.HeaderTooLarge
	}
	return report.OtherError
}

// releaseBuf gives the call buffer back to the loop.
func (a *agent) releaseBuf() {
	if a.cb != nil {
		a.l.bufs.put(a.cb)
		a.cb = nil
	}
}

// connected reports whether the agent has an open connection.
func (a *agent) connected() bool {
	if a.goTransport() {
		return a.g.c != nil
	}
	return a.fd >= 0 && !a.connecting
}

// inCall reports whether the agent waits for a connect or an answer on its
// loop's poller (what an abort cuts).
func (a *agent) inCall() bool {
	return a.alive && (a.phase == phConnect || a.phase == phDial || a.phase == phCall)
}

// setBackoff sets the redial backoff after a failed connect.
func (a *agent) setBackoff(now time.Time) {
	a.s.dialErrors.Add(1)
	if a.backoff == 0 {
		a.backoff = minBackoff
	} else {
		a.backoff = min(2*a.backoff, maxBackoff)
	}
	jitter := time.Duration(a.rng.Int64N(int64(a.backoff)/2 + 1))
	a.nextDial = now.Add(a.backoff/2 + jitter)
}

// dialFailed handles a failed connect: the backoff is set, and the attempt
// fails with err (the closed model's first connect goes on to the first
// session, whose request retries it after the backoff).
func (a *agent) dialFailed(now time.Time, err error) {
	a.setBackoff(now)
	if a.s.aborting.Load() {
		a.leave()
		return
	}
	if a.phase == phConnect {
		a.l.tm.disarm(a)
		a.beginSession(now, time.Time{})
		return
	}
	a.releaseBuf()
	a.finish(now, classify(err), 0, nil)
}

// connOpened counts a new connection.
func (a *agent) connOpened() {
	s := a.s
	a.uses = 0
	if s.connected.Add(1) == int64(s.maxAgents) {
		s.fullAt.CompareAndSwap(0, int64(time.Since(s.start)))
	}
	s.rec.AddConnections(1)
	if a.hosts != nil {
		s.hostConns[a.hostID].Add(1)
	}
	s.everConnected.Store(true)
}

// leave ends the agent: its timer, connection and buffers go, and the
// swarm counts it out.
func (a *agent) leave() {
	if !a.alive {
		return
	}
	a.l.tm.disarm(a)
	a.stopDial()
	a.closeAllConns()
	a.releaseBuf()
	a.alive = false
	a.phase = phOff
	s := a.s
	if a.inSession {
		a.inSession = false
		s.active.Add(-1)
	}
	s.agents.Add(-1)
	if !s.open {
		s.mu.Lock()
		s.free = append(s.free, a.id)
		s.mu.Unlock()
	}
	s.wg.Done()
}

// closeConn closes the agent's connection (linger 0: no TIME_WAIT).
func (a *agent) closeConn() {
	wasConnected := a.fd >= 0 && !a.connecting
	a.stopDial()
	if a.fd >= 0 {
		a.l.conns[a.fd] = nil
		sysClose(a.fd)
		a.fd = -1
		if wasConnected {
			a.s.connected.Add(-1)
		}
	}
	if a.g == nil {
		return
	}
	a.g.mu.Lock()
	c := a.g.c
	a.g.c = nil
	a.g.tc.reset(nil)
	a.g.mu.Unlock()
	if c != nil {
		c.Close()
		a.s.connected.Add(-1)
	}
}
