package agents

import (
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// session is an agent's patience and session outcome state, for profiles
// whose sessions are judged (profiles.Profile.TracksSessions: a patience
// or a sale step somewhere). Other agents have none (agent.ses is nil), so
// a profile without patience and sales pays a nil check at a session's
// start, a step's entry, an attempt's start and an answer, nothing more.
type session struct {
	// The session's patience, drawn at its start from the flow's (or the
	// profile's): sessOn says there is one.
	sessWait          time.Duration
	sessOn, sessOnErr bool
	// The current step's patience: the step's own (drawn when it is
	// entered) or the session's.
	wait      time.Duration
	on, onErr bool
	execFrom  time.Time // the current execution's first attempt's latency start
	sold      bool      // a sale step of this session was answered OK
}

// sessionBegun draws the session's patience (flow's or profile's) at its
// start.
func (a *agent) sessionBegun() {
	ss := a.ses
	*ss = session{}
	if p := a.flow.Patience; p != nil {
		ss.sessWait, ss.sessOn, ss.sessOnErr = p.Draw(a.rng), true, p.OnError
	}
}

// stepEntered sets the patience of the step just entered: its own, drawn
// now, or the session's (patience: none on the step: no patience here).
func (a *agent) stepEntered() {
	ss := a.ses
	if p := a.step.Patience; p != nil {
		ss.wait, ss.on, ss.onErr = 0, false, false
		if p.Active() {
			ss.wait, ss.on, ss.onErr = p.Draw(a.rng), true, p.OnError
		}
		return
	}
	ss.wait, ss.on, ss.onErr = ss.sessWait, ss.sessOn, ss.sessOnErr
}

// judge decides, after an attempt's answer was recorded, whether the agent
// abandons its session: a timeout, an answer later than its patience since
// the execution's first attempt (no retry is started then), or, with
// on_error, an error no retry follows. It records a sale step's OK answer
// as a sale. It returns true when the session was abandoned (and ended).
func (a *agent) judge(now time.Time, class errClass, retry bool) bool {
	ss := a.ses
	if ss.on {
		reason, give := report.AbandonReason(0), false
		switch {
		case class == classTimeout:
			reason, give = report.AbandonTimeout, true
		case now.Sub(ss.execFrom) > ss.wait:
			reason, give = report.AbandonSlow, true
		case class != classOK && ss.onErr && !retry:
			reason, give = report.AbandonError, true
		}
		if give {
			a.s.rec.RecordSession(a.info.id, a.region, report.SessionAbandoned, reason, a.flow.HasSale && !ss.sold)
			a.endSession(now)
			return true
		}
	}
	if class == classOK && a.step.Sale {
		ss.sold = true
		a.s.rec.RecordSale(a.info.id, a.region, a.step.SaleValue)
	}
	return false
}

// sessionEnded records how a session that was not abandoned ended: at the
// flow's last step (completed) or at a step it could not go on from
// (failed). Sessions cut by the end of the run are not recorded.
func (a *agent) sessionEnded(end report.SessionEnd) {
	a.s.rec.RecordSession(a.info.id, a.region, end, 0, false)
}
