package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// LogDecoder reads an agentstorm hlog (as a LogWriter writes it, to a file
// or a pipe) interval by interval, so MergeLogs can merge logs into a
// Recorder with MergeInterval in fixed memory. Next returns an interval as
// soon as its last histogram line has arrived.
type LogDecoder struct {
	lines     *hlogLines
	meta      *LogMeta
	baseMs    int64
	end       *LogEnd
	copyTo    io.Writer
	pending   []byte // the lines of the interval being read, for copyTo
	onComment func(line string) error
}

// ErrTruncated is wrapped by the error Next returns when the log ends
// inside an interval: a writer killed mid-write, or a stream cut. What was
// read before it is whole.
var ErrTruncated = errors.New("the log ends inside an interval")

// CopyTo makes the decoder copy every line it reads to w, each interval's
// lines only once the interval is whole, so w never holds half of one.
// Call it before the first Next.
func (d *LogDecoder) CopyTo(w io.Writer) { d.copyTo = w }

// OnComment has the decoder call f with every comment line that is not
// agentstorm's own (such as a worker's stats lines), as it is read; an
// error from f stops Next.
func (d *LogDecoder) OnComment(f func(line string) error) { d.onComment = f }

// keep copies a line to copyTo: at once, or with the interval being read
// when inInterval.
func (d *LogDecoder) keep(line string, inInterval bool) error {
	if d.copyTo == nil {
		return nil
	}
	d.pending = append(append(d.pending, line...), '\n')
	if inInterval {
		return nil
	}
	return d.flushCopy()
}

// flushCopy writes the lines kept to copyTo.
func (d *LogDecoder) flushCopy() error {
	if d.copyTo == nil || len(d.pending) == 0 {
		return nil
	}
	_, err := d.copyTo.Write(d.pending)
	d.pending = d.pending[:0]
	if err != nil {
		return fmt.Errorf("%s: copy: %w", d.lines.name, err)
	}
	return nil
}

// NewLogDecoder returns a decoder of r; name is used in errors.
func NewLogDecoder(r io.Reader, name string) *LogDecoder {
	return &LogDecoder{lines: newHlogLines(r, name)}
}

// Meta returns the log's metadata once Next has read it (nil before).
func (d *LogDecoder) Meta() *LogMeta { return d.meta }

// End returns the log's end line once Next has returned io.EOF, or nil
// when the log had none (the run crashed or the stream was cut).
func (d *LogDecoder) End() *LogEnd { return d.end }

// readLine returns the next line without its newline; io.EOF at the end.
// A last line without a newline is a line cut short (a writer killed
// mid-write, or a stream still being written) and reads as io.EOF.
func (d *LogDecoder) readLine() (string, error) {
	line, whole, err := d.lines.next()
	if err == nil && !whole {
		return "", io.EOF
	}
	return line, err
}

// Next returns the next interval, with the log's step and region names and
// ids, or io.EOF after the last one. Its histograms belong to the caller.
func (d *LogDecoder) Next() (*Interval, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			return nil, err
		}
		if err := d.keep(line, strings.HasPrefix(line, hlogIntervalPrefix)); err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(line, hlogMetaPrefix):
			m, err := parseLogMeta(line[len(hlogMetaPrefix):])
			if err != nil {
				return nil, d.lines.errf("%v", err)
			}
			if len(m.Steps) == 0 || len(m.Regions) == 0 {
				return nil, d.lines.errf("metadata without steps or regions")
			}
			d.meta = m
			if d.baseMs == 0 {
				d.baseMs = m.StartMs - m.StartMs%1000
			}
		case strings.HasPrefix(line, "#[BaseTime: "):
			v, perr := hlogHeaderTime(line, "#[BaseTime: ")
			if perr != nil {
				return nil, d.lines.errf("%v", perr)
			}
			d.baseMs = int64(v * 1000)
		case strings.HasPrefix(line, hlogIntervalPrefix):
			if d.meta == nil {
				return nil, d.lines.errf("interval before the agentstorm metadata line")
			}
			return d.interval(line[len(hlogIntervalPrefix):])
		case strings.HasPrefix(line, hlogEndPrefix):
			var e LogEnd
			if err := json.Unmarshal([]byte(line[len(hlogEndPrefix):]), &e); err != nil {
				return nil, d.lines.errf("bad end record: %v", err)
			}
			d.end = &e
		case strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "#[") && d.onComment != nil:
			if err := d.onComment(line); err != nil {
				return nil, d.lines.errf("%v", err)
			}
		case line == "" || line[0] == '#' || line[0] == '"':
		default:
			return nil, d.lines.errf("histogram line outside an interval")
		}
	}
}

