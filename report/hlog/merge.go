package hlog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// Merge merges agentstorm hlog streams (workers', segments' or runs' logs,
// read by strict decoders) into one hlog written to w: one interval per
// wall-clock second with the intervals of every log that ended in it,
// steps and regions the union of the logs', the budgets of all, and an end
// line summing their ends. It reads each stream once, interval by
// interval, so memory does not grow with the length of the logs. meta is
// the merged log's run metadata. shares names the figures that are
// percentages (see figureSum); the others add up.
func Merge(w io.Writer, logs []*Decoder, meta map[string]string, shares map[string]bool) error {
	heads := make([]*Record, len(logs))
	var first *Meta
	var steps, regions []string
	var writes []bool
	var budgets []Budget
	startMs := int64(math.MaxInt64)
	for i, d := range logs {
		r, err := d.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		heads[i] = r
		m := d.Meta()
		if m == nil {
			return fmt.Errorf("%s: no agentstorm metadata: not an agentstorm hlog", d.Name())
		}
		if first == nil {
			first = m
		} else if m.Model != first.Model {
			return fmt.Errorf("%s: a %s-model run cannot be merged with %s-model runs", d.Name(), m.Model, first.Model)
		}
		startMs = min(startMs, m.StartMs)
		for k, s := range m.Steps {
			j := slices.Index(steps, s)
			if j < 0 {
				steps, writes, j = append(steps, s), append(writes, false), len(steps)
			}
			writes[j] = writes[j] || (k < len(m.Writes) && m.Writes[k])
		}
		for _, r := range m.Regions {
			if !slices.Contains(regions, r) {
				regions = append(regions, r)
			}
		}
		budgets = addBudgets(budgets, m.Budgets)
	}
	if first == nil {
		return errors.New("merge logs: no logs")
	}
	rec := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Writes: writes, Model: first.Model, Start: time.UnixMilli(startMs)})
	lw, err := NewWriter(w, MetaOf(rec, meta, budgets))
	if err != nil {
		return err
	}
	active := make([]int, len(logs))
	curSec := int64(math.MinInt64)
	var lastEnd time.Time
	rotate := func() error {
		sum := 0
		for _, a := range active {
			sum += a
		}
		rec.SetActiveAgents(sum)
		iv := rec.Rotate(lastEnd)
		defer rec.Release(iv)
		return lw.WriteInterval(iv)
	}
	for {
		next := -1
		for i, h := range heads {
			if h != nil && (next < 0 || h.End.Before(heads[next].End)) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		iv := heads[next]
		sec := (iv.End.UnixMilli() + 999) / 1000
		if curSec != math.MinInt64 && sec != curSec {
			if err := rotate(); err != nil {
				return err
			}
		}
		curSec = sec
		if iv.End.After(lastEnd) {
			lastEnd = iv.End
		}
		active[next] = iv.ActiveAgents
		rec.MergeInterval(iv.Interval)
		heads[next], err = logs[next].Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if curSec != math.MinInt64 {
		if err := rotate(); err != nil {
			return err
		}
	}
	for _, d := range logs {
		if m, e := d.Meta(), d.End(); m != nil && e != nil {
			rec.MergeExpectedIntervals(m.Steps, m.Regions, e.EI)
		}
	}
	s := rec.Summary(lastEnd.Sub(time.UnixMilli(startMs)))
	figs := figureSum{shares: shares}
	for _, d := range logs {
		var ef map[string]float64
		if e := d.End(); e != nil {
			s.Failures = addFailures(s.Failures, e.Failures)
			ef = e.Figures
		}
		figs.add(ef)
	}
	s.Figures = figs.result()
	return lw.Close(s)
}

// addBudgets appends the budgets of src whose expression dst lacks.
func addBudgets(dst, src []Budget) []Budget {
	for _, b := range src {
		if !slices.ContainsFunc(dst, func(o Budget) bool { return o.Expr == b.Expr }) {
			dst = append(dst, b)
		}
	}
	return dst
}

// addFailures adds the counts of src to those of dst with the same step,
// kind and status, and appends the classes dst lacks.
func addFailures(dst, src []report.CheckFailure) []report.CheckFailure {
	for _, f := range src {
		i := slices.IndexFunc(dst, func(o report.CheckFailure) bool { return o.Step == f.Step && o.Kind == f.Kind && o.Status == f.Status })
		if i >= 0 {
			dst[i].Count += f.Count
		} else {
			dst = append(dst, f)
		}
	}
	return dst
}
