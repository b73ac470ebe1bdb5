package report

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// TestStatusInEveryOutput: a failed or interrupted run says so, with its
// reason, in text, JSON, JUnit (a failing test case) and markdown; an ok
// run's JUnit has no such case.
func TestStatusInEveryOutput(t *testing.T) {
	for _, c := range []struct {
		name, failed, interrupted, status string
	}{
		{"ok", "", "", StatusOK},
		{"failed", "no request was answered (2,310 connections refused)", "", StatusFailed},
		{"interrupted", "", "interrupted by SIGTERM after 4s", StatusInterrupted},
		{"both", "no request was answered", "interrupted by SIGINT after 1s", StatusFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := NewRecorder(Options{Model: ModelOpen, Steps: []string{"a"}, Regions: []string{"r"}, Stripes: 1})
			r.Record(0, 0, 0, 5*time.Millisecond, OK, 0)
			s := r.Summary(time.Second)
			s.Failed, s.Interrupted = c.failed, c.interrupted
			if s.Status() != c.status {
				t.Fatalf("Status() = %q, want %q", s.Status(), c.status)
			}
			reason := s.StatusReason()
			var text, js, junit, md bytes.Buffer
			for _, w := range []struct {
				buf   *bytes.Buffer
				write func(*bytes.Buffer) error
			}{
				{&text, func(b *bytes.Buffer) error { return WriteText(b, s) }},
				{&js, func(b *bytes.Buffer) error { return WriteJSON(b, s) }},
				{&junit, func(b *bytes.Buffer) error { return WriteJUnit(b, s) }},
				{&md, func(b *bytes.Buffer) error { return WriteMarkdown(b, s) }},
			} {
				if err := w.write(w.buf); err != nil {
					t.Fatal(err)
				}
			}
			if !strings.Contains(js.String(), `"status": "`+c.status+`"`) {
				t.Errorf("JSON lacks status %q", c.status)
			}
			var suites JUnitSuites
			if err := xml.Unmarshal(junit.Bytes(), &suites); err != nil {
				t.Fatalf("junit: %v", err)
			}
			if c.status == StatusOK {
				if strings.Contains(text.String(), "RUN ") || strings.Contains(junit.String(), "agentstorm run") || strings.Contains(js.String(), "status_reason") {
					t.Errorf("an ok run says it failed:\n%s\n%s", text.String(), junit.String())
				}
				return
			}
			for name, out := range map[string]string{"text": text.String(), "json": js.String(), "junit": junit.String(), "markdown": md.String()} {
				if !strings.Contains(out, reason) {
					t.Errorf("%s does not give the reason %q:\n%s", name, reason, out)
				}
			}
			if !strings.Contains(text.String(), "RUN "+strings.ToUpper(c.status)) || !strings.Contains(md.String(), "❌") {
				t.Errorf("text or markdown does not lead with the status:\n%s\n%s", text.String(), md.String())
			}
			if suites.Tests == 0 || suites.Failures == 0 {
				t.Errorf("junit: tests=%d failures=%d; a %s run must be a failed test", suites.Tests, suites.Failures, c.status)
			}
		})
	}
}
