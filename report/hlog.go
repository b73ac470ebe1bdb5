package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The hlog file is HdrHistogram's interval log (format version 1.3, V2
// compressed histograms), readable by HistogramLogAnalyzer and the Java,
// JavaScript and Go HdrHistogram libraries. Values are microseconds. Each
// interval histogram is tagged
//
//	Tag=step=NAME;region=NAME              the raw latency of one step × region
//	Tag=step=NAME;region=NAME;figure=corrected   the closed model's corrected latency
//
// (names are %-escaped: anything but letters, digits, "_", ".", "~" and "-";
// the log format forbids commas and spaces in tags). Lines starting with
// "#" are comments to other readers; agentstorm keeps its metadata in them:
//
//	#agentstorm-meta {JSON LogMeta}              once, after the header
//	#agentstorm-interval {JSON}                  before each interval's histograms:
//	    {"start":s,"end":s,"active":n,"connections":n,"hists":n,
//	     "cells":[[step,region,ok,bad_status,expect_failed,conn_refused,
//	               conn_reset,timeout,dns,tls,other_error,under,clamped,dropped],...]}
//	    (step and region are indexes into the metadata's lists; hists is
//	    the number of histogram lines that follow)
//	#agentstorm-end {JSON}                       at the end: elapsed, failures, figures
//
// Times in the interval lines and comments are seconds since the #[BaseTime]
// header (the run's start, rounded down to a whole second). A log without an end line (a crash, or a stream
// still being written) still reads: its elapsed time is its last interval's end.

// HlogVersion is the version of agentstorm's metadata in hlog comments.
const HlogVersion = 1

const (
	hlogMetaPrefix     = "#agentstorm-meta "
	hlogIntervalPrefix = "#agentstorm-interval "
	hlogEndPrefix      = "#agentstorm-end "
)

// LogMeta is a run's metadata, written in an hlog's header comments.
type LogMeta struct {
	// Version is HlogVersion.
	Version int `json:"agentstorm_hlog"`
	// Model is ModelOpen or ModelClosed.
	Model string `json:"model"`
	// StartMs is the run's start, Unix milliseconds.
	StartMs int64 `json:"start_ms"`
	// Steps, Regions and Writes are the recorder's.
	Steps   []string `json:"steps"`
	Regions []string `json:"regions"`
	Writes  []bool   `json:"writes,omitempty"`
	// Budgets are the run's budget expressions and their sources, so a
	// report re-read from the log can judge them again.
	Budgets []LogBudget `json:"budgets,omitempty"`
	// Meta is the free-form run metadata (Summary.Meta).
	Meta map[string]string `json:"meta,omitempty"`
}

// LogBudget is a budget expression and where it came from.
type LogBudget struct {
	Expr   string `json:"expr"`
	Source string `json:"source,omitempty"`
}

// MetaOf returns the log metadata of a recorder's run.
func MetaOf(r *Recorder, meta map[string]string, budgets []LogBudget) LogMeta {
	return LogMeta{
		Version: HlogVersion,
		Model:   r.Model(),
		StartMs: r.start.UnixMilli(),
		Steps:   r.steps,
		Regions: r.regions,
		Writes:  r.writes,
		Budgets: budgets,
		Meta:    meta,
	}
}

type hlogInterval struct {
	Start       float64   `json:"start"`
	End         float64   `json:"end"`
	Active      int       `json:"active"`
	Connections int64     `json:"connections"`
	Cells       [][]int64 `json:"cells"`
	// Hists is the number of histogram lines that follow, so a reader of
	// a live stream knows when the interval is complete.
	Hists int `json:"hists"`
}

// parseLogMeta decodes the JSON of an agentstorm metadata line (what
// follows its prefix) and refuses a version newer than this reader.
func parseLogMeta(js string) (*LogMeta, error) {
	var m LogMeta
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return nil, fmt.Errorf("bad agentstorm metadata: %w", err)
	}
	if m.Version > HlogVersion {
		return nil, fmt.Errorf("metadata version %d is newer than this agentstorm reads (%d): update agentstorm", m.Version, HlogVersion)
	}
	return &m, nil
}

