// Package k6 reads the results k6 writes with `k6 run --out json=FILE`
// (one JSON object per line) or `--out csv=FILE` and records them into a
// report.Recorder, so a k6 run gets agentstorm's HDR percentiles in fixed
// memory, its budgets, outputs and exit codes.
//
// k6 (go.k6.io/k6) is AGPL: this package imports nothing of it and meets
// k6 only through its documented output formats.
//
// Mapping: every http_req_duration point is one request of the step named
// by its "name" tag (Options.StepTag; k6 sets it to the URL unless the
// script names the request), in the region named by Options.RegionTag.
// Its value (ms) is the latency as k6 measured it, from the send (k6's
// VUs are a closed loop; there is no intended start to correct from).
// Its outcome comes from the status, expected_response and error_code
// tags. Other Trend metrics named in Options.Trends are recorded as steps
// of their own name. Counters, rates and gauges (checks, iterations,
// dropped_iterations, vus, http_req_failed, custom ones) become run-wide
// figures budgets can judge. Iterations are also sessions (see
// sessions.go): each iterations point is a completed session, each
// dropped_iterations point dropped sessions, and with Options.SaleSteps
// an OK answer of a sale step is a sale.
//
// Points are bucketed into one-second intervals by their own timestamps
// (k6 time, not the time of the ingest), so the interval log, the series
// and live budget checks describe the k6 run. Points up to Options.Window
// out of order land in their own second; later ones are counted as late
// and recorded in the current second.
package k6

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// Defaults of Options.
const (
	// DefaultMaxSteps is the most distinct step names kept; points of
	// further names are recorded under the step OtherStep.
	DefaultMaxSteps = 200
	// DefaultMaxRegions is the most distinct region names kept.
	DefaultMaxRegions = 50
	// DefaultWindow is how far out of order points may arrive and still
	// land in their own second.
	DefaultWindow = 2 * time.Second
	// OtherStep is the step (and region) that collects the names beyond
	// the caps.
	OtherStep = "other"
	// maxLine is the longest line read; longer ones are malformed.
	maxLine = 1 << 20
	// maxGap is the largest distance in k6 time from the open second
	// accepted, forward or back; a point further away has a bad timestamp.
	maxGap = 24 * 3600
	// maxBadTimeShare is the largest share of duration points with a bad
	// timestamp an ingest may skip and still be judged: past it the time
	// line is broken (a stale first point, concatenated runs) and what was
	// recorded is a sliver of the run (see Ingester.Refusal).
	maxBadTimeShare = 0.01
	// maxMetrics and maxChecks cap the distinct metric and check names.
	maxMetrics = 1000
	maxChecks  = 200
)

// Options configure an Ingester.
type Options struct {
	// StepTag is the tag that names a request's step ("" means "name").
	// Points without it are named by their "url" tag.
	StepTag string
	// RegionTag is the tag that names a request's region ("" means one
	// region, "default").
	RegionTag string
	// Trends are other Trend metrics (k6's built-in ones such as
	// http_req_waiting, or custom ones) to record, each as a step of its
	// own name. Their samples count as requests of that step.
	Trends []string
	// MaxSteps and MaxRegions cap the distinct names (0: the defaults).
	// A k6 script that does not name its requests has one step per URL;
	// past the cap, points go to the step "other".
	MaxSteps, MaxRegions int
	// Window is the out-of-order window (0: DefaultWindow). Intervals are
	// closed this much k6 time after they end, so the live line lags by it.
	Window time.Duration
	// Strict makes a malformed line an error that stops the ingest
	// (Read returns a *LineError); otherwise it is reported and skipped.
	Strict bool
	// OnInterval is called with each closed one-second interval of k6
	// time (and the last, partial one), from the goroutine that calls
	// Read or Finish. The interval is released after it returns.
	OnInterval func(iv *report.Interval)
	// Warn receives warnings (malformed or truncated lines, caps
	// reached); nil drops them.
	Warn func(msg string)
	// SaleSteps are the steps whose OK answers are sales (k6 has no sale
	// of its own): each is a sale worth OrderValue (minor currency unit,
	// cents; 0 for none).
	SaleSteps  []string
	OrderValue int64
}

