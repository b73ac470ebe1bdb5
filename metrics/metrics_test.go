package metrics

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/agentstorm/agentstorm/report"
)

// scrape fetches url in the protobuf exposition format (the one native
// histograms need) and returns the metric families by name.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f := expfmt.ResponseFormat(resp.Header)
	if f.FormatType() != expfmt.TypeProtoDelim {
		t.Fatalf("scrape answered %q, not protobuf", resp.Header.Get("Content-Type"))
	}
	dec := expfmt.NewDecoder(resp.Body, f)
	out := map[string]*dto.MetricFamily{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if err == io.EOF {
				return out
			}
			t.Fatal(err)
		}
		out[mf.GetName()] = mf
	}
}

func labelsOf(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func find(t *testing.T, mf *dto.MetricFamily, want map[string]string) *dto.Metric {
	t.Helper()
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		ok := true
		for k, v := range want {
			ok = ok && l[k] == v
		}
		if ok {
			return m
		}
	}
	t.Fatalf("%s has no series %v", mf.GetName(), want)
	return nil
}

// nativeQuantile computes quantile q from a native histogram's positive
// buckets: the upper bound of the bucket holding the q-th value.
func nativeQuantile(h *dto.Histogram, q float64) float64 {
	rank := q * float64(h.GetSampleCount())
	seen := float64(h.GetZeroCount())
	if seen >= rank {
		return 0
	}
	base := math.Pow(2, math.Pow(2, -float64(h.GetSchema())))
	idx, di := int32(0), 0
	var count int64
	for _, sp := range h.GetPositiveSpan() {
		idx += sp.GetOffset()
		for j := uint32(0); j < sp.GetLength(); j++ {
			count += h.GetPositiveDelta()[di]
			di++
			seen += float64(count)
			if seen >= rank {
				return math.Pow(base, float64(idx))
			}
			idx++
		}
	}
	return math.Inf(1)
}

func TestScrapeNativeHistogramsAndCounts(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"}, Start: start, Model: report.ModelOpen})
	// add_to_cart @ us-east: 1,000 answers at 1…1000 × 50 µs (50 µs … 50 ms), 3 timeouts at 2 s, 5 refused.
	for i := 1; i <= 1000; i++ {
		rec.Record(i, 0, 0, time.Duration(i)*50*time.Microsecond, report.OK, 0)
	}
	for i := 0; i < 3; i++ {
		rec.Record(i, 0, 0, 2*time.Second, report.Timeout, 0)
	}
	for i := 0; i < 5; i++ {
		rec.Record(i, 0, 0, 0, report.ConnRefused, 0)
	}
	// checkout @ ap-tokyo: 10 answers at 120 ms with bad status, 2 dropped.
	for i := 0; i < 10; i++ {
		rec.Record(i, 1, 1, 120*time.Millisecond, report.BadStatus, 0)
	}
	rec.RecordDropped(1, 1)
	rec.RecordDropped(1, 1)
	iv := rec.Rotate(start.Add(time.Second))

	m := New(rec.Steps(), rec.Regions(), map[string]string{"segment": "1/4"})
	m.Observe(iv, Snapshot{Active: 42, Connected: 40, Dials: 45, DialErrors: 5})
	rec.Release(iv)
	// A second interval adds up.
	rec.Record(1, 0, 0, 10*time.Millisecond, report.OK, 0)
	iv = rec.Rotate(start.Add(2 * time.Second))
	m.Observe(iv, Snapshot{Active: 40, Connected: 40, Dials: 47, DialErrors: 5})

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)

	lat := fams["agentstorm_request_duration_seconds"]
	if lat == nil || lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no latency histogram: %v", lat)
	}
	h := find(t, lat, map[string]string{"step": "add_to_cart", "region": "us-east", "segment": "1/4"}).GetHistogram()
	if h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 {
		t.Fatalf("not a native histogram: schema %d, %d spans", h.GetSchema(), len(h.GetPositiveSpan()))
	}
	if len(h.GetBucket()) != len(Buckets) {
		t.Errorf("%d classic buckets next to the native ones, want %d", len(h.GetBucket()), len(Buckets))
	}
	if h.GetSampleCount() != 1004 { // 1000 + 3 timeouts + 1; refused has no latency
		t.Errorf("sample count %d, want 1004", h.GetSampleCount())
	}
	wantSum := 0.0
	for i := 1; i <= 1000; i++ {
		wantSum += float64(i) * 50e-6
	}
	wantSum += 3*2 + 0.010
	if math.Abs(h.GetSampleSum()-wantSum)/wantSum > 0.001 {
		t.Errorf("sum %.4f s, want %.4f s (within HDR precision)", h.GetSampleSum(), wantSum)
	}
	// p50 of the 1,004 values is 25 ms; the native bucket holding it is at
	// most 9% (schema 3) above it.
	if p50 := nativeQuantile(h, 0.5); p50 < 0.025 || p50 > 0.025*1.1 {
		t.Errorf("p50 from native buckets %.4f s, want 25 ms…27.5 ms", p50)
	}
	if p999 := nativeQuantile(h, 0.999); p999 < 1.99 || p999 > 2.2 {
		t.Errorf("p99.9 from native buckets %.3f s, want 2 s…2.2 s (the timeouts)", p999)
	}

	req := fams["agentstorm_requests_total"]
	for _, c := range []struct {
		step, region, outcome string
		n                     float64
	}{
		{"add_to_cart", "us-east", "ok", 1001},
		{"add_to_cart", "us-east", "timeout", 3},
		{"add_to_cart", "us-east", "conn_refused", 5},
		{"checkout", "ap-tokyo", "bad_status", 10},
		{"checkout", "ap-tokyo", "ok", 0},
	} {
		got := find(t, req, map[string]string{"step": c.step, "region": c.region, "outcome": c.outcome}).GetCounter().GetValue()
		if got != c.n {
			t.Errorf("requests_total{%s,%s,%s} = %v, want %v", c.step, c.region, c.outcome, got, c.n)
		}
	}
	if got := find(t, fams["agentstorm_errors_total"], map[string]string{"step": "add_to_cart", "region": "us-east"}).GetCounter().GetValue(); got != 8 {
		t.Errorf("errors_total = %v, want 8", got)
	}
	if got := find(t, fams["agentstorm_dropped_sessions_total"], map[string]string{"step": "checkout", "region": "ap-tokyo"}).GetCounter().GetValue(); got != 2 {
		t.Errorf("dropped = %v, want 2", got)
	}
	gauge := func(name string) float64 { return fams[name].GetMetric()[0].GetGauge().GetValue() }
	counter := func(name string) float64 { return fams[name].GetMetric()[0].GetCounter().GetValue() }
	if gauge("agentstorm_agents_active") != 40 || gauge("agentstorm_connections_open") != 40 ||
		counter("agentstorm_dials_total") != 47 || counter("agentstorm_dial_errors_total") != 5 {
		t.Errorf("gauges/counters: active %v conns %v dials %v dial errors %v; want 40 40 47 5",
			gauge("agentstorm_agents_active"), gauge("agentstorm_connections_open"), counter("agentstorm_dials_total"), counter("agentstorm_dial_errors_total"))
	}
}

