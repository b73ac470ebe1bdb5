package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JUnitSuites is the root of a JUnit XML report (the layout Jenkins,
// GitLab, GitHub test reporters and most CI viewers read).
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one test suite.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property,omitempty"`
	Cases      []JUnitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

// JUnitProperty is a name/value pair of a suite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one test case; Failure is nil when it passed.
type JUnitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

// JUnitFailure says why a case failed; Message carries the numbers.
type JUnitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnit returns s as JUnit suites: "agentstorm budgets" with one case per
// budget, and "agentstorm checks" with one failed case per class of failed
// checks (step, kind, status).
func (s *Summary) JUnit() *JUnitSuites {
	secs := strconv.FormatFloat(s.Elapsed.Seconds(), 'f', 3, 64)
	ts := s.Start.UTC().Format(time.RFC3339)
	var props []JUnitProperty
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		props = append(props, JUnitProperty{Name: k, Value: s.Meta[k]})
	}
	props = append(props,
		JUnitProperty{Name: "model", Value: s.Model},
		JUnitProperty{Name: "requests", Value: strconv.FormatInt(s.Overall.Count, 10)},
		JUnitProperty{Name: "compliance_100ms", Value: formatPct(s.Overall.Judged().Compliance())})
	props = append(props, s.junitSessionProps()...)

	budgets := JUnitSuite{Name: "agentstorm budgets", Time: secs, Timestamp: ts, Properties: props, SystemOut: s.sessionsText()}
	for i := range s.Budgets {
		r := &s.Budgets[i]
		c := JUnitCase{Name: r.Expr, ClassName: "agentstorm.budgets", Time: secs,
			SystemOut: fmt.Sprintf("actual %s, limit %s, %d samples", r.ActualText(), r.LimitText(), r.Samples)}
		if !r.Met {
			budgets.Failures++
			msg := fmt.Sprintf("%s: actual %s, limit %s", r.VerdictText(), r.ActualText(), r.LimitText())
			var text strings.Builder
			fmt.Fprintf(&text, "budget: %s\n", r.Expr)
			if r.Source != "" {
				fmt.Fprintf(&text, "from: %s\n", r.Source)
			}
			fmt.Fprintf(&text, "metric: %s\nactual: %s\nlimit: %s\nsamples: %d\n", r.Metric, r.ActualText(), r.LimitText(), r.Samples)
			switch {
			case r.NoData && r.NoDataReason != "":
				fmt.Fprintf(&text, "no data: %s\n", r.NoDataReason)
			case r.NoData:
				text.WriteString("no data: nothing was measured for this budget's selection\n")
			}
			if r.Aborted {
				fmt.Fprintf(&text, "aborted the run at %s (that second's figure: %s)\n", formatClock(r.AbortedAt), r.Unit.formatActual(r.AbortActual))
			}
			c.Failure = &JUnitFailure{Message: msg, Type: "budget", Text: text.String()}
		}
		budgets.Cases = append(budgets.Cases, c)
	}
	budgets.Tests = len(budgets.Cases)

	checks := JUnitSuite{Name: "agentstorm checks", Time: secs, Timestamp: ts}
	for _, f := range s.Failures {
		name := fmt.Sprintf("%s %s", f.Step, f.Kind)
		if f.Status != 0 {
			name += fmt.Sprintf(" (status %d)", f.Status)
		}
		var total int64
		for i := range s.PerStep {
			if s.PerStep[i].Name == f.Step {
				total = s.PerStep[i].Count
			}
		}
		msg := fmt.Sprintf("%s answers of %s failed the %s check", FormatCount(f.Count), f.Step, f.Kind)
		if total > 0 {
			msg = fmt.Sprintf("%s of %s answers of %s (%s) failed the %s check", FormatCount(f.Count), FormatCount(total),
				f.Step, formatErrPct(f.Count, total), f.Kind)
		}
		checks.Cases = append(checks.Cases, JUnitCase{Name: name, ClassName: "agentstorm.checks." + f.Step, Time: secs,
			Failure: &JUnitFailure{Message: msg, Type: "check", Text: fmt.Sprintf("step: %s\ncheck: %s\nstatus: %d\ncount: %d\nanswers: %d\n",
				f.Step, f.Kind, f.Status, f.Count, total)}})
		checks.Failures++
	}
	checks.Tests = len(checks.Cases)

	out := &JUnitSuites{Name: "agentstorm", Time: secs, Suites: []JUnitSuite{budgets, checks}}
	if st := s.Status(); st != StatusOK {
		// A run that failed or was cut short is a failed test, whatever
		// its budgets say: a CI must not go green on it.
		out.Suites = append(out.Suites, JUnitSuite{Name: "agentstorm run", Tests: 1, Failures: 1, Time: secs, Timestamp: ts,
			Cases: []JUnitCase{{Name: "run completed", ClassName: "agentstorm.run", Time: secs,
				Failure: &JUnitFailure{Message: "run " + st + ": " + s.StatusReason(), Type: st, Text: "status: " + st + "\nreason: " + s.StatusReason() + "\n"}}}})
	}
	for _, su := range out.Suites {
		out.Tests += su.Tests
		out.Failures += su.Failures
	}
	return out
}

// WriteJUnit writes s's budgets and failed checks as JUnit XML.
func WriteJUnit(w io.Writer, s *Summary) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s.JUnit()); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// ReadJUnit parses a JUnit XML report written by WriteJUnit (or any report
// with a <testsuites> root).
func ReadJUnit(r io.Reader) (*JUnitSuites, error) {
	var s JUnitSuites
	if err := xml.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("read junit: %w", err)
	}
	return &s, nil
}
