package report

import "sync"

// sessionCell holds the session outcomes of one step × region cell since
// the last Rotate. Sessions end far less often than requests, so one small
// mutex per cell is enough; it keeps a session's counts (abandoned and lost)
// in the same interval.
type sessionCell struct {
	mu sync.Mutex
	s  Sessions
}

// RecordSession counts one session that ended: at step (its flow's last
// step when completed, the step it gave up at when abandoned, the step it
// could not go on from when failed) and in region. reason is used only when
// end is SessionAbandoned; lost says the abandoned session's flow has a sale
// step it had not reached (ignored for other ends). Ids out of range are
// counted as invalid. Sessions cut by the end of the run must not be
// recorded.
func (r *Recorder) RecordSession(step, region int, end SessionEnd, reason AbandonReason, lost bool) {
	if uint(step) >= uint(len(r.steps)) || uint(region) >= uint(len(r.regions)) {
		r.invalid.Add(1)
		return
	}
	c := &r.sessions[step*len(r.regions)+region]
	c.mu.Lock()
	switch end {
	case SessionCompleted:
		c.s.Completed++
	case SessionAbandoned:
		if reason >= NumAbandonReasons {
			reason = AbandonError
		}
		c.s.Abandoned[reason]++
		if lost {
			c.s.Lost++
		}
	default:
		c.s.Failed++
	}
	c.mu.Unlock()
}

// RecordSale counts one sale (a sale step answered OK) at step and region,
// worth value in the minor currency unit (cents; 0 when the profile gives
// no value). Ids out of range are counted as invalid.
func (r *Recorder) RecordSale(step, region int, value int64) {
	if uint(step) >= uint(len(r.steps)) || uint(region) >= uint(len(r.regions)) {
		r.invalid.Add(1)
		return
	}
	c := &r.sessions[step*len(r.regions)+region]
	c.mu.Lock()
	c.s.Sales++
	c.s.SalesValue += value
	c.mu.Unlock()
}

// take returns the cell's counts since the last call and resets them.
func (c *sessionCell) take() Sessions {
	c.mu.Lock()
	s := c.s
	c.s = Sessions{}
	c.mu.Unlock()
	return s
}

// peek returns the cell's counts since the last take.
func (c *sessionCell) peek() Sessions {
	c.mu.Lock()
	s := c.s
	c.mu.Unlock()
	return s
}