// checkCellRow checks one cell row of an interval record: its length, and
// that its step and region ids exist among nSteps and nRegions.
func checkCellRow(row []int64, nSteps, nRegions int) error {
	if len(row) != 2+NumOutcomes+3 {
		return fmt.Errorf("interval cell has %d numbers, want %d", len(row), 2+NumOutcomes+3)
	}
	if row[0] < 0 || row[0] >= int64(nSteps) || row[1] < 0 || row[1] >= int64(nRegions) {
		return fmt.Errorf("interval cell names step %d region %d, which the metadata does not have", row[0], row[1])
	}
	return nil
}

// LogEnd is the end line of an hlog: what a run knows only when it ends.
type LogEnd struct {
	ElapsedMs   int64              `json:"elapsed_ms"`
	Connections int64              `json:"connections"`
	PeakActive  int                `json:"peak_active_agents"`
	Invalid     int64              `json:"invalid,omitempty"`
	Failures    []CheckFailure     `json:"failures,omitempty"`
	Figures     map[string]float64 `json:"figures,omitempty"`
	Aborted     string             `json:"aborted,omitempty"`
	// AbortedBudget, AbortedAtMs and AbortedActual say which budget
	// stopped the run live, when, and its figure then.
	AbortedBudget string  `json:"aborted_budget,omitempty"`
	AbortedAtMs   int64   `json:"aborted_at_ms,omitempty"`
	AbortedActual float64 `json:"aborted_actual,omitempty"`
	// EI holds per cell [sum of expected intervals µs, count] of the
	// closed model's correction, for the mean in the summary's note.
	EI [][3]int64 `json:"expected_intervals,omitempty"`
	// Events are the run's timeline marks (chaos actions) and Sections its
	// extra report sections as text lines (the game day), so a re-rendered
	// report keeps them.
	Events   []JSONEvent  `json:"events,omitempty"`
	Sections []LogSection `json:"sections,omitempty"`
}

// LogSection is a Section in an hlog's end line (its lines, not its data).
type LogSection struct {
	Key   string   `json:"key"`
	Title string   `json:"title"`
	Lines []string `json:"lines"`
}

