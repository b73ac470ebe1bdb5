package finish

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// Exit codes of every command that finishes a run.
const (
	// ExitOK: the run is ok and every budget met.
	ExitOK = 0
	// ExitFailed: the run failed, or an output could not be written.
	ExitFailed = 1
	// ExitUsage: bad usage, profile or budget.
	ExitUsage = 2
	// ExitBudgetMissed: a budget was missed (as k6's thresholds).
	ExitBudgetMissed = 99
	// ExitInterrupted: the run was cut short from outside (Ctrl-C,
	// SIGTERM, or a log that ends without its end line), as k6's 105
	// (ExternalAbort).
	ExitInterrupted = 105
)

// Output is one thing written from the final summary: a file, the step
// summary, or an interval log a command closes or merges.
type Output struct {
	// Kind and Path are said once it is written: "Wrote KIND: PATH".
	Kind, Path string
	// Name prefixes its error, such as "--out hlog=run.hlog".
	Name string
	// Write writes it.
	Write func(*report.Summary) error
	// More, when not nil, writes what goes beside it once it is written
	// (each step's .hgrm) and returns the paths written.
	More func(*report.Summary) ([]string, error)
}

// Run is a run to finish: what was measured, what it is judged against
// and where it goes.
type Run struct {
	// Command names the command in messages: "agentstorm COMMAND: ...".
	Command string
	// Stdout gets the text summary and a line per output written; Stderr
	// the errors and the budgets missed.
	Stdout, Stderr io.Writer
	// Summary is the run's; Finish stores the budget verdicts in it.
	Summary *report.Summary
	// Budgets are judged on the summary's totals.
	Budgets []*budget.Budget
	// Aborts are the live budget failures that stopped the run: their
	// budgets are missed whatever the totals say. The first whose budget
	// is among Budgets becomes Summary.Aborted when that is not set.
	Aborts []*report.Abort
	// Quiet leaves out the text summary (and AfterText).
	Quiet bool
	// AfterText writes what the text summary does not say (a run's
	// footnotes, an ingest's notes) after it; nil for nothing.
	AfterText func(w io.Writer)
	// Outputs are written in order, each even when one before failed.
	Outputs []Output
	// OutputFailed is set when an output already failed before the end
	// (an interval log that could not be streamed).
	OutputFailed bool
	// Usage is a usage error found only at the end (a budget naming what
	// the run does not have): exit 2, after every output.
	Usage error
	// Failed is why the run failed, nil when it did not: exit 1, after
	// every output.
	Failed error
	// Interrupted says why the run was cut short from outside, "" when it
	// was not: exit 105, after every output.
	Interrupted string
}

// SummaryOutputs returns the outputs written from the summary for specs
// (every kind but hlog, which the command gives as an Output of its own),
// in their order, then the markdown summary to $GITHUB_STEP_SUMMARY when
// that is set.
func SummaryOutputs(specs []Spec) []Output {
	var out []Output
	for _, o := range specs {
		write, ok := writers[o.Kind]
		if !ok {
			continue
		}
		out = append(out, Output{Kind: o.Kind, Path: o.Path, Name: "--out " + o.Kind + "=" + o.Path,
			Write: func(s *report.Summary) error {
				return report.WriteFileAtomic(o.Path, func(w io.Writer) error { return write(w, s) })
			}})
		if o.Kind == "hgrm" { // one distribution per file: the steps' beside the run's
			out[len(out)-1].More = func(s *report.Summary) ([]string, error) { return report.WriteHgrmSteps(o.Path, s) }
		}
	}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		out = append(out, Output{Kind: "markdown", Path: "$GITHUB_STEP_SUMMARY",
			Write: func(s *report.Summary) error { return appendStepSummary(p, s) }})
	}
	return out
}