func (d *LogDecoder) interval(js string) (*Interval, error) {
	var rec hlogInterval
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		return nil, d.lines.errf("bad interval record: %v", err)
	}
	m := d.meta
	nr := len(m.Regions)
	ms := func(sec float64) time.Time { return time.UnixMilli(d.baseMs + int64(math.Round(sec*1000))) }
	iv := &Interval{Start: ms(rec.Start), End: ms(rec.End), Steps: m.Steps, Regions: m.Regions,
		Cells: make([]CellInterval, len(m.Steps)*nr), All: NewHistogram(),
		ActiveAgents: rec.Active, Connections: rec.Connections}
	for c := range iv.Cells {
		iv.Cells[c].Step, iv.Cells[c].Region = c/nr, c%nr
	}
	for _, row := range rec.Cells {
		if err := checkCellRow(row, len(m.Steps), nr); err != nil {
			return nil, d.lines.errf("%v", err)
		}
		ci := iv.Cell(int(row[0]), int(row[1]))
		copy(ci.Counts[:], row[2:2+NumOutcomes])
		ci.Under, ci.Clamped, ci.Dropped = row[2+NumOutcomes], row[3+NumOutcomes], row[4+NumOutcomes]
		for k := range ci.Counts {
			iv.Counts[k] += ci.Counts[k]
		}
		iv.Under += ci.Under
		iv.Clamped += ci.Clamped
		iv.Dropped += ci.Dropped
	}
	for i := 0; i < rec.Hists; i++ {
		line, err := d.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, d.lines.errf("%w (%d of %d histograms)", ErrTruncated, i, rec.Hists)
			}
			return nil, err
		}
		if err := d.keep(line, true); err != nil {
			return nil, err
		}
		if err := d.histogram(iv, line); err != nil {
			return nil, err
		}
	}
	if err := d.flushCopy(); err != nil { // the interval is whole
		return nil, err
	}
	return iv, nil
}