// Stats count what an ingest read.
type Stats struct {
	// Format is "json" or "csv" once known.
	Format string
	// Lines is the lines read; Points the data points among them.
	Lines, Points int64
	// Requests is the http_req_duration points recorded; TrendPoints the
	// points of Options.Trends. Points skipped for a bad timestamp are in
	// neither.
	Requests, TrendPoints int64
	// Malformed is the lines skipped as malformed (the truncated last
	// line included).
	Malformed int64
	// Truncated is set when the input ended inside a line or a gzip stream.
	Truncated bool
	// Late is the points that arrived more than the window out of order.
	Late int64
	// BadTime is the points skipped for a missing or bad timestamp
	// (unreadable, or more than 24 h from the time line of the first).
	BadTime int64
	// Folded is the points recorded under "other" because the step or
	// region cap was reached.
	Folded int64
	// Ignored is the points of metrics that are neither recorded nor
	// figures (unselected trends, metrics of unknown type).
	Ignored int64
}

// LineError is a malformed line in Strict mode.
type LineError struct {
	// Name is the input's name, Line the 1-based line number.
	Name string
	Line int64
	// Msg says what is wrong.
	Msg string
}

// Error returns the error as "name:line: message", like a compiler's.
func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
}

// Metric kinds, from Metric lines or k6's built-in names.
const (
	kindUnknown = iota
	kindCounter
	kindGauge
	kindRate
	kindTrend
)

// Roles of a metric in the mapping.
const (
	roleFigure   = iota // counter, gauge or rate: a run-wide figure
	roleDuration        // http_req_duration: requests
	roleTrend           // a selected trend: a step of its own
	roleChecks          // checks: passes and fails per check name
)

var builtinKinds = map[string]int{
	"http_reqs": kindCounter, "iterations": kindCounter, "dropped_iterations": kindCounter,
	"data_sent": kindCounter, "data_received": kindCounter, "grpc_reqs": kindCounter,
	"ws_msgs_sent": kindCounter, "ws_msgs_received": kindCounter, "ws_sessions": kindCounter,
	"checks": kindRate, "http_req_failed": kindRate,
	"vus": kindGauge, "vus_max": kindGauge,
	"http_req_duration": kindTrend, "http_req_blocked": kindTrend, "http_req_connecting": kindTrend,
	"http_req_tls_handshaking": kindTrend, "http_req_sending": kindTrend, "http_req_waiting": kindTrend,
	"http_req_receiving": kindTrend, "iteration_duration": kindTrend, "group_duration": kindTrend,
	"ws_connecting": kindTrend, "ws_session_duration": kindTrend, "ws_ping": kindTrend,
	"grpc_req_duration": kindTrend,
}

// metricAcc is what is known and summed of one metric.
type metricAcc struct {
	name    string
	kind    int
	role    int
	step    int // roleTrend: the step id (-1 until the first point)
	points  int64
	sum     float64
	nonzero int64
	max     float64
}

// pending is a point held until its second closes: a request (lat its
// latency), the vus gauge (lat holds its value, not a latency), or
// sessions (lat holds their count; see sessions.go).
type pending struct {
	lat    time.Duration
	step   int32
	region int32
	out    report.Outcome
	what   pointKind
}

// pointKind says what a pending point is.
type pointKind uint8

const (
	pointRequest    pointKind = iota
	pointGauge                // the vus gauge
	pointIterations           // completed sessions (k6 iterations)
	pointDropped              // dropped sessions (k6 dropped_iterations)
)

// Check is one k6 check's passes and fails.
type Check struct {
	Name          string
	Passes, Fails int64
}

// Ingester maps k6 results into a recorder. It is not safe for concurrent
// use: one goroutine calls Read (once per input) and then Finish.
type Ingester struct {
	o     Options
	stats Stats
	jp    jsonParser
	cp    csvParser

	rec         *report.Recorder
	stepIDs     map[string]int
	stepWrite   []bool
	regIDs      map[string]int
	otherStep   int
	otherRegion int

	metrics map[string]*metricAcc
	checks  map[string]*Check
	otherCk *Check

	cur      int64 // the open second (Unix seconds)
	win      int64 // window in seconds
	ring     [][]pending
	pendingN int
	maxNanos int64
	minNanos int64

	// lastStep is the request step named last for the first time (-1
	// before any): where an iteration is counted; firstStep the first
	// (where a dropped iteration is). saleStep marks Options.SaleSteps by
	// step id.
	lastStep, firstStep int
	saleStep            []bool

	early      pending // a gauge seen before the first request
	earlyNanos int64
	haveEarly  bool

	stopped bool

	warned int
	long   []byte
}

