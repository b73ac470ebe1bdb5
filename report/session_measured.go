package report

import "strings"

// What a run's sessions could not measure. An agentstorm run with patience
// and sale steps measures every session figure; one without patience does
// not measure abandonment; a k6 ingest does not either: a k6
// VU has no patience, so no iteration is ever abandoned, and its abandoned
// count (and the sales lost with it) is 0 by construction, not by
// measurement; its sales are measured only when the ingest names the sale
// step (--sale-step, kept in the meta as MetaSaleSteps).

// MetaSaleSteps is the meta key of a k6 ingest's sale steps (its
// --sale-step names, comma-separated); absent when it named none.
const MetaSaleSteps = "sale_steps"

// MetaNoPatience is the meta key an agentstorm run sets ("1") when no flow or step
// of its profile has a patience: no session can be abandoned, so its abandoned
// count (and the sales lost with it) is 0 by construction, as a k6 ingest's.
const MetaNoPatience = "no_patience"

// Why session figures are not measured.
const (
	notMeasuredK6Patience = "not measured: a k6 run has no agent patience"
	notMeasuredK6Lost     = "not measured: a k6 run has no agent patience, so no sale is ever lost"
	notMeasuredK6Sales    = "not measured: the k6 ingest named no sale step (--sale-step)"
	notMeasuredNoPatience = "not measured: no flow or step of the profile has a patience"
	notMeasuredNoPatLost  = "not measured: no flow or step of the profile has a patience, so no sale is ever lost"
)

// SessionsUnmeasured says which session figures a run could not measure,
// and why: each field is the reason, "" when the figure is measured.
type SessionsUnmeasured struct {
	// Abandoned is why abandoned sessions are not measured; LostSales why
	// lost sales are not; Sales why sales are not.
	Abandoned, LostSales, Sales string
}

// SessionsUnmeasured returns what s's sessions could not measure
// (UnmeasuredSessions of its meta and sales).
func (s *Summary) SessionsUnmeasured() SessionsUnmeasured {
	return UnmeasuredSessions(s.Meta, s.Overall.Sessions.Sales)
}

// UnmeasuredSessions returns what the sessions of a run with metadata meta
// and sales so far could not measure: for a k6 ingest (meta "source" is
// "k6") abandoned sessions and lost sales, and sales when it named no sale
// step and made none; for a run whose profile has no patience
// (MetaNoPatience) abandoned sessions and lost sales; nothing for other runs.
func UnmeasuredSessions(meta map[string]string, sales int64) SessionsUnmeasured {
	switch {
	case FromK6(meta):
		u := SessionsUnmeasured{Abandoned: notMeasuredK6Patience, LostSales: notMeasuredK6Lost}
		if meta[MetaSaleSteps] == "" && sales == 0 {
			u.Sales = notMeasuredK6Sales
		}
		return u
	case meta[MetaNoPatience] != "":
		return SessionsUnmeasured{Abandoned: notMeasuredNoPatience, LostSales: notMeasuredNoPatLost}
	}
	return SessionsUnmeasured{}
}

// MeasuresAbandonment reports whether a run with metadata meta measured its
// abandoned sessions (see UnmeasuredSessions).
func MeasuresAbandonment(meta map[string]string) bool {
	return UnmeasuredSessions(meta, 1).Abandoned == ""
}

// FromK6 reports whether a run's metadata is a k6 ingest's (meta "source" is "k6"),
// whose session figures do not measure what an agentstorm run's do.
func FromK6(meta map[string]string) bool { return meta["source"] == "k6" }

// Note returns one line saying what is not measured and why ("" when
// everything is), for the outputs that show "-" in its place.
func (u SessionsUnmeasured) Note() string {
	var parts []string
	for _, p := range [][2]string{{"abandoned sessions ", u.Abandoned}, {"lost sales ", u.LostSales}, {"sales ", u.Sales}} {
		if p[1] != "" {
			parts = append(parts, p[0]+p[1])
		}
	}
	return strings.Join(parts, "; ")
}
