package agents

import (
	"fmt"
	"io"
	"net"
	"slices"
	"time"
)

// The event-loop side of an agent's connection: a non-blocking connect, the
// request written as far as the socket takes it, the answer read as it
// arrives until its framing says it is whole, all driven by the loop's
// poller events and the agent's one timer.

// dial starts connecting the agent (phase phConnect or phDial). At most
// loop.dialMax new connections are in flight per loop, from the connect to
// their first answer; the others wait their turn. Holding the slot until
// the answer, not just the connect, bounds what a storm leaves in the
// target's accept queue: a connect completes before the server accepts, so
// counting connects alone lets a slow-accepting target's queue overflow
// (its SYNs dropped, each connect then a second or more late).
// A call's connect (phDial) must be done by the call's deadline, or the dial
// timeout if sooner, its wait for a turn included; the closed model's first
// connect (phConnect) gets the dial timeout from when its turn comes, so a
// storm's agents are not failed for the queue the storm itself makes.
func (a *agent) dial(now, deadline time.Time) {
	s := a.s
	if a.goTransport() {
		a.startGoCall(true)
		return
	}
	s.dials.Add(1)
	if a.ep.tcp == nil {
		a.dialFailed(now, fmt.Errorf("dial %s: %w", a.ep.addr, &net.DNSError{Err: "no address found", Name: a.ep.addr, IsNotFound: true}))
		return
	}
	if a.phase == phDial {
		if limit := now.Add(s.cfg.DialTimeout); limit.Before(deadline) {
			deadline = limit
		}
		a.l.tm.arm(a, a.l.clock(deadline))
	}
	if a.l.dialing >= a.l.dialMax {
		a.dialQueued = true
		a.l.dialWait = append(a.l.dialWait, a)
		return
	}
	a.connectNow(now)
}

// connectNow opens the socket and starts its connect.
func (a *agent) connectNow(now time.Time) {
	l := a.l
	l.seq++
	a.seq = l.seq & 0x7fffffff
	fd, err := a.socket()
	if err == nil {
		if err = l.p.connect(fd, a.ep.tcp, a.seq); err != nil {
			sysClose(fd)
		}
	}
	if err != nil {
		a.l.tm.disarm(a)
		a.dialFailed(now, err)
		return
	}
	a.fd, a.connecting, a.slot = fd, true, true
	l.dialing++
	l.track(fd, a)
	if a.phase == phConnect {
		l.tm.arm(a, l.clock(now.Add(l.s.cfg.DialTimeout)))
	}
}

// socket returns the socket of the agent's connect: the one opened for it
// before the storm (see Swarm.prefill), else a new one.
func (a *agent) socket() (int, error) {
	if fd := a.spare; fd >= 0 {
		a.spare = -1
		return int(fd), nil
	}
	return a.openSocket()
}

// openSocket opens a socket for a connect to the agent's endpoint, from its
// source address.
func (a *agent) openSocket() (int, error) {
	return openSocket(a.s.dialer.sourceIP(a.ep, a.gid), a.ep.tcp)
}

// openSpare opens the socket of the agent's first connect ahead of it, when
// that connect will run on the poller to an endpoint fixed at creation (one
// host). A failure is left for the connect to meet and count.
func (a *agent) openSpare() {
	if a.hosts != nil || a.goTransport() || a.ep.tcp == nil {
		return
	}
	if fd, err := a.openSocket(); err == nil {
		a.spare = int32(fd)
	}
}

// stopDial gives up the agent's connect slot or its place in the queue.
func (a *agent) stopDial() {
	a.dialQueued = false // loop.nextDial skips it
	a.connecting = false
	if a.slot {
		a.slot = false
		a.l.dialing--
		a.l.nextDial()
	}
}

// nextDial starts the connects that were waiting for a slot.
func (l *loop) nextDial() {
	for l.dialing < l.dialMax && len(l.dialWait) > 0 && !l.s.aborting.Load() {
		a := l.dialWait[0]
		l.dialWait[0] = nil
		l.dialWait = l.dialWait[1:]
		if a.dialQueued {
			a.dialQueued = false
			a.connectNow(l.now)
		}
	}
	if len(l.dialWait) == 0 && cap(l.dialWait) > 0 {
		l.dialWait = l.dialWait[:0:0]
	}
}

// onEvent handles an event of the agent's socket.
func (a *agent) onEvent(now time.Time, ev uint32) {
	switch {
	case a.connecting:
		if ev&(evOut|evErr) == 0 {
			return
		}
		// A connect still in progress polls neither writable nor hung up: an
		// event without an error flag is a connect that succeeded, and only
		// one with a flag needs the system call that reads why it failed.
		var err error
		if ev&evErr != 0 {
			if err = connectResult(a.fd); err == nil && ev&evOut == 0 {
				return
			}
		}
		a.l.tm.disarm(a)
		if err != nil {
			a.closeConn()
			a.dialFailed(now, fmt.Errorf("dial %s: %w", a.ep.addr, err))
			return
		}
		a.connecting = false // the slot is kept until the first answer
		a.connOpened()
		a.backoff, a.nextDial = 0, time.Time{}
		if a.s.aborting.Load() {
			a.leave()
			return
		}
		if a.phase == phConnect {
			a.beginSession(now, time.Time{})
			return
		}
		a.send(now)
	case a.phase == phCall:
		if a.cb.sent < len(a.cb.w) && ev&(evOut|evErr) != 0 {
			a.flush(now)
		}
		if a.phase == phCall && a.cb.sent == len(a.cb.w) && ev&(evIn|evErr) != 0 {
			a.readAnswer(now)
		}
	default:
		if ev&(evIn|evErr) != 0 {
			a.dropIfClosed()
		}
	}
}

