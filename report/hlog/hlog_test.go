package hlog

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
)

// stormLog records a small storm into rec (seconds intervals, starting at
// start), writing every interval to an hlog, and returns the log, the
// summary and the rotated intervals' count.
func stormLog(t *testing.T, rec *report.Recorder, start time.Time, seconds int, record func(sec int)) ([]byte, *report.Summary) {
	t.Helper()
	return stormLogMeta(t, rec, start, seconds, map[string]string{"profile": "test, with comma"}, record)
}

// stormLogMeta is stormLog with the log's free-form metadata.
func stormLogMeta(t *testing.T, rec *report.Recorder, start time.Time, seconds int, meta map[string]string, record func(sec int)) ([]byte, *report.Summary) {
	t.Helper()
	var buf bytes.Buffer
	lw, err := NewWriter(&buf, MetaOf(rec, meta, []Budget{{Expr: "p99 < 100ms", Source: "--budget"}}))
	if err != nil {
		t.Fatal(err)
	}
	series := report.NewSeriesCollector(start)
	for sec := 0; sec < seconds; sec++ {
		rec.SetActiveAgents(10 * (sec + 1))
		record(sec)
		iv := rec.Rotate(start.Add(time.Duration(sec+1) * time.Second))
		if err := lw.WriteInterval(iv); err != nil {
			t.Fatal(err)
		}
		series.Add(iv)
		rec.Release(iv)
	}
	s := rec.Summary(time.Duration(seconds) * time.Second)
	s.Series = series.Points()
	s.Failures = []report.CheckFailure{{Step: "checkout", Kind: "status", Status: 400, Count: 3}}
	if err := lw.Close(s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), s
}

const ms = time.Millisecond

var logSteps = []string{"add to,cart", "checkout"} // a step name the log format must escape

func recordKnown(rec *report.Recorder, sec, offset int) {
	for i := 0; i < 500; i++ {
		rec.Record(i, 0, i%2, time.Duration(1+(i+offset)%200)*ms, report.OK, 0)
		rec.Record(i, 1, (i+1)%2, time.Duration(20+sec*30+i%7)*ms, report.OK, 0)
	}
	rec.Record(0, 1, 0, 10*time.Second, report.Timeout, 0)
	rec.Record(0, 1, 1, 0, report.ConnRefused, 0)
	rec.RecordDropped(0, 1)
	rec.AddConnections(5)
	// Sessions: every kind of end, in both regions, some lost, and sales.
	for i := 0; i < 7+sec; i++ {
		rec.RecordSession(i%2, (i+offset)%2, report.SessionEnd(i%3), report.AbandonReason(i%int(report.NumAbandonReasons)), i%4 == 1)
		rec.RecordSale(1, i%2, int64(4250+i))
	}
}

func sameStats(t *testing.T, what string, a, b *report.Stats) {
	t.Helper()
	if a.Count != b.Count || a.Counts != b.Counts || a.Dropped != b.Dropped || a.Errors != b.Errors {
		t.Errorf("%s: counts %d %v dropped %d, want %d %v dropped %d", what, a.Count, a.Counts, a.Dropped, b.Count, b.Counts, b.Dropped)
	}
	if a.Raw != b.Raw {
		t.Errorf("%s: latency %+v, want %+v", what, a.Raw, b.Raw)
	}
	if (a.Corrected == nil) != (b.Corrected == nil) || (a.Corrected != nil && *a.Corrected != *b.Corrected) {
		t.Errorf("%s: corrected %+v, want %+v", what, a.Corrected, b.Corrected)
	}
	if a.Sessions != b.Sessions {
		t.Errorf("%s: sessions %+v, want %+v", what, a.Sessions, b.Sessions)
	}
}

