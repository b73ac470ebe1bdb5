package k6

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// ingest reads data with o and returns the summary, the stats, the
// intervals seen (their counts) and the warnings.
func ingest(t *testing.T, o Options, data []byte) (*report.Summary, Stats, []int64, []string, error) {
	t.Helper()
	var counts []int64
	var warns []string
	o.OnInterval = func(iv *report.Interval) { counts = append(counts, iv.Count()) }
	o.Warn = func(m string) { warns = append(warns, m) }
	in := New(o)
	err := in.Read(context.Background(), bytes.NewReader(data), "input")
	s := in.Finish()
	return s, in.Stats(), counts, warns, err
}

func stepStats(t *testing.T, s *report.Summary, name string) *report.Stats {
	t.Helper()
	for i := range s.PerStep {
		if s.PerStep[i].Name == name {
			return &s.PerStep[i]
		}
	}
	t.Fatalf("no step %q; steps %v", name, s.Steps)
	return nil
}

func TestJSONFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	s, st, counts, warns, err := ingest(t, Options{Trends: []string{"http_req_waiting", "cart_total"}}, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings on a good file: %q", warns)
	}
	if st.Format != "json" || st.Requests != 6 || st.TrendPoints != 2 || st.Malformed != 0 {
		t.Errorf("stats %+v", st)
	}
	wantSteps := []string{"add_to_cart", "http://127.0.0.1:8081/products?page=1&size=20", "http_req_waiting", "checkout", "cart_total"}
	if strings.Join(s.Steps, "|") != strings.Join(wantSteps, "|") {
		t.Errorf("steps %q, want %q", s.Steps, wantSteps)
	}
	add := stepStats(t, s, "add_to_cart")
	if add.Count != 2 || add.Counts[report.OK] != 1 || add.Counts[report.ConnRefused] != 1 || add.Raw.Count != 1 {
		t.Errorf("add_to_cart: count %d counts %v latencies %d", add.Count, add.Counts, add.Raw.Count)
	}
	co := stepStats(t, s, "checkout")
	if co.Count != 3 || co.Counts[report.OK] != 1 || co.Counts[report.BadStatus] != 1 || co.Counts[report.Timeout] != 1 {
		t.Errorf("checkout counts %v", co.Counts)
	}
	if got := co.Raw.Max; got < 5012*time.Millisecond || got > 5020*time.Millisecond {
		t.Errorf("checkout max %s, want 5.012s (the timeout's latency)", got)
	}
	if !s.Writes[0] || s.Writes[1] || !s.Writes[3] {
		t.Errorf("writes %v: POST steps are writes, GET not", s.Writes)
	}
	want := map[string]float64{"checks": 75, "checks_passed": 3, "checks_failed": 1, "iterations": 2,
		"dropped_iterations": 3, "vus": 5, "vus_max": 10, "http_reqs": 1, "data_sent": 512}
	for k, v := range want {
		if s.Figures[k] != v {
			t.Errorf("figure %s = %v, want %v", k, s.Figures[k], v)
		}
	}
	if f := s.Figures["http_req_failed"]; math.Abs(f-100.0/3) > 1e-9 {
		t.Errorf("http_req_failed %v%%, want 33.3%%", f)
	}
	if len(s.Failures) != 1 || s.Failures[0].Step != "checkout accepted" || s.Failures[0].Count != 1 {
		t.Errorf("failures %+v", s.Failures)
	}
	// k6 time, not ingest time: second 0 has 4 points (the checkout point
	// written after second 1's is within the window), second 1 one, second 2 three.
	if len(counts) < 3 || counts[0] != 4 || counts[1] != 1 || counts[2] != 3 {
		t.Errorf("interval counts %v, want [4 1 3 ...]", counts)
	}
	if !s.Start.Equal(time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("start %s", s.Start)
	}
	if s.Elapsed < 3*time.Second || s.Elapsed > 3*time.Second+time.Millisecond {
		t.Errorf("elapsed %s, want 3.0005s", s.Elapsed)
	}
	if s.PeakActiveAgents != 5 {
		t.Errorf("peak active (vus) %d, want 5", s.PeakActiveAgents)
	}
}

func TestCSVFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/results.csv")
	if err != nil {
		t.Fatal(err)
	}
	s, st, _, warns, err := ingest(t, Options{RegionTag: "region"}, data)
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	if st.Format != "csv" || st.Requests != 4 {
		t.Errorf("stats %+v", st)
	}
	if strings.Join(s.Regions, "|") != "eu-west|ap-tokyo" {
		t.Errorf("regions %q (from extra_tags)", s.Regions)
	}
	if strings.Join(s.Steps, "|") != "add_to_cart|http://127.0.0.1:8081/products?page=1,2|checkout" {
		t.Errorf("steps %q (a quoted name with a comma)", s.Steps)
	}
	co := stepStats(t, s, "checkout")
	if co.Counts[report.BadStatus] != 1 || co.Counts[report.Timeout] != 1 {
		t.Errorf("checkout counts %v", co.Counts)
	}
	if s.Figures["checks"] != 50 || s.Figures["dropped_iterations"] != 3 || s.Figures["vus"] != 2 || s.Figures["http_req_failed"] != 100 {
		t.Errorf("figures %v", s.Figures)
	}
	if got := stepStats(t, s, "add_to_cart").Raw.P50; got < 12500*time.Microsecond || got > 12513*time.Microsecond {
		t.Errorf("add_to_cart p50 %s, want 12.5ms", got)
	}
	if !s.Start.Equal(time.Unix(1795708800, 0)) || s.Elapsed != 2*time.Second {
		t.Errorf("start %s elapsed %s", s.Start, s.Elapsed)
	}
}

// exactQuantile is HdrHistogram's percentile definition on sorted samples:
// the sample at rank q/100 × n, rounded.
func exactQuantile(sorted []float64, q float64) float64 {
	rank := int(q/100*float64(len(sorted)) + 0.5) // as hdrhistogram-go rounds
	rank = max(rank, 1)
	return sorted[rank-1]
}

func TestPercentilesMatchExact(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 50_000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lats := make([]float64, n)
	for i := range lats {
		lats[i] = math.Round(math.Exp(rng.NormFloat64()*0.8+3)*1000) / 1000 // ms, lognormal around 20 ms, µs resolution
	}
	g := newGen(n, 5000, time.Unix(1795708800, 0), []string{"checkout"}, func(i int) float64 { return lats[i] })
	data, _ := io.ReadAll(g)
	s, _, _, _, err := ingest(t, Options{}, data)
	if err != nil {
		t.Fatal(err)
	}
	sorted := append([]float64(nil), lats...)
	sort.Float64s(sorted)
	got := s.PerStep[0].Raw
	if got.Count != int64(n) {
		t.Fatalf("count %d, want %d", got.Count, n)
	}
	for _, c := range []struct {
		q   float64
		got time.Duration
	}{{50, got.P50}, {90, got.P90}, {99, got.P99}, {99.9, got.P999}, {100, got.Max}} {
		exact := exactQuantile(sorted, c.q)
		g := float64(c.got) / float64(time.Millisecond)
		// 3 significant digits: within 0.1%, plus the µs truncation.
		if g < exact-0.001 || g > exact*1.001+0.001 {
			t.Errorf("p%v = %.3f ms, exact %.3f ms: outside HDR precision", c.q, g, exact)
		}
	}
	under := 0
	for _, v := range lats {
		if v <= 100 {
			under++
		}
	}
	if d := got.Under - int64(under); d < 0 || d > int64(n)/1000 {
		t.Errorf("under 100ms %d, exact %d", got.Under, under)
	}
}

