package hlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
)

// Version is the version of agentstorm's metadata in hlog comments.
const Version = 1

const (
	metaPrefix     = "#agentstorm-meta "
	intervalPrefix = "#agentstorm-interval "
	endPrefix      = "#agentstorm-end "
	baseTimePrefix = "#[BaseTime: "
	startPrefix    = "#[StartTime: "
)

// Meta is a run's metadata, written in an hlog's header comments.
type Meta struct {
	// Version is the metadata's version (Version).
	Version int `json:"agentstorm_hlog"`
	// Model is report.ModelOpen or report.ModelClosed.
	Model string `json:"model"`
	// StartMs is the run's start, Unix milliseconds.
	StartMs int64 `json:"start_ms"`
	// Steps, Regions and Writes are the recorder's.
	Steps   []string `json:"steps"`
	Regions []string `json:"regions"`
	Writes  []bool   `json:"writes,omitempty"`
	// Budgets are the run's budget expressions and their sources, so a
	// report re-read from the log can judge them again.
	Budgets []Budget `json:"budgets,omitempty"`
	// Meta is the free-form run metadata (Summary.Meta).
	Meta map[string]string `json:"meta,omitempty"`
}

// Budget is a budget expression and where it came from.
type Budget struct {
	Expr   string `json:"expr"`
	Source string `json:"source,omitempty"`
}

// Budgets pairs budget expressions with their sources.
func Budgets(exprs, sources []string) []Budget {
	lb := make([]Budget, len(exprs))
	for i := range exprs {
		lb[i] = Budget{Expr: exprs[i], Source: sources[i]}
	}
	return lb
}

// MetaOf returns the log metadata of a recorder's run.
func MetaOf(r *report.Recorder, meta map[string]string, budgets []Budget) Meta {
	return Meta{
		Version: Version,
		Model:   r.Model(),
		StartMs: r.Start().UnixMilli(),
		Steps:   r.Steps(),
		Regions: r.Regions(),
		Writes:  r.Writes(),
		Budgets: budgets,
		Meta:    meta,
	}
}

// End is the end line of an hlog: what a run knows only when it ends.
type End struct {
	ElapsedMs   int64                 `json:"elapsed_ms"`
	Connections int64                 `json:"connections"`
	PeakActive  int                   `json:"peak_active_agents"`
	Invalid     int64                 `json:"invalid,omitempty"`
	Failures    []report.CheckFailure `json:"failures,omitempty"`
	Figures     map[string]float64    `json:"figures,omitempty"`
	Aborted     string                `json:"aborted,omitempty"`
	// AbortedBudget, AbortedAtMs and AbortedActual say which budget
	// stopped the run live, when, and its figure then.
	AbortedBudget string  `json:"aborted_budget,omitempty"`
	AbortedAtMs   int64   `json:"aborted_at_ms,omitempty"`
	AbortedActual float64 `json:"aborted_actual,omitempty"`
	// Interrupted and Failed are the run's Summary.Interrupted and
	// Summary.Failed: a re-rendered report says how the run ended.
	Interrupted string `json:"interrupted,omitempty"`
	Failed      string `json:"failed,omitempty"`
	// EI holds per cell [cell, sum of expected intervals µs, count] of the
	// closed model's correction, for the mean in the summary's note.
	EI [][3]int64 `json:"expected_intervals,omitempty"`
	// Events are the run's timeline marks (chaos actions) and Sections its
	// extra report sections as text lines (the game day), so a re-rendered
	// report keeps them.
	Events   []report.JSONEvent `json:"events,omitempty"`
	Sections []Section          `json:"sections,omitempty"`
}

// Section is a report.Section in an hlog's end line (its lines, not its
// data).
type Section struct {
	Key   string   `json:"key"`
	Title string   `json:"title"`
	Lines []string `json:"lines"`
}

// Abort is a live budget failure that stopped a logged run.
type Abort struct {
	// Text is the failure as the run said it (LiveFailure.String).
	Text string
	// Abort is the budget's expression, when it failed and the figure of
	// that second (its Source is "": a log records only the expression).
	report.Abort
}

// intervalRecord is the JSON of an #agentstorm-interval line.
type intervalRecord struct {
	Start       float64   `json:"start"`
	End         float64   `json:"end"`
	Active      int       `json:"active"`
	Connections int64     `json:"connections"`
	Redirects   int64     `json:"redirects,omitempty"`
	Cells       [][]int64 `json:"cells"`
	// Hists is the number of histogram lines that follow, so a reader of
	// a live stream knows when the interval is complete.
	Hists int `json:"hists"`
}

// rowLen is the length of a cell row: step, region, the outcome counts,
// under, clamped, dropped. A cell where sessions ended or sales were made
// has a row of sessRowLen: the same, then its session counts (completed,
// failed, abandoned slow, error, timeout, lost, sales, sales value; see
// sessionNums); cells without are written as before, so logs of runs
// without sessions are unchanged. Logs written before the body_too_large
// and header_too_large classes have rows of oldRowLen, with the first
// oldOutcomes classes.
const (
	rowLen      = 2 + report.NumOutcomes + 3
	sessionNums = 2 + int(report.NumAbandonReasons) + 3
	sessRowLen  = rowLen + sessionNums
	oldOutcomes = int(report.OtherError) + 1
	oldRowLen   = 2 + oldOutcomes + 3
)

// appendRow appends c's row to an interval record.
func appendRow(cells [][]int64, c *report.CellInterval) [][]int64 {
	row := make([]int64, 0, sessRowLen)
	row = append(row, int64(c.Step), int64(c.Region))
	row = append(row, c.Counts[:]...)
	row = append(row, c.Under, c.Clamped, c.Dropped)
	if s := &c.Sessions; !s.IsZero() {
		row = append(row, s.Completed, s.Failed)
		row = append(row, s.Abandoned[:]...)
		row = append(row, s.Lost, s.Sales, s.SalesValue)
	}
	return append(cells, row)
}

