package report

import (
	"bufio"
	"fmt"
	"strings"
	"time"
)

// Section is an extra titled part of a report, such as the game-day audit:
// Lines are rendered in the text, markdown and HTML outputs, Data (any
// JSON-encodable value) under "sections"[Key] in the JSON output.
type Section struct {
	Key   string
	Title string
	Lines []string
	Data  any
}

// TimelineEvent is a mark on the run's timeline (a chaos action): shown in
// the text and JSON outputs and as a numbered mark on every over-time
// chart of the HTML report.
type TimelineEvent struct {
	// At is the time since the start.
	At time.Duration `json:"-"`
	// Name says what happened, e.g. "kill_shard shard 1".
	Name string `json:"name"`
	// Error is why it failed ("" when it succeeded).
	Error string `json:"error,omitempty"`
}

// JSONEvent is a TimelineEvent in the JSON output.
type JSONEvent struct {
	AtSeconds float64 `json:"at_seconds"`
	Name      string  `json:"name"`
	Error     string  `json:"error,omitempty"`
}

func (s *Summary) jsonEvents() []JSONEvent {
	var out []JSONEvent
	for _, e := range s.Events {
		out = append(out, JSONEvent{AtSeconds: e.At.Seconds(), Name: e.Name, Error: e.Error})
	}
	return out
}

func (s *Summary) jsonSections() map[string]any {
	if len(s.Sections) == 0 {
		return nil
	}
	m := make(map[string]any, len(s.Sections))
	for _, sec := range s.Sections {
		if sec.Data != nil {
			m[sec.Key] = sec.Data
		} else {
			m[sec.Key] = sec.Lines
		}
	}
	return m
}

// writeSections writes the timeline events and the sections as text.
func writeSections(bw *bufio.Writer, s *Summary) {
	if len(s.Events) > 0 && len(s.Sections) == 0 {
		fmt.Fprintln(bw, "\nEvents:")
		for _, e := range s.Events {
			st := ""
			if e.Error != "" {
				st = " FAILED: " + e.Error
			}
			fmt.Fprintf(bw, "  %7.1fs  %s%s\n", e.At.Seconds(), e.Name, st)
		}
	}
	for _, sec := range s.Sections {
		fmt.Fprintf(bw, "\n%s\n%s\n", sec.Title, strings.Repeat("=", len([]rune(sec.Title))))
		for _, l := range sec.Lines {
			fmt.Fprintln(bw, l)
		}
	}
}

// writeMarkdownSections writes the sections as markdown.
func writeMarkdownSections(bw *bufio.Writer, s *Summary) {
	for _, sec := range s.Sections {
		fmt.Fprintf(bw, "\n#### %s\n\n```\n", mdCell(sec.Title))
		for _, l := range sec.Lines {
			fmt.Fprintln(bw, strings.ReplaceAll(l, "```", "'''"))
		}
		fmt.Fprint(bw, "```\n\n")
	}
}