// EscapeTag %-escapes a name for an hlog tag: everything but ASCII letters,
// digits and "_.~-".
func EscapeTag(s string) string {
	i := 0
	for i < len(s) && tagSafe(s[i]) {
		i++
	}
	if i == len(s) { // nothing to escape: no copy
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if tagSafe(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// tagSafe reports whether EscapeTag keeps c as it is.
func tagSafe(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '~' || c == '-'
}

// UnescapeTag reverses EscapeTag.
func UnescapeTag(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape at the end of %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape %q in %q", s[i:i+3], s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func cellTag(step, region string, corrected bool) string {
	t := "step=" + EscapeTag(step) + ";region=" + EscapeTag(region)
	if corrected {
		t += ";figure=corrected"
	}
	return t
}

// LogWriter streams a run's intervals to an hlog as they are rotated, so
// the file grows with the run while memory stays fixed. It is not safe for
// concurrent use; call it from the goroutine that rotates.
type LogWriter struct {
	bw    *bufio.Writer
	start time.Time // the log's base time
	err   error
	enc   v2Encoder // interval lines: the library's writer would allocate ~0.8 MB a histogram
	line  []byte
}

// NewLogWriter writes the hlog header (format version, start and base
// time, legend, agentstorm metadata) to w and returns the writer.
func NewLogWriter(w io.Writer, meta LogMeta) (*LogWriter, error) {
	meta.Version = HlogVersion
	// The base time is the start's whole second: the log format's
	// BaseTime header has whole seconds, and every time in the log is
	// relative to it.
	base := meta.StartMs - meta.StartMs%1000
	l := &LogWriter{bw: bufio.NewWriterSize(w, 32<<10), start: time.UnixMilli(base)}
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
		func() error { _, err := l.bw.WriteString(hlogMetaPrefix + string(mj) + "\n"); return err },
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
func (l *LogWriter) WriteInterval(iv *Interval) error {
	if l.err != nil {
		return l.err
	}
	rec := hlogInterval{
		Start:       iv.Start.Sub(l.start).Seconds(),
		End:         iv.End.Sub(l.start).Seconds(),
		Active:      iv.ActiveAgents,
		Connections: iv.Connections,
		Cells:       [][]int64{},
	}
	for i := range iv.Cells {
		c := &iv.Cells[i]
		if sumCounts(&c.Counts) == 0 && c.Dropped == 0 && c.Clamped == 0 {
			continue
		}
		row := make([]int64, 0, 2+NumOutcomes+3)
		row = append(row, int64(c.Step), int64(c.Region))
		row = append(row, c.Counts[:]...)
		row = append(row, c.Under, c.Clamped, c.Dropped)
		rec.Cells = append(rec.Cells, row)
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
	if _, err := l.bw.WriteString(hlogIntervalPrefix + string(j) + "\n"); err != nil {
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

func (l *LogWriter) fail(err error) error {
	l.err = fmt.Errorf("hlog: write interval: %w", err)
	return l.err
}

// Close writes the end line from s (elapsed time, connections, failures,
// figures; s may be nil) and flushes. It does not close the underlying
// writer.
func (l *LogWriter) Close(s *Summary) error {
	if l.err != nil {
		return l.err
	}
	if s != nil {
		e := LogEnd{
			ElapsedMs:   s.Elapsed.Milliseconds(),
			Connections: s.Connections,
			PeakActive:  s.PeakActiveAgents,
			Invalid:     s.Invalid,
			Failures:    s.Failures,
			Figures:     s.Figures,
			Events:      s.jsonEvents(),
		}
		for _, sec := range s.Sections {
			e.Sections = append(e.Sections, LogSection{Key: sec.Key, Title: sec.Title, Lines: sec.Lines})
		}
		if a := s.Aborted; a != nil {
			e.Aborted = a.String()
			e.AbortedBudget, e.AbortedAtMs, e.AbortedActual = a.Budget.Expr, a.At.Milliseconds(), a.Actual
		}
		for i := range s.Cells {
			c := &s.Cells[i]
			if c.MeanExpectedInterval > 0 && c.Raw.Count > 0 {
				e.EI = append(e.EI, [3]int64{int64(i), int64(c.MeanExpectedInterval/time.Microsecond) * c.Raw.Count, c.Raw.Count})
			}
		}
		j, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("hlog: end: %w", err)
		}
		if _, err := l.bw.WriteString(hlogEndPrefix + string(j) + "\n"); err != nil {
			return fmt.Errorf("hlog: end: %w", err)
		}
	}
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("hlog: end: %w", err)
	}
	return nil
}

// NamedReader is an hlog stream and the name to use in errors (a path).
type NamedReader struct {
	Name string
	R    io.Reader
}

// LogSet reads and merges hlogs (the segments or workers of one storm, or
// several runs) into one summary: histograms merge without loss, counts
// add up exactly.
type LogSet struct {
	meta     *LogMeta
	steps    []string
	regions  []string
	writes   []bool
	stepIdx  map[string]int
	regIdx   map[string]int
	cells    map[[2]int]*acc
	secs     map[int64]*secAcc
	startMs  int64
	endMs    int64 // latest interval end, Unix ms
	elapsed  time.Duration
	logs     int
	conns    int64
	peak     int
	invalid  int64
	failures []CheckFailure
	figures  map[string]float64
	events   []TimelineEvent
	sections []Section
	budgets  []LogBudget
	aborted  []LogAbort
	metaKV   map[string]string
}

type secAcc struct {
	b      PointBuilder
	endMs  int64       // latest interval end in the second, Unix ms
	active map[int]int // per log: last gauge in the second
}

// NewLogSet returns an empty set.
func NewLogSet() *LogSet {
	return &LogSet{
		stepIdx: map[string]int{},
		regIdx:  map[string]int{},
		cells:   map[[2]int]*acc{},
		secs:    map[int64]*secAcc{},
		startMs: math.MaxInt64,
	}
}

func (ls *LogSet) step(name string, write bool) int {
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

func (ls *LogSet) region(name string) int {
	i, ok := ls.regIdx[name]
	if !ok {
		i = len(ls.regions)
		ls.regIdx[name] = i
		ls.regions = append(ls.regions, name)
	}
	return i
}

func (ls *LogSet) cell(step, region int) *acc {
	k := [2]int{step, region}
	a := ls.cells[k]
	if a == nil {
		a = &acc{}
		ls.cells[k] = a
	}
	return a
}

func (ls *LogSet) sec(endMs int64) *secAcc {
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
func (ls *LogSet) Meta() *LogMeta { return ls.meta }

// Budgets returns the budgets recorded in the logs (each expression once).
func (ls *LogSet) Budgets() []LogBudget { return ls.budgets }

// hlogLines reads an hlog line by line, counting the lines for errors.
type hlogLines struct {
	br   *bufio.Reader
	name string
	n    int // lines read
}

func newHlogLines(r io.Reader, name string) *hlogLines {
	return &hlogLines{br: bufio.NewReaderSize(r, 64<<10), name: name}
}

// next returns the next line without its line end, and whether a newline
// ended it (a last line without one may have been cut short); io.EOF when
// nothing is left.
func (l *hlogLines) next() (line string, whole bool, err error) {
	s, err := l.br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("%s:%d: %w", l.name, l.n+1, err)
	}
	if s == "" {
		return "", false, io.EOF
	}
	l.n++
	return strings.TrimRight(s, "\r\n"), err == nil, nil
}

// errf returns an error naming the log and the line last read.
func (l *hlogLines) errf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", l.name, l.n, fmt.Sprintf(format, args...))
}

// Read reads one hlog into the set. name is used in error messages.
func (ls *LogSet) Read(name string, r io.Reader) error {
	logID := ls.logs
	ls.logs++
	lines := newHlogLines(r, name)
	bad := lines.errf
	var meta *LogMeta
	var baseMs int64
	haveBase := false
	var stepMap, regMap []int // this log's ids → the set's
	var curEndMs int64
	var lastEndMs int64
	var elapsed time.Duration
	counted := false // interval counts came from comments
	sawHist := false // at least one histogram line
	for {
		// A last line without a newline is read too: a file may end so.
		line, _, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, hlogMetaPrefix):
			mp, err := parseLogMeta(line[len(hlogMetaPrefix):])
			if err != nil {
				return bad("%v", err)
			}
			m := *mp
			if ls.meta != nil && ls.meta.Model != m.Model {
				return bad("this log is a %s-model run, the logs before it %s-model: they cannot be merged", m.Model, ls.meta.Model)
			}
			meta = &m
			if ls.meta == nil {
				ls.meta = &m
				ls.metaKV = m.Meta
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
			if !haveBase {
				baseMs, haveBase = m.StartMs, true
			}
			ls.startMs = min(ls.startMs, m.StartMs)
		case strings.HasPrefix(line, "#[BaseTime: "):
			v, perr := hlogHeaderTime(line, "#[BaseTime: ")
			if perr != nil {
				return bad("%v", perr)
			}
			if meta == nil || !haveBase {
				baseMs, haveBase = int64(v*1000), true
			}
		case strings.HasPrefix(line, "#[StartTime: "):
			v, perr := hlogHeaderTime(line, "#[StartTime: ")
			if perr != nil {
				return bad("%v", perr)
			}
			if !haveBase {
				baseMs, haveBase = int64(v*1000), true
			}
		case strings.HasPrefix(line, hlogIntervalPrefix):
			if meta == nil {
				return bad("interval before the agentstorm metadata line")
			}
			var iv hlogInterval
			if err := json.Unmarshal([]byte(line[len(hlogIntervalPrefix):]), &iv); err != nil {
				return bad("bad interval record: %v", err)
			}
			counted = true
			endMs := baseMs + int64(math.Round(iv.End*1000))
			curEndMs = endMs
			lastEndMs = max(lastEndMs, endMs)
			sa := ls.sec(endMs)
			sa.b.Seconds = max(sa.b.Seconds, iv.End-iv.Start)
			sa.active[logID] = iv.Active
			ls.conns += iv.Connections
			for _, row := range iv.Cells {
				if err := checkCellRow(row, len(stepMap), len(regMap)); err != nil {
					return bad("%v", err)
				}
				a := ls.cell(stepMap[row[0]], regMap[row[1]])
				var counts [NumOutcomes]int64
				copy(counts[:], row[2:2+NumOutcomes])
				for k, v := range counts {
					a.counts[k] += v
				}
				a.under += row[2+NumOutcomes]
				a.clamped += row[3+NumOutcomes]
				a.dropped += row[4+NumOutcomes]
				sa.b.AddCounts(stepMap[row[0]], &counts, row[2+NumOutcomes], row[4+NumOutcomes])
			}
		case strings.HasPrefix(line, hlogEndPrefix):
			var e LogEnd
			if err := json.Unmarshal([]byte(line[len(hlogEndPrefix):]), &e); err != nil {
				return bad("bad end record: %v", err)
			}
			elapsed = time.Duration(e.ElapsedMs) * time.Millisecond
			ls.peak += e.PeakActive
			ls.invalid += e.Invalid
			ls.failures = addFailures(ls.failures, e.Failures)
			for _, ev := range e.Events {
				ls.events = append(ls.events, TimelineEvent{At: time.Duration(ev.AtSeconds * float64(time.Second)), Name: ev.Name, Error: ev.Error})
			}
			for _, sec := range e.Sections {
				ls.sections = append(ls.sections, Section{Key: sec.Key, Title: sec.Title, Lines: sec.Lines})
			}
			ls.figures = addFigures(ls.figures, e.Figures)
			if e.Aborted != "" {
				ls.aborted = append(ls.aborted, LogAbort{Text: e.Aborted, Expr: e.AbortedBudget,
					At: time.Duration(e.AbortedAtMs) * time.Millisecond, Actual: e.AbortedActual})
			}
			for _, ei := range e.EI {
				if meta == nil || len(regMap) == 0 {
					continue
				}
				c := int(ei[0])
				if c < 0 || c >= len(stepMap)*len(regMap) {
					return bad("expected-interval cell %d out of range", c)
				}
				a := ls.cell(stepMap[c/len(regMap)], regMap[c%len(regMap)])
				a.eiSum += ei[1]
				a.eiN += ei[2]
			}
		case line[0] == '#' || line[0] == '"':
			// Other comments and the legend.
		default:
			sawHist = true
			endMs, err := ls.histLine(line, baseMs, curEndMs, counted, bad)
			if err != nil {
				return err
			}
			if !counted {
				lastEndMs = max(lastEndMs, endMs)
			}
		}
	}
	if lines.n == 0 {
		return fmt.Errorf("%s: empty file: not an hlog (no histogram lines)", name)
	}
	if meta == nil && !sawHist {
		return fmt.Errorf("%s: not an hlog (no histogram lines)", name)
	}
	if meta == nil && haveBase {
		ls.startMs = min(ls.startMs, baseMs)
	}
	ls.endMs = max(ls.endMs, lastEndMs)
	if elapsed == 0 && lastEndMs > 0 && haveBase {
		elapsed = time.Duration(lastEndMs-baseMs) * time.Millisecond
	}
	ls.elapsed = max(ls.elapsed, elapsed)
	return nil
}

// addBudgets appends the budgets of src whose expression dst lacks.
func addBudgets(dst, src []LogBudget) []LogBudget {
	for _, b := range src {
		dup := false
		for _, o := range dst {
			dup = dup || o.Expr == b.Expr
		}
		if !dup {
			dst = append(dst, b)
		}
	}
	return dst
}

// addFailures adds the counts of src to those of dst with the same step,
// kind and status, and appends the classes dst lacks.
func addFailures(dst, src []CheckFailure) []CheckFailure {
	for _, f := range src {
		i := 0
		for i < len(dst) && (dst[i].Step != f.Step || dst[i].Kind != f.Kind || dst[i].Status != f.Status) {
			i++
		}
		if i < len(dst) {
			dst[i].Count += f.Count
		} else {
			dst = append(dst, f)
		}
	}
	return dst
}

// addFigures adds the figures of src to dst's, making dst when it is nil
// and src is not empty.
func addFigures(dst, src map[string]float64) map[string]float64 {
	for k, v := range src {
		if dst == nil {
			dst = map[string]float64{}
		}
		dst[k] += v
	}
	return dst
}

// hlogHeaderTime parses the seconds value of a "#[BaseTime: " or
// "#[StartTime: " header line (prefix included in line). The value is the
// first field after the prefix, with an optional trailing comma (StartTime
// is followed by a human-readable date).
func hlogHeaderTime(line, prefix string) (float64, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(prefix, "#["), ": ")
	f := strings.Fields(line[len(prefix):])
	if len(f) == 0 {
		return 0, fmt.Errorf("%s header without a value: %q", name, line)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], ","), 64)
	if err != nil {
		return 0, fmt.Errorf("bad %s in %q: %w", name, line, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e12 {
		return 0, fmt.Errorf("bad %s in %q: %v seconds is not a timestamp", name, line, v)
	}
	return v, nil
}

// parseHistLine parses an interval histogram line,
// "[Tag=TAG,]start,length,max,histogram": its tag ("" when untagged), its
// start and length in seconds, and its histogram.
func parseHistLine(line string) (tag string, startS, lenS float64, h *hdr.PackedHistogram, err error) {
	if strings.HasPrefix(line, "Tag=") {
		comma := strings.IndexByte(line, ',')
		if comma < 0 {
			return "", 0, 0, nil, errors.New("tag without a histogram")
		}
		tag, line = line[4:comma], line[comma+1:]
	}
	parts := strings.SplitN(line, ",", 4)
	if len(parts) != 4 {
		return "", 0, 0, nil, errors.New("expected an interval histogram line ([Tag=TAG,]start,length,max,histogram)")
	}
	startS, err1 := strconv.ParseFloat(parts[0], 64)
	lenS, err2 := strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil {
		return "", 0, 0, nil, fmt.Errorf("bad interval start or length in %q", parts[0]+","+parts[1])
	}
	h, err = hdr.DecodePacked([]byte(parts[3]))
	if err != nil {
		return "", 0, 0, nil, fmt.Errorf("bad histogram: %w", err)
	}
	return tag, startS, lenS, h, nil
}

// scanTag calls f with each KEY and %-unescaped VALUE of a tag's
// "KEY=VALUE;..." pairs (parts without "=" are skipped).
func scanTag(tag string, f func(key, value string)) error {
	for rest := tag; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, ";")
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		uv, err := UnescapeTag(v)
		if err != nil {
			return fmt.Errorf("tag %q: %w", tag, err)
		}
		f(k, uv)
	}
	return nil
}

// histLine merges one histogram line into the set and returns the end of
// its interval (Unix ms): curEndMs, the end of the interval record it
// belongs to, when the log has them (counted), else the line's own.
func (ls *LogSet) histLine(line string, baseMs, curEndMs int64, counted bool, bad func(string, ...any) error) (int64, error) {
	tag, startS, lenS, h, err := parseHistLine(line)
	if err != nil {
		return 0, bad("%v", err)
	}
	stepName, regName, corrected := "all", "default", false
	if tag != "" {
		stepName = tag
	}
	err = scanTag(tag, func(k, v string) {
		switch k {
		case "step":
			stepName = v
		case "region":
			regName = v
		case "figure":
			corrected = v == "corrected"
		}
	})
	if err != nil {
		return 0, bad("%v", err)
	}
	si, ri := ls.step(stepName, false), ls.region(regName)
	a := ls.cell(si, ri)
	dst := &a.raw
	if corrected {
		dst = &a.corr
	}
	if *dst == nil {
		*dst = NewHistogram()
	}
	h.MergeInto(*dst)
	if corrected {
		ls.sec(curEndMs).b.AddLatency(si, true, h)
		return curEndMs, nil
	}
	endMs := curEndMs
	if !counted {
		// A log from another tool: every value is an OK answer.
		// Timestamps are relative to the base time unless they are epoch
		// seconds within a year of it (the HdrHistogram readers' rule).
		off := baseMs
		if startS >= float64(baseMs)/1000-365*24*3600 {
			off = 0
		}
		endMs = off + int64(math.Round((startS+lenS)*1000))
		n := h.TotalCount()
		a.counts[OK] += n
		p := NewHistogram()
		h.MergeInto(p)
		a.under += CountAtOrBelow(p, ComplianceLimit)
	}
	sa := ls.sec(endMs)
	if !counted {
		sa.b.AddCounts(si, &[NumOutcomes]int64{OK: h.TotalCount()}, 0, 0)
		sa.b.Seconds = max(sa.b.Seconds, lenS)
	}
	sa.b.AddLatency(si, false, h)
	return endMs, nil
}

// Summary returns the merged summary of every log read: totals per step ×
// region (histograms merged, counts summed), the per-second series (logs
// merged by wall-clock second), failures and figures summed, and the first
// log's metadata. Budgets are not evaluated (see Budgets and EvaluateBudgets).
func (ls *LogSet) Summary() (*Summary, error) {
	if ls.logs == 0 {
		return nil, errors.New("no hlog read")
	}
	if len(ls.steps) == 0 {
		ls.step("default", false)
	}
	if len(ls.regions) == 0 {
		ls.region("default")
	}
	model := ModelClosed
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
	s := &Summary{
		Model:            model,
		Start:            start,
		Elapsed:          elapsed,
		Steps:            ls.steps,
		Regions:          ls.regions,
		Writes:           ls.writes,
		Connections:      ls.conns,
		Invalid:          ls.invalid,
		PeakActiveAgents: ls.peak,
		Meta:             ls.metaKV,
		Figures:          ls.figures,
		Events:           ls.events,
		Sections:         ls.sections,
	}
	nr := len(ls.regions)
	cells := make([]acc, len(ls.steps)*nr)
	for k, a := range ls.cells {
		cells[k[0]*nr+k[1]] = *a
	}
	s.fill(cells)
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
		s.Series = appendPoint(s.Series, sa.b.Point(time.Duration(sa.endMs-ls.startMs)*time.Millisecond, len(ls.steps)))
	}
	s.PeakActiveAgents = max(s.PeakActiveAgents, peak)
	s.Failures = append([]CheckFailure(nil), ls.failures...)
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

// LogAbort is a live budget failure that stopped a logged run.
type LogAbort struct {
	// Text is the failure as the run said it (LiveFailure.String).
	Text string
	// Expr is the budget's expression, At when it failed and Actual the
	// figure of that second.
	Expr   string
	At     time.Duration
	Actual float64
}

// Aborted returns the live budget failures recorded in the logs' end lines.
func (ls *LogSet) Aborted() []LogAbort { return ls.aborted }

// MarkAbortedLog marks the results of budgets that stopped a logged run
// (see MarkAborted).
func MarkAbortedLog(results []BudgetResult, aborts []LogAbort) {
	for _, a := range aborts {
		for i := range results {
			if results[i].Expr == a.Expr {
				results[i].Met = false
				results[i].Aborted = true
				results[i].AbortedAt = a.At
				results[i].AbortActual = a.Actual
			}
		}
	}
}
