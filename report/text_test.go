package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0µs"},
		{850 * time.Microsecond, "850µs"},
		{1234 * time.Microsecond, "1.23ms"},
		{12345 * time.Microsecond, "12.3ms"},
		{123456 * time.Microsecond, "123ms"},
		{2100 * time.Millisecond, "2.1s"},
		{20 * time.Millisecond, "20ms"},
		{999999 * time.Microsecond, "1s"},
		{30 * time.Second, "30s"},
		{2*time.Hour + 3*time.Minute, "2h03m"},
		{12500 * time.Millisecond, "12.5s"},
		{65 * time.Second, "1m05s"},
		{-2 * time.Millisecond, "-2ms"},
	} {
		if got := FormatDuration(c.d); got != c.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
	if got := formatPct(0.99996); got != "99.99%" {
		t.Errorf("formatPct(0.99996) = %q: a miss must not round up to 100%%", got)
	}
	if got := formatErrPct(1, 20001); got != "<0.01%" {
		t.Errorf("formatErrPct(1, 20001) = %q: one error must not show as 0.00%%", got)
	}
	if got := FormatCount(1234567); got != "1,234,567" {
		t.Errorf("formatCount = %q", got)
	}
}

func closedSummary(t *testing.T) *Summary {
	t.Helper()
	r := NewRecorder(Options{
		Steps:   []string{"browse", "add_to_cart", "checkout"},
		Regions: []string{"eu-west", "ap-tokyo"},
		Writes:  []bool{false, true, true},
		Model:   ModelClosed,
	})
	for i := 0; i < 1000; i++ {
		r.Record(i, 0, i%2, 500*ms, OK, 600*ms) // browse: slow but not a write
		r.Record(i, 1, i%2, 20*ms, OK, 50*ms)   // add_to_cart: fast
		lat := 40 * ms                          // checkout: 10% at 150 ms
		if i%10 == 0 {
			lat = 150 * ms
		}
		r.Record(i, 2, i%2, lat, OK, 50*ms)
	}
	r.Record(0, 2, 1, 0, ConnRefused, 0)
	r.AddConnections(64)
	r.SetActiveAgents(64)
	r.Release(r.Rotate(time.Now()))
	return r.Summary(10 * time.Second)
}

func TestWriteTextClosed(t *testing.T) {
	s := closedSummary(t)
	// Judged: the less flattering of raw and corrected, figure by figure.
	// Here the correction's fill-ins of checkout's 150 ms answers (100 ms,
	// 50 ms) raise the share within 100 ms, so raw's share is judged.
	o := &s.Overall
	if o.Corrected == nil {
		t.Fatal("closed model: no corrected figure")
	}
	if j := o.Judged(); j.Compliance() != min(o.Raw.Compliance(), o.Corrected.Compliance()) || j.P99 != max(o.Raw.P99, o.Corrected.P99) ||
		j.Compliance() != o.Raw.Compliance() {
		t.Errorf("judged compliance %v p99 %v; raw %v %v, corrected %v %v", j.Compliance(), j.P99, o.Raw.Compliance(), o.Raw.P99, o.Corrected.Compliance(), o.Corrected.P99)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[1], "Sub-100 ms compliance: 63.33% of 3,000 answers within 100 ms, raw (the correction for coordinated omission gives 65.62%, kinder") {
		t.Errorf("headline is not first:\n%s", out)
	}
	// The worst write step is checkout (90% raw), not browse (0%, not a write).
	if !strings.HasPrefix(lines[2], "Worst write step: checkout") {
		t.Errorf("worst write step line = %q", lines[2])
	}
	for _, want := range []string{
		"Per step (latency from send)", "Per region (latency from send)", "Per step × region",
		"add_to_cart @ ap-tokyo", "corrected for coordinated omission", "p99.9", "<=100ms",
		"Connections opened: 64", "Dropped sessions: 0", "conn_refused 1",
		"closed model", "RecordCorrectedValue", "mean ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if t.Failed() {
		return
	}
	t.Log("\n" + out)
}

