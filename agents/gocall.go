package agents

import (
	"context"
	"net"
	"sync"
	"time"
)

// The goroutine transport: for https targets (TLS over net.Conn) and on
// systems without the loops' poller, each call of an agent runs on a
// short-lived goroutine that dials if needed, writes the request and reads
// the answer with fasthttp, then hands the result to the agent's loop,
// which checks, captures and records it as for a call on the poller. The
// agent's state (variables, random source, timers) stays the loop's: the
// request is rendered before the goroutine starts.

// goConn is an agent's goroutine-transport connection: used by one call's
// goroutine at a time, by the loop between calls; mu guards c against
// Swarm.abort.
type goConn struct {
	mu   sync.Mutex
	c    net.Conn
	tc   trackedConn
	call goCall
}

// goCall is one call run on a goroutine, and its result.
type goCall struct {
	cb       *callBufs // the call's buffers; nil for a connect alone (the closed model's first)
	deadline time.Time
	timeout  time.Duration
	dialed   bool  // a connection was opened
	dialErr  error // a connect failed (a redial backoff is due)
	err      error // the call failed
}

// startGoCall starts the current attempt (or, connectOnly, the first
// connect) on a goroutine.
func (a *agent) startGoCall(connectOnly bool) {
	s := a.s
	r := &a.g.call
	*r = goCall{deadline: a.deadline, timeout: a.info.timeout}
	if connectOnly {
		r.deadline = time.Now().Add(s.cfg.DialTimeout)
	} else {
		r.cb = s.pool.get()
		r.cb.w = a.appendCookies(a.step.AppendRequest(r.cb.w[:0], a.ep.host, &a.c))
	}
	a.phase = phGoCall
	go a.runGoCall(r)
}

// runGoCall is the call's goroutine. It owns the agent's goroutine
// connection (gconn, tc, uses) until it posts the result.
func (a *agent) runGoCall(r *goCall) {
	defer a.l.post(command{kind: cmdCallDone, a: a, res: r})
	s := a.s
	g := a.g
	if g.c == nil {
		if r.err = a.goDial(r); r.err != nil {
			return
		}
	}
	if r.cb == nil {
		return
	}
	slack := r.timeout / 16
	readAny, err := exchange(&g.tc, r.cb, r.cb.w, r.deadline, slack, s.cfg.MaxBodySize, s.cfg.MaxHeaderSize)
	if err != nil && a.uses > 0 && !readAny && classify(err) == classReset && !s.aborting.Load() && time.Now().Before(r.deadline) {
		// The server closed the kept-alive connection while the agent was
		// thinking: that is not the target failing. Redial once and resend.
		a.closeConn()
		if r.err = a.goDial(r); r.err != nil {
			return
		}
		_, err = exchange(&g.tc, r.cb, r.cb.w, r.deadline, slack, s.cfg.MaxBodySize, s.cfg.MaxHeaderSize)
	}
	if err != nil {
		a.closeConn()
		r.err = err
		return
	}
	a.uses++
}

// goDial opens the agent's goroutine connection (TLS handshake included).
func (a *agent) goDial(r *goCall) error {
	s := a.s
	s.dials.Add(1)
	select { // at most maxConcurrentDials at once (see Swarm.dialSem)
	case s.dialSem <- struct{}{}:
	case <-s.dialCtx.Done():
		return errAborted
	}
	ctx, cancel := context.WithDeadline(s.dialCtx, r.deadline)
	c, err := s.dialer.dial(ctx, a.ep, a.gid)
	cancel()
	<-s.dialSem
	if err != nil {
		r.dialErr = err
		return err
	}
	g := a.g
	g.mu.Lock()
	if s.aborting.Load() {
		g.mu.Unlock()
		c.Close()
		return errAborted
	}
	g.c = c
	g.tc.reset(c)
	g.mu.Unlock()
	r.dialed = true
	a.connOpened()
	return nil
}

// callDone takes a goroutine call's result on the loop.
func (a *agent) callDone(now time.Time, r *goCall) {
	s := a.s
	cb := r.cb // r is reused by the agent's next call, which may start below
	if cb != nil {
		defer s.pool.put(cb)
	}
	if r.dialErr != nil {
		a.setBackoff(now)
	} else if r.dialed {
		a.backoff, a.nextDial = 0, time.Time{}
	}
	if r.err != nil && s.aborting.Load() {
		a.leave()
		return
	}
	if cb == nil { // the first connect: sessions start whatever its outcome
		a.beginSession(now, time.Time{})
		return
	}
	if r.err != nil {
		a.finish(now, classify(r.err), 0, nil)
		return
	}
	if cb.resp.ConnectionClose() {
		a.closeConn()
	}
	a.takeCookies(&cb.resp.Header, cb.w)
	if a.redirectHop(cb.resp.StatusCode(), cb.peek, cb.w) {
		a.followOnGoroutine()
		return
	}
	a.answeredResp(now, &cb.resp, cb.peek)
}
