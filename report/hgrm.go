package report

import (
	"bufio"
	"fmt"
	"io"
)

// WriteHgrm writes the percentile distribution of the whole run and of each
// step with answers, in HdrHistogram's / wrk2's .hgrm layout (Value,
// Percentile, TotalCount, 1/(1-Percentile); values in milliseconds, five
// ticks per half distance, the Mean/Max/Buckets footer). Sections are
// separated by a blank line and start with a "#" line naming the step and
// which latency figure it is. The judged figure is written (corrected in
// the closed model when there is a correction).
func WriteHgrm(w io.Writer, s *Summary) error {
	bw := bufio.NewWriter(w)
	section := func(name string, st *Stats) error {
		h := judgedHistogram(st)
		if h == nil || h.TotalCount() == 0 {
			return nil
		}
		fmt.Fprintf(bw, "# agentstorm: step=%s, %s latency, values in milliseconds\n", name, s.figureName(st))
		if _, err := h.PercentilesPrint(bw, 5, 1000.0); err != nil {
			return fmt.Errorf("write hgrm: %w", err)
		}
		fmt.Fprintln(bw)
		return nil
	}
	if err := section("all", &s.Overall); err != nil {
		return err
	}
	for i := range s.PerStep {
		if err := section(s.PerStep[i].Name, &s.PerStep[i]); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write hgrm: %w", err)
	}
	return nil
}

// figureName says which latency figure judgedHistogram(st) is.
func (s *Summary) figureName(st *Stats) string {
	switch {
	case st.CorrectedHistogram != nil:
		return "corrected (coordinated omission)"
	case s.Model == ModelOpen:
		return "from intended start"
	}
	return "raw"
}
