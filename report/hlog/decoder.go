package hlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// ErrTruncated is wrapped by the error a strict Decoder returns when the
// log ends inside an interval: a writer killed mid-write, or a stream cut.
// What was read before it is whole.
var ErrTruncated = errors.New("the log ends inside an interval")

// Kind says what a Record was in the log.
type Kind uint8

const (
	// IntervalRecord is an agentstorm interval record and its histograms.
	IntervalRecord Kind = iota
	// ForeignLine is a histogram line of a log without interval records
	// (another tool's, or before any record): every value is an OK answer.
	ForeignLine
	// ExtraLine is a histogram line past its interval record's histograms
	// or naming a step or region the metadata lacks: it belongs to that
	// interval, with no counts of its own (tolerant decoders only).
	ExtraLine
)

// Record is one interval read from a log.
type Record struct {
	// Interval has the counts and the packed histograms of each cell, with
	// the log's step and region names (one cell named by the tag for a
	// line); its All is nil. Its histograms belong to the caller.
	*report.Interval
	// Seconds is the interval's length as the log gives it (the record's
	// or the line's, not rounded to milliseconds as Start and End are).
	Seconds float64
	// Kind says what it was in the log.
	Kind Kind
}

// Decoder reads an hlog, agentstorm's or another HdrHistogram tool's,
// interval by interval: it is the one parser of the format. By default it
// is tolerant: histogram lines without agentstorm's interval records are
// read as OK answers, a log cut short gives what it has, and a last line
// without a newline is read. Strict decoders are for live streams and
// agentstorm's own logs: they need the metadata, hand over an interval as
// soon as its last histogram line has arrived, take a last line without a
// newline for a cut (io.EOF), and say ErrTruncated for an interval cut
// short.
type Decoder struct {
	lines     *lineReader
	strict    bool
	cutInside bool // the input ended inside an interval
	meta      *Meta
	baseMs    int64
	haveBase  bool
	end       *End
	// cur is the last interval record read; counted is set once there
	// was one.
	cur       *Record
	counted   bool
	sawHist   bool
	queue     []*Record
	copyTo    io.Writer
	pending   []byte // the lines of the interval being read, for copyTo
	onComment func(line string) error
	onMeta    func(m *Meta) error
	eof       bool      // io.EOF was returned
	hists     v2Decoder // decodes the histogram lines
}

// NewDecoder returns a tolerant decoder of r; name is used in errors.
func NewDecoder(r io.Reader, name string) *Decoder {
	return &Decoder{lines: newLineReader(r, name)}
}

// NewStrictDecoder returns a strict decoder of r (see Decoder); name is
// used in errors.
func NewStrictDecoder(r io.Reader, name string) *Decoder {
	d := NewDecoder(r, name)
	d.strict = true
	return d
}

// DecodeInto makes the decoder take the histograms of the lines it decodes
// from pool (those of the recorder's geometry), so that a reader that
// gives them back once merged allocates none in the steady state.
func (d *Decoder) DecodeInto(pool *report.PackedPool) { d.hists.pool = pool }

// Name returns the name the decoder uses in errors.
func (d *Decoder) Name() string { return d.lines.name }

// Meta returns the log's metadata once Next has read it (nil before, and
// for another tool's log).
func (d *Decoder) Meta() *Meta { return d.meta }

// End returns the log's end line once Next has returned io.EOF, or nil
// when the log had none (the run crashed or the stream was cut).
func (d *Decoder) End() *End { return d.end }

// Base returns the log's base time, Unix ms (the BaseTime header's, else
// the StartTime header's or the metadata's start), and whether it has one.
func (d *Decoder) Base() (int64, bool) { return d.baseMs, d.haveBase }

// CopyTo makes the decoder copy every line it reads to w, each interval's
// lines only once the interval is whole, so w never holds half of one.
// Call it before the first Next.
func (d *Decoder) CopyTo(w io.Writer) { d.copyTo = w }

// OnComment has the decoder call f with every comment line that is not
// agentstorm's own or a header (such as a worker's stats lines), as it is
// read; an error from f stops Next.
func (d *Decoder) OnComment(f func(line string) error) { d.onComment = f }

// OnMeta has the decoder call f with the metadata as soon as it is read;
// an error from f stops Next (with the line's position).
func (d *Decoder) OnMeta(f func(m *Meta) error) { d.onMeta = f }

// readLine returns the next line without its newline; io.EOF at the end.
// A strict decoder takes a last line without a newline for a line cut
// short (a writer killed mid-write, or a stream still being written).
func (d *Decoder) readLine() (string, error) {
	line, whole, err := d.lines.next()
	if err == nil && !whole && d.strict {
		return "", io.EOF
	}
	return line, err
}

