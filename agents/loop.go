package agents

import (
	"bufio"
	"bytes"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// loop is one event loop: a goroutine that runs its agents as state
// machines over one epoll poller. It owns everything of its agents (their
// sockets, variables, random sources and timers); other goroutines talk to
// it only through its mailbox. A swarm runs one loop per core.
type loop struct {
	s     *Swarm
	p     *poller
	base  time.Time // the loop's clock: timers are nanoseconds since base
	now   time.Time // when the current round of work started
	tm    timers
	ready []*agent // agents to advance in this round (no I/O or timer to wait for)

	mu     sync.Mutex
	mail   []command
	spare  []command // the mailbox's other buffer, swapped in each round
	quit   bool
	rounds int // wake-ups of the loop so far (tests: it must not spin)

	conns    []*agent // by file descriptor: the agent whose socket it is
	seq      uint32   // tag of the next socket (tells a reused descriptor's events apart)
	dialing  int      // connects in flight on this loop
	dialMax  int
	dialWait []*agent // agents waiting for a connect slot, oldest first

	// Buffers lent to one call at a time (see callBufPool), and the parser's
	// state: the loop runs one agent at a time, so one of each suffices.
	bufs callBufPool
	br   *bufio.Reader
	rd   bytes.Reader
	resp fasthttp.Response
	peek func(name string) []byte
}

// commands an event loop takes from other goroutines.
type cmdKind uint8

const (
	cmdStart    cmdKind = iota // closed model: start the agent
	cmdWork                    // open model: start a session intended at 'at'
	cmdWake                    // the agent's stop flag or the run's halt was set: cut its pause
	cmdCallDone                // a goroutine-transport call finished (see agent.callDone)
	cmdAbort                   // the run's grace is over: cut every call in flight
)

type command struct {
	kind cmdKind
	a    *agent
	at   time.Time
	res  *goCall
}

func newLoop(s *Swarm, dialMax int) (*loop, error) {
	p, err := newPoller()
	if err != nil {
		return nil, err
	}
	l := &loop{s: s, p: p, base: s.start, dialMax: max(dialMax, 1)}
	l.br = bufio.NewReaderSize(&l.rd, s.cfg.MaxHeaderSize+4096)
	l.peek = l.resp.Header.Peek
	// The loop parses one answer at a time into resp: keep its body buffer
	// between answers instead of fasthttp's pool, which drops every buffer
	// above its calibrated size and so allocated the body of most answers
	// anew (the most a storm's generator allocated during its hold).
	l.resp.KeepBodyBuffer = true
	return l, nil
}

// post hands cmd to the loop, waking it if its mailbox was empty.
func (l *loop) post(cmd command) {
	l.mu.Lock()
	l.mail = append(l.mail, cmd)
	first := len(l.mail) == 1
	l.mu.Unlock()
	if first {
		l.p.wake()
	}
}

// stop ends the loop's run (after its agents have left).
func (l *loop) stop() {
	l.mu.Lock()
	l.quit = true
	l.mu.Unlock()
	l.p.wake()
}

// thinkGrid is the slot on which think times end (see thinkEnd).
const thinkGrid = 4 * time.Millisecond

// thinkEnd returns when a think of d begun at now ends: now+d rounded up to
// a slot of thinkGrid on the swarm's clock, or of d/32 for thinks under
// 128 ms, so a think is never shorter than drawn and at most 1/32 longer
// (2 ms on average for the storm's exp(2s), 0.1%). Agents whose thinks end
// in one slot send in one round of their loop, and the loops of every
// process share the slots (their clocks start at the run's start): a
// target's event loop then wakes once for many requests rather than for
// each, and a sleep and wake-up is dear (~25 µs of CPU on a 2-core VM; at
// the storm's load in bench/storm-floor.sh, 7% less CPU a request on both
// sides together: bench/RESULTS.md, session 8). Backoffs, deadlines and the open model's
// arrivals keep their exact instants.
func (l *loop) thinkEnd(now time.Time, d time.Duration) time.Time {
	slot := min(thinkGrid, d/32)
	if slot <= 0 {
		return now.Add(d)
	}
	end := now.Add(d).Sub(l.base)
	return l.base.Add((end + slot - 1) / slot * slot)
}

// clock returns t on the loop's clock.
func (l *loop) clock(t time.Time) int64 { return int64(t.Sub(l.base)) }

// run is the loop's goroutine: wait for socket events, due timers or mail;
// handle them; repeat until stop.
func (l *loop) run(done *sync.WaitGroup) {
	defer done.Done()
	defer l.p.close()
	for {
		timeout := time.Duration(-1)
		if len(l.ready) > 0 {
			timeout = 0
		} else if when, ok := l.tm.next(); ok {
			timeout = max(time.Duration(when-l.clock(time.Now())), 0)
		}
		l.p.wait(timeout, l.event)
		l.rounds++
		l.now = time.Now()
		if l.drainMail() {
			return
		}
		l.fireTimers()
		l.runReady()
		l.bufs.roll(l.now)
	}
}

// event handles one socket event.
func (l *loop) event(fd int, seq uint32, ev uint32) {
	if fd >= len(l.conns) {
		return
	}
	a := l.conns[fd]
	if a == nil || a.seq != seq {
		return // the socket was closed (its descriptor maybe reused) earlier in this round
	}
	a.onEvent(time.Now(), ev)
}

// drainMail handles every command posted so far; it reports whether the
// loop should end.
func (l *loop) drainMail() bool {
	l.mu.Lock()
	mail, quit := l.mail, l.quit
	l.mail = l.spare[:0]
	l.mu.Unlock()
	for i := range mail {
		c := &mail[i]
		switch c.kind {
		case cmdStart:
			c.a.start(l.now)
		case cmdWork:
			c.a.work(l.now, c.at)
		case cmdWake:
			c.a.onWake(l.now)
		case cmdCallDone:
			c.a.callDone(time.Now(), c.res)
		case cmdAbort:
			l.abort()
		}
		*c = command{}
	}
	l.spare = mail
	return quit
}

// fireTimers runs every timer due by now.
func (l *loop) fireTimers() {
	now := l.clock(l.now)
	for a := l.tm.popDue(now); a != nil; a = l.tm.popDue(now) {
		a.onTimer(l.now)
	}
}

// runReady advances the agents queued in this round. Agents queued while
// it runs wait for the next round, so an agent that never waits for I/O or
// a timer cannot keep the loop from its other agents.
func (l *loop) runReady() {
	n := len(l.ready)
	for i := 0; i < n; i++ {
		a := l.ready[i]
		l.ready[i] = nil
		a.queued = false
		a.resume(l.now)
	}
	rest := copy(l.ready, l.ready[n:])
	clear(l.ready[rest:])
	l.ready = l.ready[:rest]
}

// abort cuts every call in flight on this loop: its socket is closed and
// nothing is recorded; the agent leaves.
func (l *loop) abort() {
	queued := l.dialWait
	l.dialWait = nil
	for _, a := range queued {
		if a != nil && a.dialQueued && a.inCall() {
			a.leave()
		}
	}
	for _, a := range l.conns {
		if a != nil && a.inCall() {
			a.leave()
		}
	}
}

// track registers fd as a's socket.
func (l *loop) track(fd int, a *agent) {
	for fd >= len(l.conns) {
		l.conns = append(l.conns, nil)
	}
	l.conns[fd] = a
}

// resetResp readies resp for the next answer, keeping its body buffer
// unless a huge answer grew it.
func (l *loop) resetResp() {
	l.resp.Reset()
	l.resp.ReleaseBody(maxKeptBuf)
}
