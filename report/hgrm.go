package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// The .hgrm output is one distribution per file, as HdrHistogram's plotter
// and wrk2's users expect: `--out hgrm=PATH` writes the whole run's
// distribution to PATH and each step's (with answers) beside it, to
// HgrmStepPath(PATH, step): run.hgrm, run.add_to_cart.hgrm,
// run.checkout.hgrm, ... Each file is written atomically.

// WriteHgrm writes the whole run's percentile distribution in
// HdrHistogram's / wrk2's .hgrm layout (see WriteHgrmStats).
func WriteHgrm(w io.Writer, s *Summary) error {
	return WriteHgrmStats(w, s, "all", &s.Overall)
}

// WriteHgrmStats writes the percentile distribution of st, named name
// ("all" or a step), in HdrHistogram's / wrk2's .hgrm layout: a "#" line
// naming the step and which latency figure it is, then Value, Percentile,
// TotalCount, 1/(1-Percentile) with values in milliseconds, five ticks per
// half distance, and the Mean/Max/Buckets footer. The judged figure is
// written (Stats.JudgedHistogram: corrected in the closed model, unless
// the correction is kinder than what was measured).
// Without latencies it writes only the "#" line, saying so.
func WriteHgrmStats(w io.Writer, s *Summary, name string, st *Stats) error {
	bw := bufio.NewWriter(w)
	h := judgedHistogram(st)
	if h == nil || h.TotalCount() == 0 {
		fmt.Fprintf(bw, "# agentstorm: step=%s, no latency recorded\n", name)
	} else {
		fmt.Fprintf(bw, "# agentstorm: step=%s, %s latency, values in milliseconds\n", name, s.figureName(st))
		if _, err := h.PercentilesPrint(bw, 5, 1000.0); err != nil {
			return fmt.Errorf("write hgrm: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write hgrm: %w", err)
	}
	return nil
}

// HgrmStepPath returns the file of step's distribution beside path, the
// whole run's: path without its ".hgrm" extension (if any), a dot, the step
// name with anything but letters, digits, '_' and '-' made '_', and
// ".hgrm". run.hgrm and add_to_cart give run.add_to_cart.hgrm.
func HgrmStepPath(path, step string) string {
	base := strings.TrimSuffix(path, ".hgrm")
	safe := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, step)
	return base + "." + safe + ".hgrm"
}

// WriteHgrmSteps writes each step's distribution (steps with latencies
// only) to its HgrmStepPath beside path, each file atomically, and returns
// the paths written. Steps whose names map to the same file (names that
// differ only in symbols) get the step's index added ("run.a_b.2.hgrm").
// It writes every file it can and returns the errors of the others.
func WriteHgrmSteps(path string, s *Summary) ([]string, error) {
	var written []string
	var errs []error
	used := map[string]bool{filepath.Clean(path): true}
	for i := range s.PerStep {
		st := &s.PerStep[i]
		if h := judgedHistogram(st); h == nil || h.TotalCount() == 0 {
			continue
		}
		p := HgrmStepPath(path, st.Name)
		if used[filepath.Clean(p)] {
			p = strings.TrimSuffix(p, ".hgrm") + fmt.Sprintf(".%d.hgrm", i)
		}
		used[filepath.Clean(p)] = true
		err := WriteFileAtomic(p, func(w io.Writer) error { return WriteHgrmStats(w, s, st.Name, st) })
		if err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, p)
	}
	return written, errors.Join(errs...)
}

// figureName says which latency figure judgedHistogram(st) is.
func (s *Summary) figureName(st *Stats) string {
	switch {
	case st.CorrectedHistogram != nil && !correctionKinder(st):
		return "corrected (coordinated omission)"
	case st.CorrectedHistogram != nil:
		return "raw (the correction for coordinated omission was kinder)"
	case s.Model == ModelOpen:
		return "from intended start"
	}
	return "raw"
}