func TestMalformedAndTruncated(t *testing.T) {
	g := newGen(10, 5, time.Unix(1795708800, 0), []string{"a"}, func(int) float64 { return 5 })
	good, _ := io.ReadAll(g)
	lines := strings.SplitAfter(string(good), "\n")
	var b strings.Builder
	for i, l := range lines[:10] {
		if i == 4 {
			b.WriteString(`{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-26T16:00:00Z","value":1` + "\n")
		}
		b.WriteString(l)
	}
	b.WriteString(lines[3][:40]) // k6 killed mid-write
	data := []byte(b.String())

	s, st, _, warns, err := ingest(t, Options{}, data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Overall.Count != 10 || st.Malformed != 2 || !st.Truncated {
		t.Errorf("count %d malformed %d truncated %v, want 10, 2, true", s.Overall.Count, st.Malformed, st.Truncated)
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "input:5: malformed line skipped") || !strings.Contains(warns[1], "input:12: the last line is cut short") {
		t.Errorf("warnings %q", warns)
	}

	s, _, _, _, err = ingest(t, Options{Strict: true}, data)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 5 {
		t.Fatalf("strict: err %v, want a LineError at line 5", err)
	}
	if s.Overall.Count != 4 {
		t.Errorf("strict: %d requests kept, want the 4 before the bad line", s.Overall.Count)
	}
}

func TestGzipDetectedByMagic(t *testing.T) {
	data, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(data)
	_ = zw.Close()
	s, st, _, _, err := ingest(t, Options{}, zb.Bytes())
	if err != nil || st.Requests != 6 || s.Overall.Count != 6 {
		t.Fatalf("gzip: err %v, requests %d, count %d", err, st.Requests, s.Overall.Count)
	}
	// A gzip stream cut short keeps what came before and says so.
	cut := zb.Bytes()[:zb.Len()*2/3]
	_, st, _, warns, err := ingest(t, Options{}, cut)
	if err != nil || !st.Truncated || len(warns) == 0 {
		t.Fatalf("cut gzip: err %v truncated %v warns %q", err, st.Truncated, warns)
	}
}

func TestFollowAppendedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n = 3000
	g := newGen(n, 500, time.Unix(1795708800, 0), []string{"a", "b"}, func(i int) float64 { return float64(i%50) + 1 })
	data, _ := io.ReadAll(g)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // k6 writing: chunks that split lines, with pauses
		defer wg.Done()
		w, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		defer w.Close()
		for off := 0; off < len(data); off += 7777 {
			_, _ = w.Write(data[off:min(off+7777, len(data))])
			time.Sleep(5 * time.Millisecond)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ivs int
	in := New(Options{OnInterval: func(*report.Interval) { ivs++ }})
	if err := in.Read(ctx, NewFollowReader(ctx, f, 400*time.Millisecond, 10*time.Millisecond), path); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s := in.Finish()
	if s.Overall.Count != n || in.Stats().Malformed != 0 {
		t.Fatalf("followed %d requests (%d malformed), want %d", s.Overall.Count, in.Stats().Malformed, n)
	}
	if ivs < 6 {
		t.Errorf("%d intervals, want one per k6 second (6)", ivs)
	}
}

func TestOutOfOrderAndCaps(t *testing.T) {
	line := func(sec int, name string) string {
		ts := time.Unix(1795708800+int64(sec), 0).UTC().Format(time.RFC3339Nano)
		return `{"metric":"http_req_duration","type":"Point","data":{"time":"` + ts + `","value":1,"tags":{"name":"` + name + `","status":"200"}}}` + "\n"
	}
	var b strings.Builder
	b.WriteString(line(0, "s0"))
	b.WriteString(line(2, "s1"))
	b.WriteString(line(1, "s2")) // within the window: second 1
	b.WriteString(line(5, "s3"))
	b.WriteString(line(0, "s4")) // far behind: late, in the open second
	b.WriteString(line(400, "s5"))
	s, st, counts, warns, err := ingest(t, Options{MaxSteps: 4}, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if st.Late != 1 || st.Folded != 3 || s.Overall.Count != 6 {
		t.Errorf("late %d folded %d count %d", st.Late, st.Folded, s.Overall.Count)
	}
	if strings.Join(s.Steps, ",") != "s0,s1,s2,other" {
		t.Errorf("steps %v", s.Steps)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "step names") {
		t.Errorf("warnings %q", warns)
	}
	// Seconds 0, 1, 2 hold one point each; the gap to 400 is one interval.
	if len(counts) < 4 || counts[0] != 1 || counts[1] != 1 || counts[2] != 1 {
		t.Errorf("interval counts %v", counts)
	}
	if s.Elapsed != 400*time.Second {
		t.Errorf("elapsed %s, want 400s", s.Elapsed)
	}
}

func TestNotK6(t *testing.T) {
	_, _, _, _, err := ingest(t, Options{}, []byte("hello world\n"))
	if err == nil || !strings.Contains(err.Error(), "input:1: neither k6 JSON") {
		t.Fatalf("err %v", err)
	}
}

// TestHeapFlat ingests 5,000,000 generated points (100,000 with -short)
// and checks the heap does not grow with them.
func TestHeapFlat(t *testing.T) {
	total := 5_000_000
	if testing.Short() {
		total = 100_000
	}
	first := total / 5
	in := New(Options{})
	start := time.Unix(1795708800, 0)
	steps := []string{"add_to_cart", "checkout", "view", "search", "pay"}
	lat := func(i int) float64 { return float64(i%997) * 0.173 }
	g1 := newGen(first, 20000, start, steps, lat)
	g2 := newGen(total, 20000, start, steps, lat)
	g2.i = first
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	// Read the first part, measure, then the rest from the same stream.
	if err := in.Read(context.Background(), g1, "gen"); err != nil {
		t.Fatal(err)
	}
	h1 := heap()
	if err := in.Read(context.Background(), g2, "gen"); err != nil {
		t.Fatal(err)
	}
	h2 := heap()
	s := in.Finish()
	if s.Overall.Count != int64(total) || in.Stats().Malformed != 0 {
		t.Fatalf("count %d (malformed %d), want %d", s.Overall.Count, in.Stats().Malformed, total)
	}
	t.Logf("heap in use after %d points: %.1f MB; after %d: %.1f MB", first, float64(h1)/1e6, total, float64(h2)/1e6)
	if h2 > h1+8<<20 {
		t.Errorf("heap grew from %.1f MB to %.1f MB over %d more points", float64(h1)/1e6, float64(h2)/1e6, total-first)
	}
}

// TestBadAndHugeDurations: a negative duration is a malformed line (with its
// line number); a huge one is clamped to the recorder's 60 s and counted,
// never wrapped around to a tiny or negative latency that passes budgets.
func TestBadAndHugeDurations(t *testing.T) {
	point := func(v string) string {
		return `{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-26T16:00:00Z","value":` + v +
			`,"tags":{"name":"a","status":"200","method":"GET"}}}` + "\n"
	}
	data := []byte(point("5") + point("-3") + point("1e300") + point("9.3e12") + point("1e999") + point("7"))
	s, st, _, warns, err := ingest(t, Options{}, data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Overall.Count != 4 || st.Malformed != 2 {
		t.Errorf("count %d malformed %d, want 4 and 2", s.Overall.Count, st.Malformed)
	}
	if s.Clamped != 2 || s.Overall.Raw.Max < 60*time.Second {
		t.Errorf("clamped %d max %v, want 2 clamped and max ≥ 60s", s.Clamped, s.Overall.Raw.Max)
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "input:2: malformed line skipped") || !strings.Contains(warns[0], "negative") ||
		!strings.Contains(warns[1], "input:5:") {
		t.Errorf("warnings %q", warns)
	}
	_, _, _, _, err = ingest(t, Options{Strict: true}, data)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("strict: err %v, want a LineError at line 2", err)
	}
}
