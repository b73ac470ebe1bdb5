package hlog

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// Set reads hlogs (the segments or workers of one storm, or several runs)
// into one summary: histograms merge without loss, counts add up exactly.
// It reads each log with a tolerant Decoder.
type Set struct {
	meta     *Meta
	steps    []string
	regions  []string
	writes   []bool
	stepIdx  map[string]int
	regIdx   map[string]int
	cells    map[[2]int]*report.CellTotals
	secs     map[int64]*secAcc
	startMs  int64
	endMs    int64 // latest interval end, Unix ms
	elapsed  time.Duration
	logs     int
	conns    int64
	redirs   int64
	peak     int
	invalid  int64
	failures []report.CheckFailure
	figures  figureSum
	events   []report.TimelineEvent
	sections []report.Section
	budgets  []Budget
	aborted  []Abort
	metaKV   map[string]string
	// interrupted and failed say, per log, how its run ended.
	interrupted, failed []string
}

// secAcc is one wall-clock second of the series.
type secAcc struct {
	b      report.PointBuilder
	endMs  int64       // latest interval end in the second, Unix ms
	active map[int]int // per log: last gauge in the second
}

// ShareFigures names the run figures that are percentages: merged, each
// is the largest of the logs', and has no data unless every log has it
// (the others add up). Set it before reading.
func (ls *Set) ShareFigures(names map[string]bool) { ls.figures.shares = names }

// NewSet returns an empty set.
func NewSet() *Set {
	return &Set{
		stepIdx: map[string]int{},
		regIdx:  map[string]int{},
		cells:   map[[2]int]*report.CellTotals{},
		secs:    map[int64]*secAcc{},
		startMs: math.MaxInt64,
	}
}

func (ls *Set) step(name string, write bool) int {
	i, ok := ls.stepIdx[name]
	if !ok {
		i = len(ls.steps)
		ls.stepIdx[name] = i
		ls.steps = append(ls.steps, name)
		ls.writes = append(ls.writes, false)
	}
	if write {
		ls.writes[i] = true
	}
	return i
}

func (ls *Set) region(name string) int {
	i, ok := ls.regIdx[name]
	if !ok {
		i = len(ls.regions)
		ls.regIdx[name] = i
		ls.regions = append(ls.regions, name)
	}
	return i
}

func (ls *Set) cell(step, region int) *report.CellTotals {
	k := [2]int{step, region}
	a := ls.cells[k]
	if a == nil {
		a = &report.CellTotals{}
		ls.cells[k] = a
	}
	return a
}

func (ls *Set) sec(endMs int64) *secAcc {
	k := (endMs + 999) / 1000
	s := ls.secs[k]
	if s == nil {
		s = &secAcc{active: map[int]int{}}
		ls.secs[k] = s
	}
	s.endMs = max(s.endMs, endMs)
	return s
}

// Meta returns the first log's metadata (nil before any log with one).
func (ls *Set) Meta() *Meta { return ls.meta }

// Budgets returns the budgets recorded in the logs (each expression once).
func (ls *Set) Budgets() []Budget { return ls.budgets }

// Aborted returns the live budget failures recorded in the logs' end lines.
func (ls *Set) Aborted() []Abort { return ls.aborted }