// dropIfClosed looks at a kept-alive connection that became readable while
// no call was on it: the server closed it (or wrote what nobody asked for),
// so it is closed now and the next request opens a fresh one instead of
// failing on it.
func (a *agent) dropIfClosed() {
	var b [64]byte
	n, err := sysRead(a.fd, b[:])
	if n < 0 && isAgain(err) {
		return
	}
	a.closeConn()
}

// send writes the request (the call's deadline timer armed) and waits for
// the answer.
func (a *agent) send(now time.Time) {
	a.phase = phCall
	a.l.tm.arm(a, a.l.clock(a.deadline))
	a.cb.fr.reset(a.step.Method == "HEAD", a.s.cfg.MaxBodySize, a.s.cfg.MaxHeaderSize)
	a.cb.sent = 0
	a.cb.r = a.cb.r[:0]
	a.flush(now)
}

// flush writes what the socket takes of the request; the rest goes when
// the socket is writable again.
func (a *agent) flush(now time.Time) {
	cb := a.cb
	for cb.sent < len(cb.w) {
		n, err := sysWrite(a.fd, cb.w[cb.sent:])
		if n > 0 {
			cb.sent += n
			continue
		}
		if isAgain(err) {
			return
		}
		if err == nil {
			err = io.ErrShortWrite
		}
		a.callFailed(now, fmt.Errorf("write request: %w", err), false)
		return
	}
}

// readAnswer reads what has arrived of the answer; once it is whole it is
// parsed, checked and recorded.
func (a *agent) readAnswer(now time.Time) {
	cb := a.cb
	for {
		if len(cb.r) == cap(cb.r) {
			cb.r = slices.Grow(cb.r, cap(cb.r))
		}
		n, err := sysRead(a.fd, cb.r[len(cb.r):cap(cb.r)])
		switch {
		case n > 0:
			cb.r = cb.r[:len(cb.r)+n]
			end, ferr := cb.fr.complete(cb.r, false)
			if ferr != nil {
				a.callFailed(now, fmt.Errorf("read answer: %w", ferr), true)
				return
			}
			if end > 0 {
				a.parseAnswer(now, cb.r[:end])
				return
			}
		case n == 0 && err == nil: // the server closed the connection
			if len(cb.r) > 0 {
				if end, ferr := cb.fr.complete(cb.r, true); ferr == nil && end > 0 {
					a.parseAnswer(now, cb.r[:end])
					return
				}
				a.callFailed(now, fmt.Errorf("read answer: connection closed mid-answer: %w", io.ErrUnexpectedEOF), true)
				return
			}
			a.callFailed(now, fmt.Errorf("read answer: connection closed before any byte: %w", io.EOF), false)
			return
		case isAgain(err):
			return
		default:
			a.callFailed(now, fmt.Errorf("read answer: %w", err), len(cb.r) > 0)
			return
		}
	}
}

// parseAnswer parses a whole answer with fasthttp and records it.
func (a *agent) parseAnswer(now time.Time, msg []byte) {
	l := a.l
	a.l.tm.disarm(a)
	a.stopDial() // a new connection's first answer frees its connect slot
	fr := &a.cb.fr
	closing := fr.closing || fr.kind == bodyToClose
	l.rd.Reset(msg)
	l.br.Reset(&l.rd)
	l.resp.SkipBody = fr.noBody
	err := l.resp.ReadLimitBody(l.br, a.s.cfg.MaxBodySize)
	if err != nil {
		l.resetResp()
		a.callFailed(now, fmt.Errorf("read answer: %w", err), true)
		return
	}
	a.takeCookies(&l.resp.Header, a.cb.w)
	if a.redirectHop(l.resp.StatusCode(), l.peek, a.cb.w) {
		l.resetResp()
		a.uses++
		if closing {
			a.closeConn()
		}
		a.followOnLoop(now)
		return
	}
	a.releaseBuf()
	if closing {
		a.closeConn()
	}
	a.answeredResp(now, &l.resp, l.peek)
	l.resetResp()
}

// callFailed ends a call that got no whole answer. A kept-alive connection
// that the server closed just as the request went out (nothing read) is
// not the target failing: the request is resent once on a fresh
// connection.
func (a *agent) callFailed(now time.Time, err error, readAny bool) {
	a.l.tm.disarm(a)
	a.closeConn()
	if a.s.aborting.Load() {
		a.leave()
		return
	}
	class := classify(err)
	if class == classReset && !readAny && a.uses > 0 && !a.resent && now.Before(a.deadline) {
		a.resent = true
		a.uses = 0
		a.phase = phDial
		a.dial(now, a.deadline)
		return
	}
	a.releaseBuf()
	a.finish(now, class, 0, nil)
}