func (d *LogDecoder) histogram(iv *Interval, line string) error {
	if !strings.HasPrefix(line, "Tag=") {
		return d.lines.errf("expected a tagged histogram line")
	}
	tag, _, _, h, err := parseHistLine(line)
	if err != nil {
		return d.lines.errf("%v", err)
	}
	step, region, corrected := -1, -1, false
	err = scanTag(tag, func(k, v string) {
		switch k {
		case "step":
			step = indexOf(iv.Steps, v)
		case "region":
			region = indexOf(iv.Regions, v)
		case "figure":
			corrected = v == "corrected"
		}
	})
	if err != nil {
		return d.lines.errf("%v", err)
	}
	ci := iv.Cell(step, region)
	if ci == nil {
		return d.lines.errf("tag %q names a step or region the metadata does not have", tag)
	}
	h.SetStartTimeMs(iv.Start.UnixMilli())
	h.SetEndTimeMs(iv.End.UnixMilli())
	if corrected {
		ci.Corrected = h
	} else {
		ci.Latency = h
		h.MergeInto(iv.All)
	}
	return nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// MergeInterval adds an interval recorded elsewhere (another run's or
// process's, read from its hlog with a LogDecoder) to the recorder, as if its
// requests had been recorded here: they show in the next Rotate's interval
// and in the totals. Steps and regions are matched by name; cells whose
// step or region the recorder does not have are counted as invalid. The
// interval's connections are added; the active-agents gauge is the
// caller's to set (the sum of the logs').
func (r *Recorder) MergeInterval(iv *Interval) {
	if iv == nil {
		return
	}
	stepMap := make([]int, len(iv.Steps))
	for i, s := range iv.Steps {
		stepMap[i] = indexOf(r.steps, s)
	}
	regMap := make([]int, len(iv.Regions))
	for i, s := range iv.Regions {
		regMap[i] = indexOf(r.regions, s)
	}
	nr := len(r.regions)
	for i := range iv.Cells {
		ci := &iv.Cells[i]
		n := sumCounts(&ci.Counts)
		if n == 0 && ci.Dropped == 0 && ci.Clamped == 0 && ci.Latency == nil && ci.Corrected == nil {
			continue
		}
		if ci.Step >= len(stepMap) || ci.Region >= len(regMap) || stepMap[ci.Step] < 0 || regMap[ci.Region] < 0 {
			r.invalid.Add(max(n, 1))
			continue
		}
		c := stepMap[ci.Step]*nr + regMap[ci.Region]
		st := &r.stripes[c<<r.shift]
		hasRaw := ci.Latency != nil && ci.Latency.TotalCount() > 0
		hasCorr := ci.Corrected != nil && ci.Corrected.TotalCount() > 0
		var newRaw, newCorr *hdr.Histogram // allocated outside the lock
		if hasRaw {
			newRaw = r.getDense()
		}
		if hasCorr {
			newCorr = r.getDense()
		}
		st.mu.Lock()
		for k, v := range ci.Counts {
			st.counts[k] += v
		}
		st.under += ci.Under
		st.clamped += ci.Clamped
		// Packed into dense merges touch only the populated buckets.
		if hasRaw {
			if st.raw == nil {
				st.raw, newRaw = newRaw, nil
			}
			ci.Latency.MergeInto(st.raw)
		}
		if hasCorr {
			if st.corr == nil {
				st.corr, newCorr = newCorr, nil
			}
			ci.Corrected.MergeInto(st.corr)
		}
		st.mu.Unlock()
		r.putDense(newRaw)
		r.putDense(newCorr)
		if ci.Dropped > 0 {
			r.dropped[c].Add(ci.Dropped)
		}
	}
	r.connections.Add(iv.Connections)
}

// MergeLogs merges agentstorm hlog streams (workers', segments' or runs'
// logs) into one hlog written to w: one interval per wall-clock second with
// the intervals of every log that ended in it, steps and regions the union
// of the logs', the budgets of all, and an end line summing their ends. It
// reads each stream once, interval by interval, so memory does not grow
// with the length of the logs. meta is the merged log's run metadata.
func MergeLogs(w io.Writer, logs []*LogDecoder, meta map[string]string) error {
	heads := make([]*Interval, len(logs))
	var first *LogMeta
	var steps, regions []string
	var writes []bool
	var budgets []LogBudget
	startMs := int64(math.MaxInt64)
	for i, d := range logs {
		iv, err := d.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		heads[i] = iv
		m := d.Meta()
		if m == nil {
			return fmt.Errorf("%s: no agentstorm metadata: not an agentstorm hlog", d.lines.name)
		}
		if first == nil {
			first = m
		} else if m.Model != first.Model {
			return fmt.Errorf("%s: a %s-model run cannot be merged with %s-model runs", d.lines.name, m.Model, first.Model)
		}
		startMs = min(startMs, m.StartMs)
		for k, s := range m.Steps {
			j := indexOf(steps, s)
			if j < 0 {
				steps, writes, j = append(steps, s), append(writes, false), len(steps)
			}
			writes[j] = writes[j] || (k < len(m.Writes) && m.Writes[k])
		}
		for _, r := range m.Regions {
			if indexOf(regions, r) < 0 {
				regions = append(regions, r)
			}
		}
		budgets = addBudgets(budgets, m.Budgets)
	}
	if first == nil {
		return errors.New("merge logs: no logs")
	}
	rec := NewRecorder(Options{Steps: steps, Regions: regions, Writes: writes, Model: first.Model, Start: time.UnixMilli(startMs)})
	lw, err := NewLogWriter(w, MetaOf(rec, meta, budgets))
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
		rec.MergeInterval(iv)
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
		rec.MergeEnd(d.Meta(), d.End())
	}
	s := rec.Summary(lastEnd.Sub(time.UnixMilli(startMs)))
	for _, d := range logs {
		if e := d.End(); e != nil {
			s.Failures = addFailures(s.Failures, e.Failures)
			s.Figures = addFigures(s.Figures, e.Figures)
		}
	}
	return lw.Close(s)
}

// MergeEnd adds what a worker's log end line carries to the totals: the
// closed model's expected intervals (for the mean in the summary's note).
// meta is that log's metadata; nil meta or end does nothing.
func (r *Recorder) MergeEnd(meta *LogMeta, end *LogEnd) {
	if meta == nil || end == nil || len(meta.Regions) == 0 {
		return
	}
	r.rotMu.Lock()
	defer r.rotMu.Unlock()
	nr := len(meta.Regions)
	for _, ei := range end.EI {
		c := int(ei[0])
		if c < 0 || c >= len(meta.Steps)*nr {
			continue
		}
		step, region := indexOf(r.steps, meta.Steps[c/nr]), indexOf(r.regions, meta.Regions[c%nr])
		if step < 0 || region < 0 {
			continue
		}
		t := &r.totals[step*len(r.regions)+region]
		t.eiSum += ei[1]
		t.eiN += ei[2]
	}
}
