package report

// Run statuses, as Summary.Status returns them and the JSON's "status" says.
const (
	// StatusOK is a run that ran its course with answers to judge.
	StatusOK = "ok"
	// StatusFailed is a run that must not be judged: no request was
	// answered, the target could not be reached, a worker was lost, or the
	// input was unusable. Its budgets mean nothing; its exit code is 1.
	StatusFailed = "failed"
	// StatusInterrupted is a run cut short from outside (Ctrl-C, SIGTERM):
	// its figures cover only what was recorded until then; its exit code is
	// 105, as k6's for an external abort.
	StatusInterrupted = "interrupted"
)

// Status returns how the run ended: StatusFailed when Failed is set (a run
// that failed stays failed, interrupted or not), else StatusInterrupted
// when Interrupted is set, else StatusOK.
func (s *Summary) Status() string {
	switch {
	case s.Failed != "":
		return StatusFailed
	case s.Interrupted != "":
		return StatusInterrupted
	}
	return StatusOK
}

// StatusReason says why the run's status is not ok ("" when it is).
func (s *Summary) StatusReason() string {
	switch {
	case s.Failed != "" && s.Interrupted != "":
		return s.Failed + "; " + s.Interrupted
	case s.Failed != "":
		return s.Failed
	}
	return s.Interrupted
}

// judgedFigure names the latency figure the compliance headline judges:
// "from_intended_start" (open model), "corrected" (closed model with a
// correction no kinder than raw) or "raw".
func (s *Summary) judgedFigure() string {
	o := &s.Overall
	switch {
	case s.Model == ModelOpen:
		return "from_intended_start"
	case o.Corrected != nil && o.Raw.Compliance() >= o.Corrected.Compliance():
		return "corrected"
	}
	return "raw"
}
