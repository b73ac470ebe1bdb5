package hlog

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/agentstorm/agentstorm/report"
)

// Spool writes the interval log of a run that learns its steps and
// regions as it goes (an ingest of another tool's results): an hlog's
// header lists every step and region, so the intervals go to a spool file
// beside the output first; at the end the header is written with every
// name and the intervals are copied after it.
// Ids are stable (names are only added), so the spooled intervals match
// the final header.
type Spool struct {
	path     string
	budgets  []Budget
	spool    *os.File
	lw       *Writer
	bodyFrom int64
	err      error
}

// NewSpool returns the spool of the log to write at path, with the run's
// budgets in its header.
func NewSpool(path string, budgets []Budget) *Spool {
	return &Spool{path: path, budgets: budgets}
}

// Path returns the path the log is written to.
func (h *Spool) Path() string { return h.path }

// WriteInterval spools iv; rec is the run's recorder and meta its metadata.
// It returns the first error once; after it, it writes nothing more and
// returns nil (the error is said once), and Finish returns it.
func (h *Spool) WriteInterval(rec *report.Recorder, meta map[string]string, iv *report.Interval) error {
	if h.err != nil {
		return nil // reported once
	}
	if h.lw == nil {
		f, err := os.CreateTemp(filepath.Dir(h.path), ".agentstorm-k6-hlog-*")
		if err != nil {
			h.err = fmt.Errorf("spool: %w", err)
			return h.err
		}
		h.spool = f
		if h.lw, err = NewWriter(f, MetaOf(rec, meta, h.budgets)); err != nil {
			h.err = err
			return err
		}
		if h.bodyFrom, err = f.Seek(0, io.SeekCurrent); err != nil {
			h.err = fmt.Errorf("spool: %w", err)
			return h.err
		}
	}
	if err := h.lw.WriteInterval(iv); err != nil {
		h.err = err
		return err
	}
	return nil
}

// Finish writes the final hlog to the path, through a temporary file: header with every step and region, the
// spooled intervals, the end line.
func (h *Spool) Finish(rec *report.Recorder, meta map[string]string, s *report.Summary) error {
	if h.err != nil {
		return h.err
	}
	a, err := report.CreateAtomic(h.path)
	if err != nil {
		return err
	}
	lw, err := NewWriter(a, MetaOf(rec, meta, h.budgets))
	if err == nil && h.spool != nil {
		if _, err = h.spool.Seek(h.bodyFrom, io.SeekStart); err == nil {
			_, err = io.Copy(a, h.spool)
		}
	}
	if err == nil {
		err = lw.Close(s)
	}
	if err != nil {
		a.Abort()
		return err
	}
	return a.Commit()
}

// Cleanup removes the spool file (a nil spool does nothing).
func (h *Spool) Cleanup() {
	if h == nil || h.spool == nil {
		return
	}
	_ = h.spool.Close()
	_ = os.Remove(h.spool.Name())
}