func TestHlogRoundTrip(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_123)
	rec := report.NewRecorder(report.Options{Steps: logSteps, Regions: []string{"us-east", "ap tokyo"}, Writes: []bool{true, true}, Model: report.ModelClosed, Start: start})
	data, want := stormLog(t, rec, start, 3, func(sec int) {
		recordKnown(rec, sec, 0)
		rec.Record(1, 0, 0, 300*ms, report.OK, 50*ms) // a corrected figure too
	})
	if !bytes.Contains(data, []byte("Tag=step=add%20to%2Ccart;region=ap%20tokyo,")) {
		t.Errorf("tags not escaped:\n%s", data)
	}
	ls := NewSet()
	if err := ls.Read("run.hlog", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != report.ModelClosed || got.Elapsed != 3*time.Second || !got.Start.Equal(start) || got.Meta["profile"] != "test, with comma" {
		t.Errorf("model %s elapsed %v start %v meta %v", got.Model, got.Elapsed, got.Start, got.Meta)
	}
	if strings.Join(got.Steps, "|") != strings.Join(logSteps, "|") || got.Regions[1] != "ap tokyo" {
		t.Errorf("steps %q regions %q", got.Steps, got.Regions)
	}
	sameStats(t, "overall", &got.Overall, &want.Overall)
	for i := range want.Cells {
		sameStats(t, want.Cells[i].Name, &got.Cells[i], &want.Cells[i])
	}
	if got.Connections != 15 || got.PeakActiveAgents != 30 || len(got.Failures) != 1 || got.Failures[0].Count != 3 {
		t.Errorf("connections %d peak %d failures %v", got.Connections, got.PeakActiveAgents, got.Failures)
	}
	if got.Overall.MeanExpectedInterval != want.Overall.MeanExpectedInterval {
		t.Errorf("mean expected interval %v, want %v", got.Overall.MeanExpectedInterval, want.Overall.MeanExpectedInterval)
	}
	if len(got.Series) != 3 {
		t.Fatalf("series has %d points, want 3: %+v", len(got.Series), got.Series)
	}
	for i := range got.Series {
		g, w := got.Series[i], want.Series[i]
		if g.At != w.At || g.Count != w.Count || g.Errors != w.Errors || g.P99 != w.P99 || g.Max != w.Max || g.ActiveAgents != w.ActiveAgents || g.Dropped != w.Dropped {
			t.Errorf("series[%d] = %+v, want %+v", i, g, w)
		}
		// Per step, raw and corrected: the report re-rendered from the
		// log draws the same per-step charts as the run did.
		if g.P90 != w.P90 || g.Corrected != w.Corrected || !slices.Equal(g.Steps, w.Steps) {
			t.Errorf("series[%d] p90 %v corrected %+v steps %+v,\nwant p90 %v corrected %+v steps %+v", i, g.P90, g.Corrected, g.Steps, w.P90, w.Corrected, w.Steps)
		}
		if st := g.Steps[0]; len(g.Steps) != 2 || st.Count != 501 || st.Raw.Count != 501 || st.Corrected.Count == 0 || st.Corrected.Max < 300*ms ||
			g.Steps[1].Errors != 2 || g.Steps[1].Raw.P50 < 20*ms {
			t.Errorf("series[%d] steps %+v", i, g.Steps)
		}
	}
	if b := ls.Budgets(); len(b) != 1 || b[0].Expr != "p99 < 100ms" {
		t.Errorf("budgets %v", b)
	}

	// HdrHistogram's own log reader reads the file: every interval
	// histogram, the same values.
	r := hdr.NewHistogramLogReader(bytes.NewReader(data))
	total := report.NewHistogram()
	n := 0
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		n++
		if !strings.Contains(h.Tag(), "figure=corrected") {
			total.Merge(h)
		}
	}
	if n == 0 || total.TotalCount() != want.Overall.Raw.Count || total.ValueAtQuantile(99) != want.Overall.Histogram.ValueAtQuantile(99) {
		t.Errorf("hdr log reader: %d histograms, %d values (want %d)", n, total.TotalCount(), want.Overall.Raw.Count)
	}
}

