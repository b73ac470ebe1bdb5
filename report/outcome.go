package report

// Outcome classifies how one request ended. Every call to Recorder.Record
// carries one; the recorder counts them per step × region × class.
type Outcome uint8

// The outcome classes. Sessions dropped by the open model's scheduler are not
// an Outcome: they are counted with Recorder.RecordDropped.
const (
	// OK is an answer that passed the step's status and expectation checks.
	OK Outcome = iota
	// BadStatus is an answer whose HTTP status the step did not accept.
	BadStatus
	// ExpectFailed is an answer with an accepted status that failed one of
	// the step's expectations (a check on the body or headers).
	ExpectFailed
	// ConnRefused is a connection the target refused.
	ConnRefused
	// ConnReset is a connection reset or closed by the peer before a full answer.
	ConnReset
	// Timeout is a request that got no full answer within the timeout.
	Timeout
	// DNS is a failure to resolve the target's host name.
	DNS
	// TLS is a failed TLS handshake or certificate verification.
	TLS
	// OtherError is any other failure; out-of-range Outcome values are
	// counted here too.
	OtherError
	// BodyTooLarge is an answer whose body is over the body cap (8 MiB
	// unless raised): it is not read, the connection is closed.
	BodyTooLarge
	// HeaderTooLarge is an answer whose header is over the header cap
	// (64 KiB unless raised).
	HeaderTooLarge

	// NumOutcomes is the number of outcome classes; arrays indexed by
	// Outcome have this length. Classes are only ever added at the end,
	// so interval logs written before a class existed still read.
	NumOutcomes = int(HeaderTooLarge) + 1
)

var outcomeNames = [NumOutcomes]string{
	OK:             "ok",
	BadStatus:      "bad_status",
	ExpectFailed:   "expect_failed",
	ConnRefused:    "conn_refused",
	ConnReset:      "conn_reset",
	Timeout:        "timeout",
	DNS:            "dns",
	TLS:            "tls",
	OtherError:     "other_error",
	BodyTooLarge:   "body_too_large",
	HeaderTooLarge: "header_too_large",
}

// String returns the outcome's stable snake_case name ("ok", "bad_status",
// "timeout", ...), as used in summaries and machine-readable outputs.
func (o Outcome) String() string {
	if int(o) < NumOutcomes {
		return outcomeNames[o]
	}
	return "other_error"
}

// IsError reports whether the outcome counts as an error (everything but OK).
func (o Outcome) IsError() bool { return o != OK }

// HasLatency reports whether a request with this outcome has its latency
// recorded in the latency histograms. Answers (OK, BadStatus, ExpectFailed)
// and timeouts do: a timeout is a request that waited at least the timeout,
// and leaving it out would hide exactly the stalls a storm looks for.
// Connection-level failures (refused, reset, DNS, TLS, other) are only
// counted: their fast failure time is not an answer time and would make a
// broken target look compliant.
func (o Outcome) HasLatency() bool {
	switch o {
	case OK, BadStatus, ExpectFailed, Timeout:
		return true
	}
	return false
}