// ReadFiles reads the hlog files at paths into the set, in order.
func (ls *Set) ReadFiles(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		err = ls.Read(p, f)
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Read reads one hlog into the set. name is used in error messages.
func (ls *Set) Read(name string, r io.Reader) error {
	logID := ls.logs
	ls.logs++
	d := NewDecoder(r, name)
	var stepMap, regMap []int // this log's ids → the set's
	d.OnMeta(func(m *Meta) error {
		if ls.meta != nil && ls.meta.Model != m.Model {
			return fmt.Errorf("this log is a %s-model run, the logs before it %s-model: they cannot be merged", m.Model, ls.meta.Model)
		}
		if ls.meta == nil {
			ls.meta, ls.metaKV = m, m.Meta
		} else if err := ls.mergeMeta(m.Meta); err != nil {
			return err
		}
		ls.budgets = addBudgets(ls.budgets, m.Budgets)
		stepMap = make([]int, len(m.Steps))
		for i, s := range m.Steps {
			stepMap[i] = ls.step(s, i < len(m.Writes) && m.Writes[i])
		}
		regMap = make([]int, len(m.Regions))
		for i, s := range m.Regions {
			regMap[i] = ls.region(s)
		}
		ls.startMs = min(ls.startMs, m.StartMs)
		return nil
	})
	var lastEndMs int64
	for {
		rec, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		endMs := rec.End.UnixMilli()
		sa := ls.sec(endMs)
		switch {
		case rec.Kind == IntervalRecord:
			lastEndMs = max(lastEndMs, endMs)
			sa.b.Seconds = max(sa.b.Seconds, rec.Seconds)
			sa.active[logID] = rec.ActiveAgents
			ls.conns += rec.Connections
			ls.redirs += rec.Redirects
		case rec.Kind == ForeignLine && rec.Cells[0].Latency != nil:
			lastEndMs = max(lastEndMs, endMs)
			sa.b.Seconds = max(sa.b.Seconds, rec.Seconds)
		}
		ls.add(rec, sa)
	}
	var ef map[string]float64
	if e := d.End(); e != nil {
		ls.end(d.Meta(), e, stepMap, regMap)
		ef = e.Figures
	}
	ls.figures.add(ef) // every log counts: one cut short has no share figures
	if d.Cut() {
		ls.interrupted = append(ls.interrupted, name+" ends without its end line: the run that wrote it was cut short (killed?) and its figures cover only the whole intervals written until then")
	}
	baseMs, haveBase := d.Base()
	if d.Meta() == nil && haveBase {
		ls.startMs = min(ls.startMs, baseMs)
	}
	ls.endMs = max(ls.endMs, lastEndMs)
	elapsed := time.Duration(0)
	if e := d.End(); e != nil {
		elapsed = time.Duration(e.ElapsedMs) * time.Millisecond
	}
	if elapsed == 0 && lastEndMs > 0 && haveBase {
		elapsed = time.Duration(lastEndMs-baseMs) * time.Millisecond
	}
	ls.elapsed = max(ls.elapsed, elapsed)
	return nil
}

// add adds a record's cells to the totals and to its second: counts and
// latencies (a foreign line's values as OK answers, with no compliance
// count in the series, as other tools' logs have none).
func (ls *Set) add(rec *Record, sa *secAcc) {
	for i := range rec.Cells {
		c := &rec.Cells[i]
		n := c.Count()
		if n == 0 && c.Dropped == 0 && c.Clamped == 0 && c.Latency == nil && c.Corrected == nil && c.Sessions.IsZero() {
			continue
		}
		step := ls.step(rec.Steps[c.Step], false)
		a := ls.cell(step, ls.region(rec.Regions[c.Region]))
		for k, v := range c.Counts {
			a.Counts[k] += v
		}
		a.Under += c.Under
		a.Clamped += c.Clamped
		a.Dropped += c.Dropped
		a.Sessions.Add(&c.Sessions)
		sa.b.AddSessions(&c.Sessions)
		if c.Latency != nil {
			if a.Raw == nil {
				a.Raw = report.NewHistogram()
			}
			c.Latency.MergeInto(a.Raw)
		}
		if c.Corrected != nil {
			if a.Corrected == nil {
				a.Corrected = report.NewHistogram()
			}
			c.Corrected.MergeInto(a.Corrected)
		}
		switch rec.Kind {
		case IntervalRecord:
			sa.b.AddCounts(step, &c.Counts, c.Under, c.Dropped)
		case ForeignLine:
			sa.b.AddCounts(step, &c.Counts, 0, 0)
		}
		sa.b.AddLatency(step, false, c.Latency)
		sa.b.AddLatency(step, true, c.Corrected)
	}
}

// end adds what a log's end line says.
func (ls *Set) end(m *Meta, e *End, stepMap, regMap []int) {
	ls.peak += e.PeakActive
	ls.invalid += e.Invalid
	ls.failures = addFailures(ls.failures, e.Failures)
	for _, ev := range e.Events {
		ls.events = append(ls.events, report.TimelineEvent{At: time.Duration(ev.AtSeconds * float64(time.Second)), Name: ev.Name, Error: ev.Error})
	}
	for _, sec := range e.Sections {
		ls.sections = append(ls.sections, report.Section{Key: sec.Key, Title: sec.Title, Lines: sec.Lines})
	}
	if e.Interrupted != "" {
		ls.interrupted = append(ls.interrupted, e.Interrupted)
	}
	if e.Failed != "" {
		ls.failed = append(ls.failed, e.Failed)
	}
	if e.Aborted != "" {
		ls.aborted = append(ls.aborted, Abort{Text: e.Aborted, Abort: report.Abort{Expr: e.AbortedBudget,
			At: time.Duration(e.AbortedAtMs) * time.Millisecond, Actual: e.AbortedActual}})
	}
	if m == nil || len(regMap) == 0 {
		return
	}
	for _, ei := range e.EI { // in range: the decoder checked
		c := int(ei[0])
		a := ls.cell(stepMap[c/len(regMap)], regMap[c%len(regMap)])
		a.EISum += ei[1]
		a.EIN += ei[2]
	}
}

// Summary returns the merged summary of every log read: totals per step ×
// region (histograms merged, counts summed), the per-second series (logs
// merged by wall-clock second), failures summed, figures combined (counts
// summed, shares as in ShareFigures), and the first
// log's metadata. Budgets are not evaluated (see Budgets).
func (ls *Set) Summary() (*report.Summary, error) {
	if ls.logs == 0 {
		return nil, errors.New("no hlog read")
	}
	if len(ls.steps) == 0 {
		ls.step("default", false)
	}
	if len(ls.regions) == 0 {
		ls.region("default")
	}
	model := report.ModelClosed
	if ls.meta != nil {
		model = ls.meta.Model
	}
	if ls.startMs == math.MaxInt64 { // a foreign log without a start time: times are relative
		ls.startMs = 0
	}
	start := time.UnixMilli(ls.startMs)
	elapsed := ls.elapsed
	if ls.logs > 1 && ls.endMs > ls.startMs {
		// Logs of one storm run side by side: the span is the wall-clock
		// span of all their intervals, not the sum of their lengths.
		elapsed = time.Duration(ls.endMs-ls.startMs) * time.Millisecond
	}
	s := &report.Summary{
		Model:            model,
		Start:            start,
		Elapsed:          elapsed,
		Steps:            ls.steps,
		Regions:          ls.regions,
		Writes:           ls.writes,
		Connections:      ls.conns,
		Redirects:        ls.redirs,
		Invalid:          ls.invalid,
		PeakActiveAgents: ls.peak,
		Meta:             ls.metaKV,
		Figures:          ls.figures.result(),
		Events:           ls.events,
		Sections:         ls.sections,
		Interrupted:      strings.Join(ls.interrupted, "; "),
		Failed:           strings.Join(ls.failed, "; "),
	}
	nr := len(ls.regions)
	cells := make([]report.CellTotals, len(ls.steps)*nr)
	for k, a := range ls.cells {
		cells[k[0]*nr+k[1]] = *a
	}
	s.Fill(cells)
	// Series.
	keys := make([]int64, 0, len(ls.secs))
	for k := range ls.secs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	peak := 0
	for _, k := range keys {
		sa := ls.secs[k]
		for _, v := range sa.active {
			sa.b.ActiveAgents += v
		}
		peak = max(peak, sa.b.ActiveAgents)
		s.Series = report.AppendPoint(s.Series, sa.b.Point(time.Duration(sa.endMs-ls.startMs)*time.Millisecond, len(ls.steps)))
	}
	s.PeakActiveAgents = max(s.PeakActiveAgents, peak)
	s.Failures = append([]report.CheckFailure(nil), ls.failures...)
	sort.Slice(s.Failures, func(i, j int) bool {
		a, b := s.Failures[i], s.Failures[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Step != b.Step {
			return a.Step < b.Step
		}
		return a.Kind < b.Kind
	})
	return s, nil
}

// mergeMeta joins a later log's free-form metadata to the set's (the first log's) where it
// decides what the sessions measured. The abandoned sessions of a k6 ingest, or of a run
// whose profile has no patience, are 0 by construction: merged with a run that measured
// them they would shrink its abandoned share, so the two are not merged. Sales are
// measured at the sale steps any k6 ingest named.
func (ls *Set) mergeMeta(kv map[string]string) error {
	if report.MeasuresAbandonment(kv) != report.MeasuresAbandonment(ls.metaKV) {
		return errors.New("this log measured abandoned sessions and the logs before it did not, or the other way round (a k6 ingest, or a profile without patience, has none by construction): merged, those 0 abandoned sessions would shrink the other run's abandoned share; report them separately")
	}
	if report.FromK6(kv) != report.FromK6(ls.metaKV) {
		// Neither measures abandonment, but for different reasons and with
		// different sales rules: the merge would take the first log's.
		return errors.New("this log is a k6 ingest and the logs before it are agentstorm runs, or the other way round: what neither measures, and why, differs (the merge would say the first one's); report them separately")
	}
	steps := map[string]bool{}
	var all []string
	for _, m := range []map[string]string{ls.metaKV, kv} {
		for _, s := range strings.Split(m[report.MetaSaleSteps], ",") {
			if s != "" && !steps[s] {
				steps[s] = true
				all = append(all, s)
			}
		}
	}
	if len(all) > 0 {
		ls.metaKV = maps.Clone(ls.metaKV) // k6 metadata: never nil
		ls.metaKV[report.MetaSaleSteps] = strings.Join(all, ",")
	}
	return nil
}