func TestHlogMergeEqualsOneRun(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	opts := report.Options{Steps: logSteps, Regions: []string{"us-east", "ap tokyo"}, Model: report.ModelOpen, Start: start}
	one := report.NewRecorder(opts)
	a, b := report.NewRecorder(opts), report.NewRecorder(opts)
	_, whole := stormLog(t, one, start, 3, func(sec int) { recordKnown(one, sec, 0); recordKnown(one, sec, 77) })
	logA, _ := stormLog(t, a, start, 3, func(sec int) { recordKnown(a, sec, 0) })
	logB, _ := stormLog(t, b, start, 3, func(sec int) { recordKnown(b, sec, 77) })
	ls := NewSet()
	for i, l := range [][]byte{logA, logB} {
		if err := ls.Read([]string{"a.hlog", "b.hlog"}[i], bytes.NewReader(l)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if whole.Overall.Sessions.Ended() == 0 || whole.Overall.Sessions.Lost == 0 || whole.Overall.Sessions.Sales == 0 {
		t.Fatalf("the storm recorded no sessions: %+v", whole.Overall.Sessions)
	}
	sameStats(t, "overall", &got.Overall, &whole.Overall)
	for i := range whole.PerStep {
		sameStats(t, whole.PerStep[i].Name, &got.PerStep[i], &whole.PerStep[i])
	}
	for i := range whole.Cells {
		sameStats(t, whole.Cells[i].Name, &got.Cells[i], &whole.Cells[i])
	}
	var seriesSessions report.Sessions
	for i := range got.Series {
		seriesSessions.Add(&got.Series[i].Sessions)
	}
	if seriesSessions != whole.Overall.Sessions {
		t.Errorf("merged series sessions %+v, want %+v", seriesSessions, whole.Overall.Sessions)
	}
	if got.Connections != whole.Connections || got.Elapsed != 3*time.Second {
		t.Errorf("connections %d (want %d), elapsed %v", got.Connections, whole.Connections, got.Elapsed)
	}
	if len(got.Series) != 3 || got.Series[2].Count != whole.Series[2].Count || got.Series[2].ActiveAgents != 2*whole.Series[2].ActiveAgents {
		t.Errorf("merged series %+v\nwant counts of %+v", got.Series, whole.Series)
	}
	if got.Failures[0].Count != 6 {
		t.Errorf("failures %v: want the two logs' 3 + 3", got.Failures)
	}
}

func TestHlogErrors(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"empty", "", "empty file"},
		{"garbage", "hello\n", "expected an interval histogram line"},
		{"badhist", "Tag=step=a,0.0,1.0,0.1,HISTnotbase64\n", "bad histogram"},
		{"badmeta", "#agentstorm-meta {nope\n", "bad agentstorm metadata"},
		{"iv", "#agentstorm-interval {}\n", "before the agentstorm metadata"},
	} {
		err := NewSet().Read(c.name+".hlog", strings.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name+".hlog") {
			t.Errorf("%s: error %v, want %q with the file name", c.name, err, c.want)
		}
	}
	// A log cut short (no end line, a partial last line) still reads what it has.
	start := time.UnixMilli(1_700_000_000_000)
	rec := report.NewRecorder(report.Options{Steps: logSteps, Model: report.ModelOpen, Start: start})
	data, want := stormLog(t, rec, start, 2, func(sec int) { recordKnown(rec, sec, 0) })
	cut := data[:bytes.Index(data, []byte(endPrefix))]
	ls := NewSet()
	if err := ls.Read("cut.hlog", io.MultiReader(bytes.NewReader(cut))); err != nil {
		t.Fatal(err)
	}
	got, _ := ls.Summary()
	if got.Overall.Count != want.Overall.Count || got.Elapsed != 2*time.Second {
		t.Errorf("cut log: %d requests in %v, want %d in 2s", got.Overall.Count, got.Elapsed, want.Overall.Count)
	}
}