// keep copies a line to copyTo: at once, or with the interval being read
// when inInterval.
func (d *Decoder) keep(line string, inInterval bool) error {
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
func (d *Decoder) flushCopy() error {
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

// Next returns the next interval, or io.EOF after the last one. A
// tolerant decoder says at the end when the input was no hlog at all.
func (d *Decoder) Next() (*Record, error) {
	if len(d.queue) > 0 {
		r := d.queue[0]
		d.queue = d.queue[1:]
		return r, nil
	}
	for {
		line, err := d.readLine()
		if errors.Is(err, io.EOF) {
			return nil, d.atEOF()
		}
		if err != nil {
			return nil, err
		}
		if err := d.keep(line, strings.HasPrefix(line, intervalPrefix)); err != nil {
			return nil, err
		}
		switch {
		case line == "":
		case strings.HasPrefix(line, metaPrefix):
			if err := d.readMeta(line[len(metaPrefix):]); err != nil {
				return nil, err
			}
		case strings.HasPrefix(line, baseTimePrefix):
			v, err := headerTime(line, baseTimePrefix)
			if err != nil {
				return nil, d.lines.errf("%v", err)
			}
			if d.meta == nil || !d.haveBase {
				d.baseMs, d.haveBase = int64(v*1000), true
			}
		case strings.HasPrefix(line, startPrefix):
			v, err := headerTime(line, startPrefix)
			if err != nil {
				return nil, d.lines.errf("%v", err)
			}
			if !d.haveBase {
				d.baseMs, d.haveBase = int64(v*1000), true
			}
		case strings.HasPrefix(line, intervalPrefix):
			if d.meta == nil {
				return nil, d.lines.errf("interval before the agentstorm metadata line")
			}
			return d.interval(line[len(intervalPrefix):])
		case strings.HasPrefix(line, endPrefix):
			if err := d.readEnd(line[len(endPrefix):]); err != nil {
				return nil, err
			}
		case line[0] == '#' && !strings.HasPrefix(line, "#[") && d.onComment != nil:
			if err := d.onComment(line); err != nil {
				return nil, d.lines.errf("%v", err)
			}
		case line[0] == '#' || line[0] == '"':
			// Other comments and the legend.
		case d.strict:
			return nil, d.lines.errf("histogram line outside an interval")
		default:
			return d.loneLine(line)
		}
	}
}

// Cut reports, at the end of the input, whether it is an agentstorm log
// that ends without its end line: the run that wrote it was cut short
// (killed, or a crash) or the file was truncated. An interval cut in the
// middle is not returned.
func (d *Decoder) Cut() bool { return d.meta != nil && d.end == nil || d.cutInside }

// atEOF is what Next returns at the end of the input.
func (d *Decoder) atEOF() error {
	if !d.strict && !d.eof {
		if d.lines.n == 0 {
			return fmt.Errorf("%s: empty file: not an hlog (no histogram lines)", d.lines.name)
		}
		if d.meta == nil && !d.sawHist {
			return fmt.Errorf("%s: not an hlog (no histogram lines)", d.lines.name)
		}
	}
	d.eof = true
	return io.EOF
}

func (d *Decoder) readMeta(js string) error {
	m, err := parseMeta(js)
	if err != nil {
		return d.lines.errf("%v", err)
	}
	if len(m.Steps) == 0 || len(m.Regions) == 0 {
		return d.lines.errf("metadata without steps or regions")
	}
	d.meta = m
	if !d.haveBase {
		d.baseMs, d.haveBase = m.StartMs-m.StartMs%1000, true
	}
	if d.onMeta != nil {
		if err := d.onMeta(m); err != nil {
			return d.lines.errf("%v", err)
		}
	}
	return nil
}

func (d *Decoder) readEnd(js string) error {
	var e End
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		return d.lines.errf("bad end record: %v", err)
	}
	if m := d.meta; m != nil {
		for _, ei := range e.EI {
			if c := ei[0]; c < 0 || c >= int64(len(m.Steps)*len(m.Regions)) {
				return d.lines.errf("expected-interval cell %d out of range", c)
			}
		}
	}
	d.end = &e
	return nil
}

// interval reads an interval record and its histogram lines.
func (d *Decoder) interval(js string) (*Record, error) {
	var rec intervalRecord
	if err := json.Unmarshal([]byte(js), &rec); err != nil {
		return nil, d.lines.errf("bad interval record: %v", err)
	}
	m := d.meta
	nr := len(m.Regions)
	iv := &report.Interval{Start: timeOf(d.baseMs, rec.Start), End: timeOf(d.baseMs, rec.End), Steps: m.Steps, Regions: m.Regions,
		Cells:        make([]report.CellInterval, len(m.Steps)*nr),
		ActiveAgents: rec.Active, Connections: rec.Connections, Redirects: rec.Redirects}
	for c := range iv.Cells {
		iv.Cells[c].Step, iv.Cells[c].Region = c/nr, c%nr
	}
	for _, row := range rec.Cells {
		if err := addRow(iv, row); err != nil {
			return nil, d.lines.errf("%v", err)
		}
	}
	r := &Record{Interval: iv, Seconds: rec.End - rec.Start, Kind: IntervalRecord}
	d.cur, d.counted = r, true
	for i := 0; i < rec.Hists; i++ {
		line, err := d.readLine()
		if errors.Is(err, io.EOF) {
			if d.strict {
				return nil, d.lines.errf("%w (%d of %d histograms)", ErrTruncated, i, rec.Hists)
			}
			// A log cut inside an interval: its counts would disagree
			// with its latencies, so the interval is left out (Cut).
			d.cur, d.cutInside = nil, true
			return nil, d.atEOF()
		}
		if err != nil {
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
	return r, nil
}

// histogram reads one of an interval record's histogram lines into its
// cell; a tolerant decoder queues a line naming a cell the metadata lacks
// as an ExtraLine.
func (d *Decoder) histogram(iv *report.Interval, line string) error {
	if d.strict && !strings.HasPrefix(line, "Tag=") {
		return d.lines.errf("expected a tagged histogram line")
	}
	hl, err := parseHistLine(line, &d.hists)
	if err != nil {
		return d.lines.errf("%v", err)
	}
	d.sawHist = true
	step, region, corrected, err := hl.cellOf()
	if err != nil {
		return d.lines.errf("%v", err)
	}
	ci := iv.Cell(slices.Index(iv.Steps, step), slices.Index(iv.Regions, region))
	if ci == nil {
		if d.strict {
			return d.lines.errf("tag %q names a step or region the metadata does not have", hl.tag)
		}
		d.queue = append(d.queue, d.lineRecord(hl, step, region, corrected, ExtraLine))
		return nil
	}
	hl.h.SetStartTimeMs(iv.Start.UnixMilli())
	hl.h.SetEndTimeMs(iv.End.UnixMilli())
	if corrected {
		ci.Corrected = report.MergePacked(ci.Corrected, hl.h)
	} else {
		ci.Latency = report.MergePacked(ci.Latency, hl.h)
	}
	return nil
}

// loneLine reads a histogram line outside an interval record (tolerant
// decoders): another tool's line, or one more line of the last record.
func (d *Decoder) loneLine(line string) (*Record, error) {
	hl, err := parseHistLine(line, &d.hists)
	if err != nil {
		return nil, d.lines.errf("%v", err)
	}
	d.sawHist = true
	step, region, corrected, err := hl.cellOf()
	if err != nil {
		return nil, d.lines.errf("%v", err)
	}
	kind := ForeignLine
	if d.counted {
		kind = ExtraLine
	}
	return d.lineRecord(hl, step, region, corrected, kind), nil
}

// lineRecord makes a one-cell record of a histogram line. A foreign line's
// values are OK answers, timed by the line (relative to the base time
// unless they are epoch seconds within a year of it, the HdrHistogram
// readers' rule); an extra line is timed as its record, with no counts.
func (d *Decoder) lineRecord(hl histLine, step, region string, corrected bool, kind Kind) *Record {
	iv := &report.Interval{Steps: []string{step}, Regions: []string{region}, Cells: make([]report.CellInterval, 1)}
	r := &Record{Interval: iv, Kind: kind}
	if kind == ExtraLine {
		iv.Start, iv.End, r.Seconds = d.cur.Start, d.cur.End, d.cur.Seconds
	} else {
		off := d.baseMs
		if hl.startS >= float64(d.baseMs)/1000-365*24*3600 {
			off = 0
		}
		iv.End = time.UnixMilli(msOf(off, hl.startS+hl.lengthS))
		iv.Start = iv.End.Add(-time.Duration(hl.lengthS * float64(time.Second)))
		r.Seconds = hl.lengthS
	}
	c := &iv.Cells[0]
	if corrected {
		c.Corrected = hl.h
		return r
	}
	c.Latency = hl.h
	if kind == ForeignLine {
		n := hl.h.TotalCount()
		dense := report.NewHistogram()
		hl.h.MergeInto(dense)
		c.Counts[report.OK], iv.Counts[report.OK] = n, n
		c.Under = report.CountAtOrBelow(dense, report.ComplianceLimit)
		iv.Under = c.Under
	}
	return r
}