// TestObserveGrownRecorder: a recorder that gained a region after New
// changes its cell layout; cells are still labelled by their own step and
// region, and those New was not given are left out.
func TestObserveGrownRecorder(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"a", "b"}, Regions: []string{"r1"}, Start: start})
	m := New(rec.Steps(), rec.Regions(), nil)
	r2 := rec.AddRegion("r2")
	rec.Record(0, 1, 0, time.Millisecond, report.OK, 0)
	rec.Record(0, 1, r2, time.Millisecond, report.Timeout, 0)
	iv := rec.Rotate(start.Add(time.Second))
	m.Observe(iv, Snapshot{})
	rec.Release(iv)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)
	req := fams["agentstorm_requests_total"]
	if got := find(t, req, map[string]string{"step": "b", "region": "r1", "outcome": "ok"}).GetCounter().GetValue(); got != 1 {
		t.Errorf("requests_total{b,r1,ok} = %v, want 1", got)
	}
	for _, mt := range req.GetMetric() {
		if l := labelsOf(mt); l["outcome"] == "timeout" && mt.GetCounter().GetValue() != 0 {
			t.Errorf("the r2 timeout was counted as %v", l)
		}
	}
}

func TestServe(t *testing.T) {
	m := New([]string{"s"}, []string{"r"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	addr, done, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, "http://"+addr+"/metrics")
	if fams["agentstorm_agents_active"] == nil {
		t.Fatalf("scrape lacks agentstorm_agents_active: %d families", len(fams))
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, _, err := m.Serve(context.Background(), "256.0.0.1:0"); err == nil {
		t.Fatal("Serve on a bad address: no error")
	}
}

// BenchmarkObserve measures feeding one second of a 25,000 req/s storm
// (7 steps × 4 regions) into the metrics: ns/op is per interval; the
// ns/value metric is the cost per recorded answer.
func BenchmarkObserve(b *testing.B) {
	steps := []string{"a", "b", "c", "d", "e", "f", "g"}
	regions := []string{"r1", "r2", "r3", "r4"}
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Start: start})
	for i := 0; i < 25_000; i++ {
		rec.Record(i, i%7, i%4, time.Duration(1000+i%50_000)*time.Microsecond, report.OK, 0)
	}
	iv := rec.Rotate(start.Add(time.Second))
	m := New(steps, regions, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Observe(iv, Snapshot{Active: 50_000, Connected: 50_000, Dials: int64(i)})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/25_000, "ns/value")
}