// TestDecoderIntoRecorder is a coordinator following two workers'
// streams: each worker's intervals, decoded as they arrive and merged into
// the coordinator's recorder, give the totals of one run that recorded
// everything (counts exact, percentiles equal).
func TestDecoderIntoRecorder(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_250)
	opts := report.Options{Steps: logSteps, Regions: []string{"us-east", "ap tokyo"}, Model: report.ModelClosed, Start: start}
	one, a, b := report.NewRecorder(opts), report.NewRecorder(opts), report.NewRecorder(opts)
	rec := func(r *report.Recorder, sec, off int) {
		recordKnown(r, sec, off)
		r.Record(off, 1, 1, 400*ms, report.OK, 100*ms)
	}
	_, whole := stormLog(t, one, start, 3, func(sec int) { rec(one, sec, 0); rec(one, sec, 33) })
	logA, _ := stormLog(t, a, start, 3, func(sec int) { rec(a, sec, 0) })
	logB, _ := stormLog(t, b, start, 3, func(sec int) { rec(b, sec, 33) })

	// The coordinator's steps are in another order: names are matched.
	co := report.NewRecorder(report.Options{Steps: []string{logSteps[1], logSteps[0]}, Regions: opts.Regions, Model: report.ModelClosed, Start: start})
	da, db := NewStrictDecoder(bytes.NewReader(logA), "a"), NewStrictDecoder(bytes.NewReader(logB), "b")
	for sec := 0; ; sec++ {
		ia, errA := da.Next()
		ib, errB := db.Next()
		if errA == io.EOF && errB == io.EOF {
			break
		}
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		co.MergeInterval(ia.Interval)
		co.MergeInterval(ib.Interval)
		iv := co.Rotate(ia.End)
		if iv.Count() != ia.Count()+ib.Count() || iv.All.TotalCount() != latencies(ia.Interval)+latencies(ib.Interval) {
			t.Errorf("second %d: merged interval has %d requests, want %d", sec, iv.Count(), ia.Count()+ib.Count())
		}
		co.Release(iv)
	}
	if da.Meta() == nil || da.End() == nil || da.End().Failures[0].Count != 3 {
		t.Errorf("meta %v end %+v", da.Meta(), da.End())
	}
	got := co.Summary(3 * time.Second)
	if whole.Overall.Sessions.Ended() == 0 || whole.Overall.Sessions.Lost == 0 || whole.Overall.Sessions.Sales == 0 {
		t.Fatalf("the storm recorded no sessions: %+v", whole.Overall.Sessions)
	}
	sameStats(t, "overall", &got.Overall, &whole.Overall)
	for i := range whole.PerStep {
		sameStats(t, whole.PerStep[i].Name, &got.PerStep[1-i], &whole.PerStep[i])
	}
	if got.Connections != whole.Connections || got.Dropped != whole.Dropped || got.Invalid != 0 {
		t.Errorf("connections %d dropped %d invalid %d; want %d %d 0", got.Connections, got.Dropped, got.Invalid, whole.Connections, whole.Dropped)
	}
	// A stream cut inside an interval says so.
	cut := logA[:bytes.Index(logA, []byte("\nTag="))+10]
	d := NewStrictDecoder(bytes.NewReader(cut), "cut")
	if _, err := d.Next(); err == nil || !strings.Contains(err.Error(), "ends inside an interval") {
		t.Errorf("cut stream: %v", err)
	}
}

