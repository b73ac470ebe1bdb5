package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/target/supervisor"
	"golang.org/x/term"
)

// printRunBanner says what is about to run; procs says which processes
// run the agents.
func printRunBanner(w io.Writer, prof *profiles.Profile, f *runFlags, procs string, bundled bool, sup *supervisor.Supervisor, notes []string) {
	wl := prof.Workload
	src := prof.File
	if src == "" {
		src = f.profile
	}
	fmt.Fprintf(w, "Profile %s (%s): %s model, %s\n", prof.Name, src, wl.Model, describeStages(wl))
	switch {
	case bundled:
		t := sup.Topology()
		regs := make([]string, 0, len(t.Regions))
		for r, u := range t.Regions {
			regs = append(regs, r+"="+u)
		}
		sort.Strings(regs)
		fmt.Fprintf(w, "Target: the bundled checkout, %d shards (%s); data in %s\n", len(t.Shards), strings.Join(regs, " "), sup.DataDir())
	case f.target != "":
		fmt.Fprintf(w, "Target: %s\n", f.target)
	default:
		fmt.Fprintf(w, "Target: the profile's (%s)\n", describeTarget(prof.Target))
	}
	fmt.Fprintf(w, "Think time: %s; seed %d; %s\n", describeThink(wl.Think), f.seed, procs)
	for _, n := range notes {
		fmt.Fprintf(w, "Note: %s.\n", n)
	}
	fmt.Fprintln(w)
}

// printRunFootnotes adds what the summary does not say.
func printRunFootnotes(out *syncWriter, st agents.Stats, fails []report.CheckFailure, ramp string, notes []string) {
	if ramp != "" {
		out.printf("Ramp: %s.\n", ramp)
	}
	out.printf("Connections: %s dials, %s failed.\n", commas(int(st.Dials)), commas(int(st.DialErrors)))
	if len(st.HostConnections) > 0 {
		hosts := make([]string, 0, len(st.HostConnections))
		for h := range st.HostConnections {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts)
		for i, h := range hosts {
			hosts[i] = fmt.Sprintf("%s %s", h, commas(int(st.HostConnections[h])))
		}
		out.printf("Connections opened by host: %s.\n", strings.Join(hosts, ", "))
	}
	if len(fails) > 0 {
		parts := make([]string, 0, len(fails))
		for i, f := range fails {
			if i == 8 {
				parts = append(parts, fmt.Sprintf("and %d more", len(fails)-i))
				break
			}
			parts = append(parts, fmt.Sprintf("%s %s (status %d) ×%s", f.Step, f.Kind, f.Status, commas(int(f.Count))))
		}
		out.printf("Failed checks: %s.\n", strings.Join(parts, ", "))
	}
	for _, n := range notes {
		out.printf("Note: %s.\n", n)
	}
}

func describeStages(w profiles.Workload) string {
	unit := "agents"
	switch {
	case w.TargetsInFlight():
		unit = "sessions in flight"
	case w.Model == profiles.Open:
		unit = "sessions/s"
	}
	parts := make([]string, 0, len(w.Stages))
	for _, s := range w.Stages {
		parts = append(parts, fmt.Sprintf("%s over %s", commas(s.Target), s.Duration))
	}
	d := fmt.Sprintf("%s in all; stages (%s, ramping linearly to each level) %s", w.Duration(), unit, strings.Join(parts, ", "))
	if w.Model == profiles.Open && w.MaxAgents > 0 {
		d += fmt.Sprintf("; at most %s concurrent sessions", commas(w.MaxAgents))
	}
	return d
}

func describeThink(t profiles.Think) string {
	switch t.Kind {
	case profiles.ThinkConstant:
		return report.FormatDuration(t.Min) + " constant"
	case profiles.ThinkUniform:
		return fmt.Sprintf("uniform %s…%s", report.FormatDuration(t.Min), report.FormatDuration(t.Max))
	case profiles.ThinkExponential:
		return "exponential, mean " + report.FormatDuration(t.Mean)
	}
	return "none"
}

func describeTarget(t profiles.Target) string {
	if t.BaseURL != "" {
		return t.BaseURL
	}
	regs := make([]string, 0, len(t.Regions))
	for r, u := range t.Regions {
		regs = append(regs, r+"="+u)
	}
	sort.Strings(regs)
	return strings.Join(regs, " ")
}

// commas formats n with thousands separators.
func commas(n int) string { return report.FormatCount(int64(n)) }

// isTerminal reports whether w is a terminal (a live line is redrawn in
// place there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// syncWriter serialises the live line and the run's own messages.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p whole, between the lines of others.
func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) printf(format string, args ...any) {
	s.mu.Lock()
	fmt.Fprintf(s.w, format, args...)
	s.mu.Unlock()
}