// rowSessions reads the session counts at the end of a sessRowLen row.
func rowSessions(nums []int64) report.Sessions {
	var s report.Sessions
	s.Completed, s.Failed = nums[0], nums[1]
	na := int(report.NumAbandonReasons)
	copy(s.Abandoned[:], nums[2:2+na])
	s.Lost, s.Sales, s.SalesValue = nums[2+na], nums[3+na], nums[4+na]
	return s
}

// addRow checks a cell row (its length, and that its step and region
// exist among nSteps and nRegions) and adds its figures to iv's cell and
// totals. It is the one reader of the row's positions (appendRow writes
// them).
func addRow(iv *report.Interval, row []int64) error {
	n := report.NumOutcomes
	switch len(row) {
	case rowLen, sessRowLen:
	case oldRowLen:
		n = oldOutcomes
	default:
		return fmt.Errorf("interval cell has %d numbers, want %d (or %d with sessions)", len(row), rowLen, sessRowLen)
	}
	c := iv.Cell(int(row[0]), int(row[1]))
	if c == nil || row[0] < 0 || row[1] < 0 {
		return fmt.Errorf("interval cell names step %d region %d, which the metadata does not have", row[0], row[1])
	}
	if len(row) == sessRowLen && slices.ContainsFunc(row[rowLen:], func(v int64) bool { return v < 0 }) {
		return fmt.Errorf("interval cell step %d region %d has a negative session count", row[0], row[1])
	}
	for k := 0; k < n; k++ {
		c.Counts[k] += row[2+k]
		iv.Counts[k] += row[2+k]
	}
	c.Under += row[2+n]
	c.Clamped += row[3+n]
	c.Dropped += row[4+n]
	iv.Under += row[2+n]
	iv.Clamped += row[3+n]
	iv.Dropped += row[4+n]
	if len(row) == sessRowLen {
		s := rowSessions(row[rowLen:])
		c.Sessions.Add(&s)
		iv.Sessions.Add(&s)
	}
	return nil
}

// parseMeta decodes the JSON of an agentstorm metadata line (what follows
// its prefix) and refuses a version newer than this reader.
func parseMeta(js string) (*Meta, error) {
	var m Meta
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		return nil, fmt.Errorf("bad agentstorm metadata: %w", err)
	}
	if m.Version > Version {
		return nil, fmt.Errorf("metadata version %d is newer than this agentstorm reads (%d): update agentstorm", m.Version, Version)
	}
	return &m, nil
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

// headerTime parses the seconds value of a "#[BaseTime: " or
// "#[StartTime: " header line (prefix included in line). The value is the
// first field after the prefix, with an optional trailing comma (StartTime
// is followed by a human-readable date).
func headerTime(line, prefix string) (float64, error) {
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

// histLine is an interval histogram line, parsed.
type histLine struct {
	tag             string // "" when untagged
	startS, lengthS float64
	h               *hdr.PackedHistogram
}

// parseHistLine parses an interval histogram line,
// "[Tag=TAG,]start,length,max,histogram", decoding its histogram with hd.
func parseHistLine(line string, hd *v2Decoder) (histLine, error) {
	var hl histLine
	if strings.HasPrefix(line, "Tag=") {
		comma := strings.IndexByte(line, ',')
		if comma < 0 {
			return hl, errors.New("tag without a histogram")
		}
		hl.tag, line = line[4:comma], line[comma+1:]
	}
	parts := strings.SplitN(line, ",", 4)
	if len(parts) != 4 {
		return hl, errors.New("expected an interval histogram line ([Tag=TAG,]start,length,max,histogram)")
	}
	var err1, err2 error
	hl.startS, err1 = strconv.ParseFloat(parts[0], 64)
	hl.lengthS, err2 = strconv.ParseFloat(parts[1], 64)
	if err1 != nil || err2 != nil {
		return hl, fmt.Errorf("bad interval start or length in %q", parts[0]+","+parts[1])
	}
	h, err := hd.decode(parts[3])
	if err != nil {
		return hl, fmt.Errorf("bad histogram: %w", err)
	}
	hl.h = h
	return hl, nil
}

// cellOf returns the step and region names and the corrected mark of a
// histogram line's tag; an untagged line is step "all", a tag without
// step= names the step itself, the region is "default" unless named.
func (hl *histLine) cellOf() (step, region string, corrected bool, err error) {
	step, region = "all", "default"
	if hl.tag != "" {
		step = hl.tag
	}
	err = scanTag(hl.tag, func(k, v string) {
		switch k {
		case "step":
			step = v
		case "region":
			region = v
		case "figure":
			corrected = v == "corrected"
		}
	})
	return step, region, corrected, err
}

// lineReader reads an hlog line by line, counting the lines for errors.
type lineReader struct {
	br   *bufio.Reader
	name string
	n    int // lines read
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), name: name}
}

// next returns the next line without its line end, and whether a newline
// ended it (a last line without one may have been cut short); io.EOF when
// nothing is left.
func (l *lineReader) next() (line string, whole bool, err error) {
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
func (l *lineReader) errf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: "+format, append([]any{l.name, l.n}, args...)...)
}

// msOf converts seconds since the base time to Unix milliseconds.
func msOf(baseMs int64, s float64) int64 { return baseMs + int64(math.Round(s*1000)) }

// timeOf converts seconds since the base time to a time (ms precision).
func timeOf(baseMs int64, s float64) time.Time { return time.UnixMilli(msOf(baseMs, s)) }