// TestMerge: two workers' logs merged into one hlog read back as the
// totals of one run (counts exact, percentiles equal), one interval per second.
func TestMerge(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	opts := report.Options{Steps: logSteps, Regions: []string{"us-east", "ap tokyo"}, Model: report.ModelClosed, Start: start}
	one, a := report.NewRecorder(opts), report.NewRecorder(opts)
	optsB := opts
	optsB.Regions = []string{"ap tokyo", "eu-west"} // a segment with other regions
	b := report.NewRecorder(optsB)
	rec := func(r *report.Recorder, sec, off int) {
		recordKnown(r, sec, off)
		r.Record(off, 1, 1, 400*ms, report.OK, 100*ms)
	}
	_, whole := stormLog(t, one, start, 3, func(sec int) { rec(one, sec, 0) })
	logA, _ := stormLog(t, a, start, 3, func(sec int) { rec(a, sec, 0) })
	logB, sumB := stormLog(t, b, start.Add(300*time.Millisecond), 3, func(sec int) { rec(b, sec, 5) })
	var merged bytes.Buffer
	err := Merge(&merged, []*Decoder{NewStrictDecoder(bytes.NewReader(logA), "a"), NewStrictDecoder(bytes.NewReader(logB), "b")},
		map[string]string{"merged": "2"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mergedLog := append([]byte(nil), merged.Bytes()...)
	ls := NewSet()
	if err := ls.Read("merged.hlog", &merged); err != nil {
		t.Fatal(err)
	}
	got, _ := ls.Summary()
	if strings.Join(got.Regions, ",") != "us-east,ap tokyo,eu-west" {
		t.Errorf("regions %v", got.Regions)
	}
	wantSess := whole.Overall.Sessions
	wantSess.Add(&sumB.Overall.Sessions)
	if got.Overall.Sessions != wantSess {
		t.Errorf("merged log's sessions %+v, want %+v", got.Overall.Sessions, wantSess)
	}
	if got.Overall.Count != whole.Overall.Count+sumB.Overall.Count || got.Failures[0].Count != 6 {
		t.Errorf("merged %d requests, want %d + %d; failures %v", got.Overall.Count, whole.Overall.Count, sumB.Overall.Count, got.Failures)
	}
	// Region us-east only came from log a: exactly its figures.
	sameStats(t, "us-east", &got.PerRegion[0], &whole.PerRegion[0])
	if got.Overall.MeanExpectedInterval != 100*ms {
		t.Errorf("mean expected interval %v", got.Overall.MeanExpectedInterval)
	}
	if n := bytes.Count(mergedLog, []byte(intervalPrefix)); n < 3 || n > 4 {
		t.Errorf("%d intervals in the merged log, want one per second", n)
	}
}

// TestSeriesFoldsSlivers: the short last interval of a run is folded into
// the second before it, in the run's series and in one read from its hlog.
func TestSeriesFoldsSlivers(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := report.NewRecorder(report.Options{Steps: logSteps, Model: report.ModelOpen, Start: start})
	var buf bytes.Buffer
	lw, _ := NewWriter(&buf, MetaOf(rec, nil, nil))
	sc := report.NewSeriesCollector(start)
	for i, end := range []time.Duration{time.Second, 2 * time.Second, 2200 * time.Millisecond} {
		for k := 0; k < 100*(i+1); k++ {
			rec.Record(k, 0, 0, time.Duration(1+k)*ms, report.OK, 0)
		}
		iv := rec.Rotate(start.Add(end))
		sc.Add(iv)
		_ = lw.WriteInterval(iv)
		rec.Release(iv)
	}
	_ = lw.Close(nil)
	pts := sc.Points()
	if len(pts) != 2 || pts[1].Count != 500 || pts[1].At != 2200*time.Millisecond || pts[1].Max != 300031*time.Microsecond {
		t.Errorf("run series %+v", pts)
	}
	ls := NewSet()
	if err := ls.Read("s.hlog", &buf); err != nil {
		t.Fatal(err)
	}
	s, _ := ls.Summary()
	if len(s.Series) != 2 || s.Series[1].Count != 500 || s.Series[1].Max != pts[1].Max {
		t.Errorf("log series %+v", s.Series)
	}
}

// TestHlogForeign: a log written by another HdrHistogram tool (no
// agentstorm metadata, untagged) reads as one step of report.OK answers.
func TestHlogForeign(t *testing.T) {
	var buf bytes.Buffer
	w := hdr.NewHistogramLogWriter(&buf)
	_ = w.OutputLogFormatVersion()
	_ = w.OutputStartTime(1_700_000_000_000)
	_ = w.OutputLegend()
	want := report.NewHistogram()
	for sec := 0; sec < 3; sec++ {
		h := report.NewHistogram()
		for i := 1; i <= 1000; i++ {
			_ = h.RecordValue(int64(i * 100 * (sec + 1)))
		}
		want.Merge(h)
		h.SetStartTimeMs(1_700_000_000_000 + int64(sec)*1000)
		h.SetEndTimeMs(1_700_000_000_000 + int64(sec+1)*1000)
		if err := w.OutputIntervalHistogram(h); err != nil {
			t.Fatal(err)
		}
	}
	ls := NewSet()
	if err := ls.Read("foreign.hlog", &buf); err != nil {
		t.Fatal(err)
	}
	s, _ := ls.Summary()
	if s.Steps[0] != "all" || s.Overall.Count != 3000 || s.Overall.Counts[report.OK] != 3000 ||
		s.Overall.Raw.P99 != time.Duration(want.ValueAtQuantile(99))*time.Microsecond || len(s.Series) != 3 || s.Elapsed != 3*time.Second {
		t.Errorf("foreign log: steps %v count %d p99 %v series %d elapsed %v", s.Steps, s.Overall.Count, s.Overall.Raw.P99, len(s.Series), s.Elapsed)
	}
}

// TestHlogTruncatedHeaders feeds header lines cut anywhere: each must give an
// error naming the file, line and header, never a panic.
func TestHlogTruncatedHeaders(t *testing.T) {
	bad := []string{"#[BaseTime: ", "#[BaseTime:  \t ", "#[StartTime: ", "#[StartTime:  ,",
		"#[BaseTime: NaN", "#[StartTime: -5", "#[BaseTime: +Inf", "#[BaseTime: x1", "#[StartTime: (seconds"}
	for _, full := range []string{
		"#[BaseTime: 1700000000.000 (seconds since epoch)]",
		"#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]",
	} {
		// Every cut of a good header is either a good number or an error.
		for i := strings.Index(full, ": ") + 1; i <= len(full); i++ {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%q: panic %v", full[:i], r)
					}
				}()
				_ = NewSet().Read("h.hlog", strings.NewReader(full[:i]+"\n"))
				d := NewStrictDecoder(strings.NewReader(full[:i]+"\n"), "d.hlog")
				_, _ = d.Next()
			}()
		}
	}
	for _, l := range bad {
		for n, data := range []string{l + "\n", "#comment\n" + l + "\n"} {
			where := fmt.Sprintf("h.hlog:%d:", n+1)
			header := l[2:strings.IndexByte(l, ':')]
			err := NewSet().Read("h.hlog", strings.NewReader(data))
			if err == nil || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), header) {
				t.Errorf("%q: error %v, want one naming %s and %s", data, err, where, header)
			}
			if header != "BaseTime" {
				continue
			}
			_, err = NewStrictDecoder(strings.NewReader(data), "h.hlog").Next()
			if err == nil || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), header) {
				t.Errorf("decoder %q: error %v, want one naming %s and %s", data, err, where, header)
			}
		}
	}
}

