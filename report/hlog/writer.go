package hlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
)

// Writer streams a run's intervals to an hlog as they are rotated, so the
// file grows with the run while memory stays fixed. It is not safe for
// concurrent use; call it from the goroutine that rotates.
type Writer struct {
	bw    *bufio.Writer
	start time.Time // the log's base time
	err   error
	enc   v2Encoder // interval lines: the library's writer would allocate ~0.8 MB a histogram
	line  []byte
}

// NewWriter writes the hlog header (format version, start and base time,
// legend, agentstorm metadata) to w and returns the writer.
func NewWriter(w io.Writer, meta Meta) (*Writer, error) {
	meta.Version = Version
	// The base time is the start's whole second: the log format's
	// BaseTime header has whole seconds, and every time in the log is
	// relative to it.
	base := meta.StartMs - meta.StartMs%1000
	l := &Writer{bw: bufio.NewWriterSize(w, 32<<10), start: time.UnixMilli(base)}
	lw := hdr.NewHistogramLogWriter(l.bw) // the header lines
	lw.SetBaseTime(base)
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("hlog header: %w", err)
	}
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputStartTime(meta.StartMs) },
		func() error { return lw.OutputBaseTime(base) },
		func() error {
			return lw.OutputComment("agentstorm interval log: latency values in microseconds; tags step=NAME;region=NAME[;figure=corrected]")
		},
		func() error { _, err := l.bw.WriteString(metaPrefix + string(mj) + "\n"); return err },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return nil, fmt.Errorf("hlog header: %w", err)
		}
	}
	if err := l.bw.Flush(); err != nil {
		return nil, fmt.Errorf("hlog header: %w", err)
	}
	return l, nil
}

// WriteInterval appends iv: one comment with its counts and one histogram
// line per step × region (and per corrected figure) that has latencies.
// It flushes, so a reader of a pipe or file sees whole intervals.
func (l *Writer) WriteInterval(iv *report.Interval) error {
	if l.err != nil {
		return l.err
	}
	rec := intervalRecord{
		Start:       iv.Start.Sub(l.start).Seconds(),
		End:         iv.End.Sub(l.start).Seconds(),
		Active:      iv.ActiveAgents,
		Connections: iv.Connections,
		Redirects:   iv.Redirects,
		Cells:       [][]int64{},
	}
	for i := range iv.Cells {
		c := &iv.Cells[i]
		if c.Count() == 0 && c.Dropped == 0 && c.Clamped == 0 && c.Sessions.IsZero() {
			continue
		}
		rec.Cells = appendRow(rec.Cells, c)
		for _, h := range []*hdr.PackedHistogram{c.Latency, c.Corrected} {
			if h != nil && h.TotalCount() > 0 {
				rec.Hists++
			}
		}
	}
	j, err := json.Marshal(rec)
	if err != nil {
		return l.fail(err)
	}
	if _, err := l.bw.WriteString(intervalPrefix + string(j) + "\n"); err != nil {
		return l.fail(err)
	}
	startMs, endMs := iv.Start.UnixMilli(), iv.End.UnixMilli()
	for i := range iv.Cells {
		c := &iv.Cells[i]
		for k, h := range []*hdr.PackedHistogram{c.Latency, c.Corrected} {
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			h.SetTag(cellTag(iv.Steps[c.Step], iv.Regions[c.Region], k == 1))
			h.SetStartTimeMs(startMs)
			h.SetEndTimeMs(endMs)
			l.line = l.enc.appendIntervalLine(l.line[:0], h, l.start.UnixMilli())
			if _, err := l.bw.Write(l.line); err != nil {
				return l.fail(err)
			}
		}
	}
	if err := l.bw.Flush(); err != nil {
		return l.fail(err)
	}
	return nil
}

func (l *Writer) fail(err error) error {
	l.err = fmt.Errorf("hlog: write interval: %w", err)
	return l.err
}

// Close writes the end line from s (elapsed time, connections, failures,
// figures; s may be nil) and flushes. It does not close the underlying
// writer.
func (l *Writer) Close(s *report.Summary) error {
	if l.err != nil {
		return l.err
	}
	if s != nil {
		j, err := json.Marshal(endOf(s))
		if err != nil {
			return fmt.Errorf("hlog: end: %w", err)
		}
		if _, err := l.bw.WriteString(endPrefix + string(j) + "\n"); err != nil {
			return fmt.Errorf("hlog: end: %w", err)
		}
	}
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("hlog: end: %w", err)
	}
	return nil
}

// endOf returns the end line of a run summarised by s.
func endOf(s *report.Summary) End {
	e := End{
		ElapsedMs:   s.Elapsed.Milliseconds(),
		Connections: s.Connections,
		PeakActive:  s.PeakActiveAgents,
		Invalid:     s.Invalid,
		Failures:    s.Failures,
		Figures:     s.Figures,
		Interrupted: s.Interrupted,
		Failed:      s.Failed,
	}
	for _, ev := range s.Events {
		e.Events = append(e.Events, report.JSONEvent{AtSeconds: ev.At.Seconds(), Name: ev.Name, Error: ev.Error})
	}
	for _, sec := range s.Sections {
		e.Sections = append(e.Sections, Section{Key: sec.Key, Title: sec.Title, Lines: sec.Lines})
	}
	if a := s.Aborted; a != nil {
		e.Aborted = a.String()
		e.AbortedBudget, e.AbortedAtMs, e.AbortedActual = a.Expr, a.At.Milliseconds(), a.Actual
	}
	for i := range s.Cells {
		c := &s.Cells[i]
		if c.MeanExpectedInterval > 0 && c.Raw.Count > 0 {
			e.EI = append(e.EI, [3]int64{int64(i), int64(c.MeanExpectedInterval/time.Microsecond) * c.Raw.Count, c.Raw.Count})
		}
	}
	return e
}