func TestWriteTextOpen(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"add_to_cart"}, Model: ModelOpen})
	for i := 0; i < 100; i++ {
		r.Record(i, 0, 0, time.Duration(i+1)*ms, OK, 0)
	}
	r.RecordDropped(0, 0)
	var buf bytes.Buffer
	if err := WriteText(&buf, r.Summary(time.Second)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Sub-100 ms compliance: 100% of 100 answers within 100 ms (from intended start)", "Worst step: add_to_cart",
		"latency from intended start", "intended (scheduled)", "Dropped sessions: 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("open summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "corrected for coordinated omission)") {
		t.Errorf("open summary shows a corrected table:\n%s", out)
	}
	if err := WriteText(&buf, nil); err == nil {
		t.Error("nil summary: no error")
	}
}

func TestLiveLine(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	r := NewRecorder(Options{Start: start})
	for i := 0; i < 199; i++ {
		lat := 5 * ms
		if i >= 195 {
			lat = 300 * ms
		}
		r.Record(i, 0, 0, lat, OK, 0)
	}
	r.Record(0, 0, 0, 2*time.Second, Timeout, 0) // a timeout is an error with a latency
	iv := r.Rotate(start.Add(2 * time.Second))
	line := LiveLine(iv, 75*time.Second, 10*time.Minute, 15000)
	if strings.Contains(line, "\n") {
		t.Fatalf("live line has a newline: %q", line)
	}
	for _, want := range []string{"1:15/10:00", "agents 15,000", "100 req/s", "p50 5ms", "p99 300ms", "<=100ms 97.50%", "errors 1 (0.50%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("live line %q lacks %q", line, want)
		}
	}
	if got := LiveLine(nil, time.Second, 0, 3); got != "0:01  agents 3" {
		t.Errorf("LiveLine(nil) = %q", got)
	}
}

func TestWriteTextEmpty(t *testing.T) {
	r := NewRecorder(Options{})
	var buf bytes.Buffer
	if err := WriteText(&buf, r.Summary(0)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "no answers recorded") || strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Errorf("empty summary:\n%s", out)
	}
}

func TestWriteTextEmptyCells(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"cart", "order_status"}, Regions: []string{"eu", "tokyo"}, Model: ModelOpen})
	r.Record(0, 0, 0, 3*ms, OK, 0)
	r.Record(0, 0, 1, 4*ms, OK, 0)
	r.Record(0, 1, 1, 0, ConnRefused, 0) // a request without latency
	var buf bytes.Buffer
	if err := WriteText(&buf, r.Summary(time.Second)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "order_status @ eu") {
		t.Errorf("a cell without requests is listed:\n%s", out)
	}
	if strings.Contains(out, "0µs") {
		t.Errorf("missing latencies shown as 0µs instead of -:\n%s", out)
	}
	if !strings.Contains(out, "order_status @ tokyo") {
		t.Errorf("a cell with a failed request is not listed:\n%s", out)
	}
}

// TestWorstWriteStepTie: two write steps both wholly within 100 ms; the
// one whose p99 is three times higher is the worst, whatever the names.
func TestWorstWriteStepTie(t *testing.T) {
	r := NewRecorder(Options{Steps: []string{"add_to_cart", "checkout", "browse"}, Writes: []bool{true, true, false}, Model: ModelOpen})
	for i := 0; i < 100; i++ {
		r.Record(i, 0, 0, 10*ms, OK, 0)
		r.Record(i, 1, 0, 30*ms, OK, 0)
		r.Record(i, 2, 0, 90*ms, OK, 0)
	}
	s := r.Summary(time.Second)
	worst, isWrite := s.WorstWriteStep()
	if worst == nil || !isWrite || worst.Name != "checkout" {
		t.Fatalf("worst write step %+v (write %v); want checkout (p99 30ms against add_to_cart's 10ms)", worst, isWrite)
	}
	if c := worst.Judged().Compliance(); c != 1 {
		t.Fatalf("checkout compliance %v, want 1", c)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Worst write step: checkout") {
		t.Errorf("text names another step:\n%s", buf.String())
	}
}