// TestHlogNoHistogramLines: inputs with neither metadata nor a histogram
// line are not hlogs.
func TestHlogNoHistogramLines(t *testing.T) {
	for _, data := range []string{"", "\n\n\n", "#just a comment\n#another\n", "\"StartTimestamp\",\"Interval_Length\"\n", "#[BaseTime: 1700000000.000 (seconds since epoch)]\n"} {
		err := NewSet().Read("e.hlog", strings.NewReader(data))
		if err == nil || !strings.Contains(err.Error(), "not an hlog (no histogram lines)") || !strings.Contains(err.Error(), "e.hlog") {
			t.Errorf("%q: error %v, want not an hlog (no histogram lines)", data, err)
		}
	}
}

// TestEscapeTag: names with and without characters to escape, anywhere in
// the name, escape as the log format wants and read back unchanged.
func TestEscapeTag(t *testing.T) {
	for name, want := range map[string]string{
		"":                 "",
		"checkout-v2.1_~x": "checkout-v2.1_~x",
		" lead":            "%20lead",
		"a,b;c=d":          "a%2Cb%3Bc%3Dd",
		"trail%":           "trail%25",
		"zürich":           "z%C3%BCrich",
	} {
		got := EscapeTag(name)
		if got != want {
			t.Errorf("EscapeTag(%q) = %q, want %q", name, got, want)
		}
		back, err := UnescapeTag(got)
		if err != nil || back != name {
			t.Errorf("UnescapeTag(%q) = %q, %v; want %q", got, back, err, name)
		}
	}
}