// Stop makes Read return after the current line. It is for OnInterval
// (a live budget that aborts), which runs on Read's goroutine.
func (in *Ingester) Stop() { in.stopped = true }

// New returns an Ingester with the options o.
func New(o Options) *Ingester {
	if o.StepTag == "" {
		o.StepTag = "name"
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.MaxRegions <= 0 {
		o.MaxRegions = DefaultMaxRegions
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	win := int64((o.Window + time.Second - 1) / time.Second)
	in := &Ingester{
		o:           o,
		stepIDs:     map[string]int{},
		regIDs:      map[string]int{},
		otherStep:   -1,
		otherRegion: -1,
		lastStep:    -1,
		firstStep:   -1,
		metrics:     map[string]*metricAcc{},
		checks:      map[string]*Check{},
		win:         win,
		ring:        make([][]pending, win+1),
	}
	keys := [numTags]string{tagStep: o.StepTag, tagRegion: o.RegionTag, tagStatus: "status",
		tagExpected: "expected_response", tagMethod: "method", tagCheck: "check",
		tagErrorCode: "error_code", tagURL: "url"}
	for k, v := range keys {
		if v != "" {
			in.jp.keys[k] = []byte(v)
			in.cp.keys[k] = []byte(v)
		}
	}
	for _, t := range o.Trends {
		if t == "http_req_duration" {
			continue
		}
		in.metrics[t] = &metricAcc{name: t, kind: kindTrend, role: roleTrend, step: -1}
	}
	return in
}

// Recorder returns the recorder, nil before the first timestamped point.
func (in *Ingester) Recorder() *report.Recorder { return in.rec }

// Stats returns the counts so far.
func (in *Ingester) Stats() Stats { return in.stats }

func (in *Ingester) warn(format string, args ...any) {
	if in.o.Warn != nil {
		in.o.Warn(fmt.Sprintf(format, args...))
	}
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// Read ingests one input (plain or gzip, told by its first bytes): k6's
// JSON lines or CSV, told by the first line. name is used in messages.
// It stops at the end of r or when ctx is done. A truncated last line or
// gzip stream is reported and skipped; a malformed line is reported and
// skipped, or in Strict mode returned as a *LineError. What was read
// before stays recorded whatever Read returns.
func (in *Ingester) Read(ctx context.Context, r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 256<<10)
	if head, _ := br.Peek(2); bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	var lineNo int64
	format := 0 // 0 unknown, 1 json, 2 csv
	for {
		if in.stopped || (lineNo&4095 == 0 && ctx.Err() != nil) {
			return nil
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			in.long = append(in.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(in.long) <= maxLine {
				line, err = br.ReadSlice('\n')
				in.long = append(in.long, line...)
			}
			line = in.long
			if len(line) > maxLine {
				for errors.Is(err, bufio.ErrBufferFull) { // drop the rest of the line
					_, err = br.ReadSlice('\n')
				}
				lineNo++
				if e := in.malformed(name, lineNo, "line longer than 1 MiB"); e != nil {
					return e
				}
				if err != nil {
					return in.endErr(name, err)
				}
				continue
			}
		}
		if len(line) == 0 && err != nil {
			return in.endErr(name, err)
		}
		lineNo++
		in.stats.Lines++
		last := err != nil // no newline: the input ended inside this line
		body := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(body)) == 0 {
			if last {
				return in.endErr(name, err)
			}
			continue
		}
		if format == 0 {
			if body[0] == '{' {
				format, in.stats.Format = 1, "json"
			} else if bytes.HasPrefix(body, []byte("metric_name")) || bytes.Contains(body, []byte("metric_value")) {
				format, in.stats.Format = 2, "csv"
				if herr := in.cp.header(body); herr != nil {
					return fmt.Errorf("%s:%d: %w", name, lineNo, herr)
				}
				continue
			} else {
				return fmt.Errorf("%s:%d: neither k6 JSON (a line starting with {) nor k6 CSV (a header starting with metric_name): is this a k6 --out json or --out csv file?", name, lineNo)
			}
		}
		var rec *record
		var perr error
		if format == 1 {
			if r, e := in.jp.parse(body); e != nil {
				perr = e
			} else {
				rec = r
			}
		} else {
			rec, perr = in.cp.parse(body)
		}
		if perr != nil {
			if last {
				in.stats.Malformed++
				in.stats.Truncated = true
				in.warn("%s:%d: the last line is cut short (no newline at the end: k6 was probably stopped while writing); skipped it: %v", name, lineNo, perr)
				return in.endErr(name, err)
			}
			if e := in.malformed(name, lineNo, perr.Error()); e != nil {
				return e
			}
			continue
		}
		if msg := in.handle(rec); msg != "" {
			if e := in.malformed(name, lineNo, msg); e != nil {
				return e
			}
		}
		if last {
			return in.endErr(name, err)
		}
	}
}

// endErr turns the error that ended the input into Read's result: io.EOF
// is the normal end; a gzip stream or file cut short is reported and is
// not an error (what was read stays).
func (in *Ingester) endErr(name string, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		in.stats.Truncated = true
		in.warn("%s: the input ends abruptly (%v): k6 was probably stopped while writing; kept everything before it", name, err)
		return nil
	}
	return fmt.Errorf("%s: read: %w", name, err)
}

// malformed reports a bad line; in Strict mode it returns the error.
func (in *Ingester) malformed(name string, lineNo int64, msg string) error {
	in.stats.Malformed++
	if in.o.Strict {
		return &LineError{Name: name, Line: lineNo, Msg: msg}
	}
	in.warned++
	switch {
	case in.warned <= 10:
		in.warn("%s:%d: malformed line skipped: %s", name, lineNo, msg)
	case in.warned == 11:
		in.warn("%s: more malformed lines; only their count is reported from now on", name)
	}
	return nil
}

// metric returns the accumulator of a metric name, creating it (nil past
// maxMetrics).
func (in *Ingester) metric(name []byte) *metricAcc {
	if m := in.metrics[bytesString(name)]; m != nil {
		return m
	}
	if len(in.metrics) >= maxMetrics {
		return nil
	}
	s := string(name)
	m := &metricAcc{name: s, kind: builtinKinds[s], step: -1}
	switch {
	case s == "http_req_duration":
		m.role = roleDuration
	case s == "checks":
		m.role = roleChecks
	}
	in.metrics[s] = m
	return m
}

// handle maps one parsed record. It returns why the record is malformed
// (a value that is not a finite number, a negative duration), or "".
func (in *Ingester) handle(r *record) string {
	switch string(r.typ) {
	case "Point":
	case "Metric":
		if m := in.metric(r.metric); m != nil && m.role == roleFigure {
			switch string(r.dataType) {
			case "counter":
				m.kind = kindCounter
			case "gauge":
				m.kind = kindGauge
			case "rate":
				m.kind = kindRate
			case "trend":
				m.kind = kindTrend
			}
		}
		return ""
	default:
		in.stats.Ignored++
		return ""
	}
	if r.hasValue && (math.IsNaN(r.value) || math.IsInf(r.value, 0)) {
		return fmt.Sprintf("metric %s: value %v is not a finite number", r.metric, r.value)
	}
	m := in.metric(r.metric)
	if m != nil && r.hasValue && r.value < 0 && (m.role == roleDuration || m.role == roleTrend) {
		return fmt.Sprintf("metric %s: negative duration %v ms", r.metric, r.value)
	}
	in.stats.Points++
	if m == nil || !r.hasValue {
		in.stats.Ignored++
		return ""
	}
	switch m.role {
	case roleDuration, roleTrend:
		nanos, ok := in.parseTime(r.time)
		if !ok {
			in.stats.BadTime++
			return ""
		}
		in.request(m, r, nanos)
	case roleChecks:
		in.check(r)
	default:
		switch m.kind {
		case kindCounter, kindRate, kindGauge:
		default:
			if m.kind == kindTrend {
				m.points++
			}
			in.stats.Ignored++
			return ""
		}
		m.points++
		m.sum += r.value
		if r.value != 0 {
			m.nonzero++
		}
		if m.points == 1 || r.value > m.max {
			m.max = r.value
		}
		if m.kind == kindCounter && (m.name == "iterations" || m.name == "dropped_iterations") {
			in.sessions(m.name, r)
		}
		if m.name == "vus" && m.kind == kindGauge {
			if nanos, ok := in.parseTime(r.time); ok {
				in.bucket(nanos, pending{lat: time.Duration(min(r.value, 1e9)), what: pointGauge})
			}
		}
	}
	return ""
}

// parseTime parses a point's timestamp in the input's format.
func (in *Ingester) parseTime(b []byte) (int64, bool) {
	if in.stats.Format == "csv" {
		return parseCSVTime(b)
	}
	return parseRFC3339(b)
}

// check counts one checks point (value 1 pass, 0 fail) by check name.
func (in *Ingester) check(r *record) {
	m := in.metrics["checks"]
	m.points++
	m.sum += r.value
	if r.value != 0 {
		m.nonzero++
	}
	name := r.tags[tagCheck]
	c := in.checks[bytesString(name)]
	if c == nil {
		if len(in.checks) < maxChecks {
			c = &Check{Name: string(name)}
			in.checks[c.Name] = c
		} else {
			if in.otherCk == nil {
				in.otherCk = &Check{Name: "(other checks)"}
			}
			c = in.otherCk
		}
	}
	if r.value != 0 {
		c.Passes++
	} else {
		c.Fails++
	}
}

// request records a duration or trend point.
func (in *Ingester) request(m *metricAcc, r *record, nanos int64) {
	var step, region int
	out := report.OK
	if m.role == roleTrend {
		if in.rec == nil {
			in.start(nanos, m.name, "default")
		}
		if m.step < 0 {
			m.step = in.stepID([]byte(m.name), false)
		}
		step = m.step
		region = in.regionID(nil)
	} else {
		name := r.tags[tagStep]
		if name == nil {
			name = r.tags[tagURL]
		}
		if name == nil {
			name = []byte("(no " + in.o.StepTag + " tag)")
		}
		if in.rec == nil {
			reg := "default"
			if in.o.RegionTag != "" && r.tags[tagRegion] != nil {
				reg = string(r.tags[tagRegion])
			}
			in.start(nanos, string(name), reg)
		}
		known := len(in.stepIDs)
		step = in.stepID(name, isWrite(r.tags[tagMethod]))
		in.flowStep(step, len(in.stepIDs) > known)
		region = in.regionID(r.tags[tagRegion])
		out = outcomeOf(r.tags[tagStatus], r.tags[tagExpected], r.tags[tagErrorCode])
	}
	// Clamp in float first: beyond int64 nanoseconds the conversion is
	// undefined. The recorder clamps anything over its 60 s to 60 s and
	// counts it (Summary.Clamped).
	lat := time.Duration(min(r.value, maxLatencyMs) * float64(time.Millisecond))
	if !in.bucket(nanos, pending{lat: lat, step: int32(step), region: int32(region), out: out}) {
		return
	}
	if m.role == roleTrend {
		in.stats.TrendPoints++
	} else {
		in.stats.Requests++
	}
}

// maxLatencyMs bounds a k6 duration before it becomes a time.Duration: far
// above the recorder's 60 s highest value, far below int64 nanoseconds.
const maxLatencyMs = 1e9

func isWrite(method []byte) bool {
	switch string(method) {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// outcomeOf classifies a request from its tags: status 0 is a failure
// without an answer, classed by k6's error_code; expected_response=false
// (k6's default: status outside 200–399, or the script's
// setResponseCallback) is a bad status; without that tag, 4xx and 5xx are.
func outcomeOf(status, expected, errCode []byte) report.Outcome {
	st, ok := atoi(status)
	if ok && st == 0 {
		code, _ := atoi(errCode)
		switch {
		case code == 1050 || code == 1211:
			return report.Timeout
		case code >= 1100 && code < 1200:
			return report.DNS
		case code == 1212:
			return report.ConnRefused
		case code == 1201 || code == 1220 || code == 1221:
			return report.ConnReset
		case code >= 1300 && code < 1400:
			return report.TLS
		}
		return report.OtherError
	}
	switch string(expected) {
	case "false":
		return report.BadStatus
	case "true":
		return report.OK
	}
	if ok && st >= 400 {
		return report.BadStatus
	}
	return report.OK
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	return digitsN(b)
}

// start creates the recorder at the second of the first point.
func (in *Ingester) start(nanos int64, step, region string) {
	first := nanos
	if in.haveEarly && abs64(floorSec(in.earlyNanos)-floorSec(nanos)) > maxGap {
		in.haveEarly = false // a gauge with a stale clock must not start the run years off
		in.stats.BadTime++
	}
	if in.haveEarly {
		first = min(first, in.earlyNanos)
	}
	sec := floorSec(first)
	in.rec = report.NewRecorder(report.Options{Steps: []string{step}, Regions: []string{region},
		Stripes: 1, Model: report.ModelClosed, Start: time.Unix(sec, 0)})
	in.stepIDs[step] = 0
	in.stepWrite = []bool{false}
	in.regIDs[region] = 0
	in.cur = sec
	in.minNanos, in.maxNanos = first, max(nanos, first)
	if in.haveEarly {
		in.haveEarly = false
		in.bucket(in.earlyNanos, in.early)
	}
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

func floorSec(nanos int64) int64 {
	s := nanos / 1e9
	if nanos < 0 && nanos%1e9 != 0 {
		s--
	}
	return s
}

// stepID returns the id of a step name, adding it (or folding it into
// "other" past the cap).
func (in *Ingester) stepID(name []byte, write bool) int {
	id, ok := in.stepIDs[bytesString(name)]
	if !ok {
		if len(in.stepIDs) >= in.o.MaxSteps-1 {
			in.stats.Folded++
			if in.otherStep < 0 {
				in.warn("more than %d step names (k6 names each request by its URL unless the script sets a name tag): further names are recorded as step %q", in.o.MaxSteps-1, OtherStep)
				in.otherStep = in.rec.AddStep(OtherStep, false)
				in.stepWrite = append(in.stepWrite, false)
			}
			return in.otherStep
		}
		s := string(name)
		id = in.rec.AddStep(s, write)
		in.stepIDs[s] = id
		for len(in.stepWrite) <= id {
			in.stepWrite = append(in.stepWrite, false)
		}
		in.stepWrite[id] = write
		return id
	}
	if write && !in.stepWrite[id] {
		in.rec.AddStep(string(name), true)
		in.stepWrite[id] = true
	}
	return id
}

// regionID returns the id of a region name (nil: "default").
func (in *Ingester) regionID(name []byte) int {
	if in.o.RegionTag == "" {
		return 0
	}
	if name == nil {
		name = []byte("default")
	}
	if id, ok := in.regIDs[bytesString(name)]; ok {
		return id
	}
	if len(in.regIDs) >= in.o.MaxRegions-1 {
		in.stats.Folded++
		if in.otherRegion < 0 {
			in.warn("more than %d region names: further names are recorded as region %q", in.o.MaxRegions-1, OtherStep)
			in.otherRegion = in.rec.AddRegion(OtherStep)
		}
		return in.otherRegion
	}
	s := string(name)
	id := in.rec.AddRegion(s)
	in.regIDs[s] = id
	return id
}

// bucket files a point under its second: recorded now when its second is
// open (or already closed: a late point), held when it is ahead. A point
// more than maxGap away from the open second, ahead or behind, is not on
// the run's time line: it is counted as a bad timestamp and false returned.
func (in *Ingester) bucket(nanos int64, p pending) bool {
	if in.rec == nil {
		// A gauge before any request: kept until the first request
		// starts the clock (and names the first step).
		in.early, in.earlyNanos, in.haveEarly = p, nanos, true
		return true
	}
	sec := floorSec(nanos)
	if sec-in.cur > maxGap || in.cur-sec > maxGap {
		in.stats.BadTime++
		return false
	}
	in.maxNanos = max(in.maxNanos, nanos)
	in.minNanos = min(in.minNanos, nanos)
	if sec <= in.cur {
		if sec < in.cur {
			in.stats.Late++
		}
		in.apply(p)
		return true
	}
	for sec > in.cur+in.win {
		if in.pendingN == 0 && sec-in.win > in.cur+1 {
			// A gap in k6 time: close the open second, then one empty
			// interval for the gap.
			in.rotate(in.cur + 1)
			in.rotate(sec - in.win)
			in.cur = sec - in.win
			continue
		}
		in.advance()
	}
	slot := &in.ring[in.slot(sec)]
	*slot = append(*slot, p)
	in.pendingN++
	return true
}

// Refusal returns why the ingest must not be judged, or nil: no request
// was recorded (an empty file is one thing, but so is a file whose every
// point has an unreadable time), or more than 1% of the duration points
// were skipped for a bad timestamp, so that the time line is broken and
// what was recorded is a sliver of the run. A pipeline must never go green
// on either.
func (in *Ingester) Refusal() error {
	st := in.stats
	if st.Requests+st.TrendPoints == 0 {
		msg := fmt.Sprintf("no request was recorded from %s points", strconv.FormatInt(st.Points, 10))
		if st.BadTime > 0 {
			msg += fmt.Sprintf(" (%d skipped for a missing or unreadable timestamp)", st.BadTime)
		}
		return errors.New(msg + ": nothing to judge")
	}
	if float64(st.BadTime) > maxBadTimeShare*float64(st.Requests+st.TrendPoints+st.BadTime) {
		first, _ := in.Span()
		return fmt.Errorf("the k6 time line is broken: %d of %d duration points were skipped for a missing timestamp or one more than 24 h away from the run's clock, which started at %s with the first point; "+
			"a stale clock or concatenated runs? Judging the %d points left would judge a sliver of the run: fix or split the input",
			st.BadTime, st.Requests+st.TrendPoints+st.BadTime, first.UTC().Format(time.RFC3339), st.Requests+st.TrendPoints)
	}
	return nil
}

func (in *Ingester) slot(sec int64) int {
	n := int64(len(in.ring))
	return int(((sec % n) + n) % n)
}

func (in *Ingester) apply(p pending) {
	switch p.what {
	case pointGauge:
		in.rec.SetActiveAgents(int(p.lat))
	case pointIterations, pointDropped:
		in.applySessions(p)
	default:
		in.rec.Record(0, int(p.step), int(p.region), p.lat, p.out, 0)
		if p.out == report.OK && int(p.step) < len(in.saleStep) && in.saleStep[p.step] {
			in.rec.RecordSale(int(p.step), int(p.region), in.o.OrderValue)
		}
	}
}

// advance closes the open second and opens the next, recording the
// points held for it.
func (in *Ingester) advance() {
	in.rotate(in.cur + 1)
	in.cur++
	slot := &in.ring[in.slot(in.cur)]
	for _, p := range *slot {
		in.apply(p)
	}
	in.pendingN -= len(*slot)
	*slot = (*slot)[:0]
}

// rotate closes the recorder's interval at the Unix second sec.
func (in *Ingester) rotate(sec int64) {
	in.rotateAt(time.Unix(sec, 0))
}

func (in *Ingester) rotateAt(t time.Time) {
	iv := in.rec.Rotate(t)
	if in.o.OnInterval != nil {
		in.o.OnInterval(iv)
	}
	in.rec.Release(iv)
}

// Finish records every held point, closes the last interval at the last
// point's time and returns the summary: the recorder's figures plus the
// k6 figures (Summary.Figures) and failed checks (Summary.Failures).
// Elapsed is the k6 time from the first second to the last point. Without
// any point it returns an empty summary of one step "default".
func (in *Ingester) Finish() *report.Summary {
	if in.rec == nil {
		start := time.Unix(0, 0)
		if in.haveEarly {
			start = time.Unix(floorSec(in.earlyNanos), 0)
		}
		in.rec = report.NewRecorder(report.Options{Stripes: 1, Model: report.ModelClosed, Start: start})
	} else {
		for in.pendingN > 0 {
			in.advance()
		}
		end := time.Unix(0, in.maxNanos)
		if open := time.Unix(in.cur, 0); end.Before(open) {
			end = open
		}
		in.rotateAt(end)
	}
	elapsed := time.Duration(0)
	if in.stats.Requests+in.stats.TrendPoints > 0 || in.maxNanos > 0 {
		elapsed = time.Unix(0, in.maxNanos).Sub(in.rec.Start())
	}
	s := in.rec.Summary(elapsed)
	figs, _ := in.Figures()
	s.Figures = figs
	for _, c := range in.Checks() {
		if c.Fails > 0 {
			s.Failures = append(s.Failures, report.CheckFailure{Step: c.Name, Kind: "check", Count: c.Fails})
		}
	}
	return s
}

// Figures returns the run-wide figures and their units: per counter its
// sum (iterations, dropped_iterations, http_reqs, data_sent, custom
// counters), per rate the share of non-zero values in % (checks,
// http_req_failed), per gauge its maximum (vus, vus_max); and
// checks_passed, checks_failed. Metrics without points are left out.
func (in *Ingester) Figures() (map[string]float64, map[string]report.Unit) {
	figs := map[string]float64{}
	units := map[string]report.Unit{}
	for _, m := range in.metrics {
		if m.points == 0 || m.role == roleDuration || m.role == roleTrend {
			continue
		}
		switch {
		case m.role == roleChecks || m.kind == kindRate:
			figs[m.name] = 100 * float64(m.nonzero) / float64(m.points)
			units[m.name] = report.UnitPercent
			if m.role == roleChecks {
				figs["checks_passed"], units["checks_passed"] = float64(m.nonzero), report.UnitCount
				figs["checks_failed"], units["checks_failed"] = float64(m.points-m.nonzero), report.UnitCount
			}
		case m.kind == kindCounter:
			figs[m.name], units[m.name] = m.sum, report.UnitCount
		case m.kind == kindGauge:
			figs[m.name], units[m.name] = m.max, report.UnitCount
		}
	}
	return figs, units
}

// FigureUnits returns the units of the figures an ingest can produce
// before it has read anything: k6's built-in counters, rates and gauges,
// so budgets can be checked before the input is read.
func FigureUnits() map[string]report.Unit {
	u := map[string]report.Unit{"checks_passed": report.UnitCount, "checks_failed": report.UnitCount}
	for name, k := range builtinKinds {
		switch k {
		case kindRate:
			u[name] = report.UnitPercent
		case kindCounter, kindGauge:
			u[name] = report.UnitCount
		}
	}
	return u
}

// Checks returns every check's passes and fails, sorted by most fails,
// then name.
func (in *Ingester) Checks() []Check {
	out := make([]Check, 0, len(in.checks)+1)
	for _, c := range in.checks {
		out = append(out, *c)
	}
	if in.otherCk != nil {
		out = append(out, *in.otherCk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Fails != out[j].Fails {
			return out[i].Fails > out[j].Fails
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// UnusedTrends returns the Trend metrics that had points but were not
// recorded (not named in Options.Trends), sorted.
func (in *Ingester) UnusedTrends() []string {
	var out []string
	for _, m := range in.metrics {
		if m.kind == kindTrend && m.role == roleFigure && m.points > 0 {
			out = append(out, m.name)
		}
	}
	sort.Strings(out)
	return out
}

// Span returns the k6 time of the first and the last point recorded
// (zero times before any).
func (in *Ingester) Span() (first, last time.Time) {
	if in.rec == nil || (in.minNanos == 0 && in.maxNanos == 0) {
		return time.Time{}, time.Time{}
	}
	return time.Unix(0, in.minNanos), time.Unix(0, in.maxNanos)
}

// String summarises the stats in one line.
func (s Stats) String() string {
	msg := fmt.Sprintf("%s lines (%s), %s points: %s requests", strconv.FormatInt(s.Lines, 10), s.Format,
		strconv.FormatInt(s.Points, 10), strconv.FormatInt(s.Requests, 10))
	if s.TrendPoints > 0 {
		msg += fmt.Sprintf(", trend samples %d", s.TrendPoints)
	}
	if s.Malformed > 0 {
		msg += fmt.Sprintf(", %d malformed lines skipped", s.Malformed)
	}
	if s.Late > 0 {
		msg += fmt.Sprintf(", %d points late beyond the window (recorded in the second they arrived)", s.Late)
	}
	if s.BadTime > 0 {
		msg += fmt.Sprintf(", %d points with a bad timestamp skipped", s.BadTime)
	}
	if s.Folded > 0 {
		msg += fmt.Sprintf(", %d points folded into %q", s.Folded, OtherStep)
	}
	return msg
}