// Finish judges the budgets (verdicts stored in Summary.Budgets, aborts
// marked), writes the text summary and every output, reports what failed
// on Stderr, and returns the exit code.
func (r *Run) Finish() int {
	s := r.Summary
	r.settleStatus()
	results := budget.Evaluate(r.Budgets, s)
	report.MarkAborted(results, r.Aborts...)
	s.Budgets = results
	if s.Aborted == nil {
		s.Aborted = r.liveFailure()
	}
	outFailed := r.OutputFailed
	if !r.Quiet {
		if err := report.WriteText(r.Stdout, s); err != nil {
			r.errorf("write the summary: %v", err)
			outFailed = true
		} else if r.AfterText != nil {
			r.AfterText(r.Stdout)
		}
	}
	for _, o := range r.Outputs {
		if err := o.Write(s); err != nil {
			if o.Name != "" {
				err = fmt.Errorf("%s: %w", o.Name, err)
			}
			r.errorf("%v", err)
			outFailed = true
			continue
		}
		fmt.Fprintf(r.Stdout, "Wrote %s: %s\n", o.Kind, o.Path)
		if o.More == nil {
			continue
		}
		paths, err := o.More(s)
		for _, p := range paths {
			fmt.Fprintf(r.Stdout, "Wrote %s: %s\n", o.Kind, p)
		}
		if err != nil {
			r.errorf("%s: %v", o.Name, err)
			outFailed = true
		}
	}
	return r.exit(results, outFailed)
}

// settleStatus records how the run ended in the summary, so that every
// output says it: Failed and Interrupted, and a run in which no request was
// answered is a failed run whatever its error class (a target that resets
// every connection is as unjudgeable as one that refuses them all).
func (r *Run) settleStatus() {
	s := r.Summary
	if r.Failed != nil && s.Failed == "" {
		s.Failed = r.Failed.Error()
	}
	if r.Interrupted != "" && s.Interrupted == "" {
		s.Interrupted = r.Interrupted
	}
	if s.Failed == "" {
		s.Failed = noAnswer(&s.Overall)
	}
}

// noAnswer says why st has no answered request (an HTTP answer of any
// status), or "" when it has one.
func noAnswer(st *report.Stats) string {
	if st.Counts[report.OK]+st.Counts[report.BadStatus]+st.Counts[report.ExpectFailed] > 0 {
		return ""
	}
	if st.Count == 0 {
		if st.Dropped > 0 {
			return fmt.Sprintf("no request was sent: all %s sessions were dropped for want of an idle agent", report.FormatCount(st.Dropped))
		}
		return "no request was sent"
	}
	var parts []string
	for k := 1; k < report.NumOutcomes; k++ {
		if n := st.Counts[k]; n > 0 {
			parts = append(parts, report.FormatCount(n)+" "+report.Outcome(k).String())
		}
	}
	return fmt.Sprintf("no request was answered: %s requests, %s", report.FormatCount(st.Count), strings.Join(parts, ", "))
}

// exit decides how the run ended and so its exit code, in this order: a
// usage error found at the end (2), a failed run (1), an interrupted run
// (105), a missed budget (99), a failed output (1), else ok (0). It says
// why on Stderr.
func (r *Run) exit(results []report.BudgetResult, outFailed bool) int {
	s := r.Summary
	switch {
	case r.Usage != nil:
		r.errorf("%v", r.Usage)
		return ExitUsage
	case r.Failed != nil:
		r.errorf("%v", r.Failed)
		return ExitFailed
	case s.Failed != "":
		r.errorf("the run failed: %s", s.Failed)
		return ExitFailed
	case s.Interrupted != "":
		r.errorf("the run was interrupted: %s (exit %d)", s.Interrupted, ExitInterrupted)
		return ExitInterrupted
	case !report.BudgetsMet(results):
		for i := range results {
			if !results[i].Met {
				r.errorf("budget missed: %s", results[i].Describe())
			}
		}
		return ExitBudgetMissed
	case outFailed:
		return ExitFailed
	}
	return ExitOK
}

// liveFailure returns the first abort whose budget is among the run's as
// a LiveFailure (for the summary's outputs), or nil.
func (r *Run) liveFailure() *report.LiveFailure {
	for _, a := range r.Aborts {
		for _, b := range r.Budgets {
			if a != nil && b.Expr == a.Expr {
				return b.Failure(a.Actual, a.At)
			}
		}
	}
	return nil
}

func (r *Run) errorf(format string, args ...any) {
	fmt.Fprintf(r.Stderr, "agentstorm %s: %s\n", r.Command, fmt.Sprintf(format, args...))
}