func TestSectionsAndEventsSurviveTheHlog(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: logSteps, Regions: []string{"us-east", "eu-west"}, Start: start})
	var buf bytes.Buffer
	lw, err := NewWriter(&buf, MetaOf(rec, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	rec.Record(0, 0, 0, 5*time.Millisecond, report.OK, 0)
	iv := rec.Rotate(start.Add(time.Second))
	if err := lw.WriteInterval(iv); err != nil {
		t.Fatal(err)
	}
	s := rec.Summary(time.Second)
	s.Events = []report.TimelineEvent{{At: 2500 * time.Millisecond, Name: "fail_inventory"}}
	s.Sections = []report.Section{{Key: "gameday", Title: "Game day", Lines: []string{"Verdict:", "  all good"}, Data: 1}}
	if err := lw.Close(s); err != nil {
		t.Fatal(err)
	}
	ls := NewSet()
	if err := ls.Read("run.hlog", &buf); err != nil {
		t.Fatal(err)
	}
	got, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != 1 || got.Events[0].Name != "fail_inventory" || got.Events[0].At != 2500*time.Millisecond {
		t.Errorf("events = %+v", got.Events)
	}
	if len(got.Sections) != 1 || got.Sections[0].Title != "Game day" || strings.Join(got.Sections[0].Lines, "|") != "Verdict:|  all good" {
		t.Errorf("sections = %+v", got.Sections)
	}
}

// latencies counts an interval's raw latencies, cell by cell.
func latencies(iv *report.Interval) int64 {
	var n int64
	for i := range iv.Cells {
		if h := iv.Cells[i].Latency; h != nil {
			n += h.TotalCount()
		}
	}
	return n
}

// TestHlogSessionRows: a cell row without session counts (every log
// written before them, and cells of runs without sessions) reads as no
// sessions; a row with them adds them; a negative count is refused.
func TestHlogSessionRows(t *testing.T) {
	zeros := func(n int) string { return strings.TrimSuffix(strings.Repeat("0,", n), ",") }
	meta := `#agentstorm-meta {"agentstorm_hlog":1,"model":"open","start_ms":1700000000000,"steps":["cart"],"regions":["eu"]}` + "\n"
	row := func(extra string) string {
		return meta + `#agentstorm-interval {"start":0,"end":1,"active":1,"connections":0,"cells":[[0,0,3,` + zeros(report.NumOutcomes-1+3) + extra + `]],"hists":0}` + "\n"
	}
	read := func(data string) (*report.Summary, error) {
		ls := NewSet()
		if err := ls.Read("s.hlog", strings.NewReader(data)); err != nil {
			return nil, err
		}
		return ls.Summary()
	}
	old, err := read(row(""))
	if err != nil || old.Overall.Count != 3 || !old.Overall.Sessions.IsZero() {
		t.Fatalf("row without sessions: %v, %+v", err, old)
	}
	s, err := read(row(",5,1,2,0,1,3,4,34000"))
	want := report.Sessions{Completed: 5, Failed: 1, Abandoned: [report.NumAbandonReasons]int64{2, 0, 1}, Lost: 3, Sales: 4, SalesValue: 34000}
	if err != nil || s.Overall.Sessions != want || s.Series[0].Sessions != want {
		t.Fatalf("row with sessions: %v, %+v, want %+v", err, s, want)
	}
	if _, err := read(row(",5,1,2,0,1,3,-4,34000")); err == nil || !strings.Contains(err.Error(), "negative session count") {
		t.Errorf("negative session count: %v", err)
	}
}

// TestSetKeepsK6AndStormLogsApart: a k6 ingest's abandoned sessions are 0 by construction;
// merged with an agentstorm run they would shrink its abandoned share, and the verdict would
// depend on the order of the files. Either order is refused. Two k6 ingests merge, their
// sale steps joined.
func TestSetKeepsK6AndStormLogsApart(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	opts := report.Options{Steps: logSteps, Regions: []string{"us-east"}, Model: report.ModelClosed, Start: start}
	log := func(meta map[string]string) []byte {
		r := report.NewRecorder(opts)
		b, _ := stormLogMeta(t, r, start, 2, meta, func(sec int) { recordKnown(r, sec, 0) })
		return b
	}
	storm := log(map[string]string{"profile": "p"})
	calm := log(map[string]string{"profile": "p", report.MetaNoPatience: "1"}) // measures no abandonment either
	patient := log(map[string]string{"profile": "p", report.MetaSaleSteps: "checkout"})
	k6a := log(map[string]string{"source": "k6", report.MetaSaleSteps: "checkout"})
	k6b := log(map[string]string{"source": "k6", report.MetaSaleSteps: "pay,checkout"})
	for _, c := range []struct {
		pair [2][]byte
		want string
	}{
		{[2][]byte{storm, k6a}, "measured abandoned sessions"},
		{[2][]byte{k6a, storm}, "measured abandoned sessions"},
		{[2][]byte{calm, patient}, "measured abandoned sessions"},
		{[2][]byte{calm, k6a}, "k6 ingest"},
		{[2][]byte{k6a, calm}, "k6 ingest"},
	} {
		ls := NewSet()
		if err := ls.Read("first", bytes.NewReader(c.pair[0])); err != nil {
			t.Fatal(err)
		}
		if err := ls.Read("second", bytes.NewReader(c.pair[1])); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("logs that measure differently merged: %v, want an error saying %q", err, c.want)
		}
	}
	ls := NewSet()
	for _, b := range [][]byte{k6a, k6b} {
		if err := ls.Read("k6", bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := ls.Summary()
	if got := s.Meta[report.MetaSaleSteps]; got != "checkout,pay" {
		t.Errorf("merged sale steps %q, want checkout,pay", got)
	}
}
