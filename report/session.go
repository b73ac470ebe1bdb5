package report

// Session outcomes (issue 18): an agent with patience abandons its session
// when an answer comes slower than its patience (or fails, by choice), and
// every session ends as completed, abandoned or failed. Sessions are counted
// per step × region cell: a session is counted in the cell of the step where
// it ended (its flow's last step when completed, the step it gave up at when
// abandoned, the step it could not go on from when failed) and of the
// agent's region. Sales are counted in the cell of the sale step (a step
// marked sale: whose answer was OK within the agent's patience), whatever
// happens to the session later; a sale step answered later than the
// agent's patience is no sale (the shopper left before it came) but a lost
// one. Only profiles with a patience or a sale step count sessions: the
// others record none, and their outputs show no session figures.
// Sessions cut by the end of the run are not counted anywhere: they neither
// completed nor were abandoned.

// AbandonReason says why an agent abandoned its session.
type AbandonReason uint8

// Abandon reasons.
const (
	// AbandonSlow: the answer came, later than the agent's patience.
	AbandonSlow AbandonReason = iota
	// AbandonError: the answer was an error (bad status, failed
	// expectation, refused, reset...) and the agent's patience gives up on
	// errors.
	AbandonError
	// AbandonTimeout: no answer within the step's timeout.
	AbandonTimeout
	// NumAbandonReasons is the number of abandon reasons.
	NumAbandonReasons
)

// String returns the reason's name: "slow", "error" or "timeout".
func (r AbandonReason) String() string {
	switch r {
	case AbandonSlow:
		return "slow"
	case AbandonError:
		return "error"
	case AbandonTimeout:
		return "timeout"
	}
	return "unknown"
}

// SessionEnd is how a session ended.
type SessionEnd uint8

// Session ends.
const (
	// SessionCompleted: the flow's last step was done.
	SessionCompleted SessionEnd = iota
	// SessionAbandoned: the agent gave up (see AbandonReason).
	SessionAbandoned
	// SessionFailed: the session could not go on (a value it needed was
	// never captured) and the agent was not the one to give up.
	SessionFailed
)

// Sessions are the session outcomes of a cell, an interval, a slice or a
// run. All counts add up exactly when cells, intervals or logs are merged.
type Sessions struct {
	// Completed, Failed: sessions that ended so.
	Completed, Failed int64
	// Abandoned are the abandoned sessions by reason (index AbandonReason).
	Abandoned [NumAbandonReasons]int64
	// Lost is the abandoned sessions whose flow has a sale step they had not
	// reached yet: the sales the abandonment cost (each would have been a
	// sale had the shopper gone on and the sale step answered OK).
	Lost int64
	// Sales is the number of sale steps answered OK; SalesValue their value
	// in the profile's minor currency unit (cents), 0 without values.
	Sales, SalesValue int64
}

// AbandonedTotal returns the abandoned sessions, all reasons.
func (s *Sessions) AbandonedTotal() int64 {
	var n int64
	for _, v := range s.Abandoned {
		n += v
	}
	return n
}

// Ended returns the sessions that ended (completed, abandoned or failed).
func (s *Sessions) Ended() int64 { return s.Completed + s.Failed + s.AbandonedTotal() }

// Add adds o's counts to s.
func (s *Sessions) Add(o *Sessions) {
	s.Completed += o.Completed
	s.Failed += o.Failed
	for i := range s.Abandoned {
		s.Abandoned[i] += o.Abandoned[i]
	}
	s.Lost += o.Lost
	s.Sales += o.Sales
	s.SalesValue += o.SalesValue
}

// IsZero reports whether s counts nothing.
func (s *Sessions) IsZero() bool { return *s == Sessions{} }
