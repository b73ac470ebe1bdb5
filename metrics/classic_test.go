package metrics

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"sort"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentstorm/agentstorm/report"
)

// scrapeText fetches url in the text exposition format (what a Prometheus
// without native histograms, VictoriaMetrics or a Datadog check reads) and
// returns the body.
func scrapeText(t *testing.T, url string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if f := expfmt.ResponseFormat(resp.Header); f.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("scrape answered %q, not the text format", resp.Header.Get("Content-Type"))
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bucket is one classic bucket: upper bound and cumulative count.
type bucket struct {
	le float64
	n  float64
}

// classicBuckets sums the classic buckets of the series of mf whose labels
// match want, by bound: what sum by (le) (...) does in PromQL.
func classicBuckets(mf *dto.MetricFamily, want map[string]string) []bucket {
	by := map[float64]float64{}
	for _, m := range mf.GetMetric() {
		l := labelsOf(m)
		ok := true
		for k, v := range want {
			ok = ok && l[k] == v
		}
		if !ok {
			continue
		}
		for _, b := range m.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the text parser keeps le="+Inf"; it is _count
				by[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			}
		}
		by[math.Inf(1)] += float64(m.GetHistogram().GetSampleCount())
	}
	out := make([]bucket, 0, len(by))
	for le, n := range by {
		out = append(out, bucket{le, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// histogramQuantile is PromQL's histogram_quantile over classic buckets
// (promql/quantile.go, bucketQuantile): find the bucket holding rank
// q × count and interpolate linearly inside it; the first bucket's lower
// bound is 0; a rank in the +Inf bucket answers the highest finite bound.
func histogramQuantile(q float64, bs []bucket) float64 {
	total := bs[len(bs)-1].n
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	b := sort.Search(len(bs)-1, func(i int) bool { return bs[i].n >= rank })
	if b == len(bs)-1 {
		return bs[len(bs)-2].le
	}
	lower, below := 0.0, 0.0
	if b > 0 {
		lower, below = bs[b-1].le, bs[b-1].n
	}
	return lower + (bs[b].le-lower)*(rank-below)/(bs[b].n-below)
}

// bucketIndex is the index of the classic bucket holding v (le >= v).
func bucketIndex(v float64) int {
	return sort.SearchFloat64s(Buckets, v)
}

// TestClassicBucketsAsPrometheusReadsThem runs a storm-shaped recording
// through the metrics, scrapes the text format, and computes what a
// Prometheus without native histograms computes: p99 by histogram_quantile
// within one bucket of the run's own p99 (for the whole storm, each step
// and each cell), and the share within 100 ms from the le="0.1" bucket
// exactly the run's compliance.
func TestClassicBucketsAsPrometheusReadsThem(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	steps, regions := []string{"add_to_cart", "checkout"}, []string{"us-east", "ap-tokyo"}
	rec := report.NewRecorder(report.Options{Steps: steps, Regions: regions, Start: start, Model: report.ModelOpen})
	m := New(steps, regions, nil)
	rng := rand.New(rand.NewPCG(17, 1))
	// Log-normal latencies with a median per cell from 8 ms to 70 ms (the
	// slow cells' p99 lands well past 100 ms), 5 intervals of 4,000 answers,
	// plus values on both sides of 100 ms's HDR bucket (99.968 … 100.031 ms
	// count as within 100 ms; 100.032 ms does not).
	medians := []float64{8e-3, 40e-3, 25e-3, 70e-3}
	edge := []time.Duration{99_967 * time.Microsecond, 99_968 * time.Microsecond, 100 * time.Millisecond,
		100_031 * time.Microsecond, 100_032 * time.Microsecond, 100_063 * time.Microsecond}
	for sec := 1; sec <= 5; sec++ {
		for i := 0; i < 4000; i++ {
			cell := i % 4
			v := medians[cell] * math.Exp(0.8*rng.NormFloat64())
			rec.Record(i, cell/2, cell%2, time.Duration(v*float64(time.Second)), report.OK, 0)
		}
		for i, d := range edge {
			rec.Record(i, 1, 0, d, report.BadStatus, 0)
		}
		rec.Record(0, 0, 1, 3*time.Second, report.Timeout, 0)
		rec.Record(0, 0, 1, 0, report.ConnReset, 0) // no latency: not in the histogram
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		m.Observe(iv, Snapshot{})
		rec.Release(iv)
	}
	sum := rec.Summary(5 * time.Second)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	text := scrapeText(t, srv.URL)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("the text exposition does not parse: %v", err)
	}
	lat := fams["agentstorm_request_duration_seconds"]
	if lat == nil || lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no classic latency histogram in the text format")
	}
	if !bytes.Contains(text, []byte(`agentstorm_request_duration_seconds_bucket{region="us-east",step="checkout",le="0.1"}`)) {
		t.Errorf("no le=\"0.1\" bucket in the text format")
	}

	check := func(name string, st *report.Stats, match map[string]string) {
		t.Helper()
		bs := classicBuckets(lat, match)
		if len(bs) != len(Buckets)+1 {
			t.Fatalf("%s: %d buckets, want %d and +Inf", name, len(bs), len(Buckets))
		}
		run := st.Judged()
		if got := bs[len(bs)-1].n; got != float64(run.Count) {
			t.Errorf("%s: _count %v, the run counted %d latencies", name, got, run.Count)
		}
		under := bs[bucketIndex(0.1)]
		if under.le != 0.1 || under.n != float64(run.Under) {
			t.Errorf("%s: bucket le=%v holds %v, the run counts %d within 100 ms", name, under.le, under.n, run.Under)
		}
		if got, want := under.n/bs[len(bs)-1].n, run.Compliance(); got != want {
			t.Errorf("%s: compliance from the buckets %.6f, the run's %.6f", name, got, want)
		}
		for _, q := range []struct {
			q   float64
			run time.Duration
		}{{0.5, run.P50}, {0.99, run.P99}} {
			prom := histogramQuantile(q.q, bs)
			own := q.run.Seconds()
			if d := bucketIndex(prom) - bucketIndex(own); d < -1 || d > 1 {
				t.Errorf("%s: p%v from classic buckets %.4f s (bucket %d), the run's %.4f s (bucket %d): more than one bucket apart",
					name, 100*q.q, prom, bucketIndex(prom), own, bucketIndex(own))
			}
		}
	}
	check("all", &sum.Overall, nil)
	for si, s := range steps {
		check(s, &sum.PerStep[si], map[string]string{"step": s})
		for ri, r := range regions {
			check(s+"@"+r, sum.Cell(si, ri), map[string]string{"step": s, "region": r})
		}
	}
	// The edge values: 99.967 ms is in the HDR bucket below 100 ms's,
	// 99.968…100.031 ms in 100 ms's (within), 100.032 ms and up above it;
	// the test is void if they did not land on both sides.
	if c := sum.Cell(1, 0).Raw; c.Under == 0 || c.Under == c.Count {
		t.Fatalf("checkout@us-east: %d of %d within 100 ms: the edge values did not land", c.Under, c.Count)
	}

	if c := fams["agentstorm_request_duration_corrected_seconds"]; c != nil && len(c.GetMetric()) > 0 {
		t.Errorf("an open-model storm exports %d corrected series", len(c.GetMetric()))
	}

	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed (Debian package prometheus): lint skipped")
	}
}

// TestCorrectedFigure: in the closed model the corrected latency is
// exported beside the raw one, its le="0.1" bucket and count are the run's
// corrected figure, and the less flattering of the two shares is the
// run's judged compliance.
func TestCorrectedFigure(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart"}, Regions: []string{"eu"}, Start: start, Model: report.ModelClosed})
	m := New(rec.Steps(), rec.Regions(), nil)
	for i := 0; i < 1000; i++ {
		d := time.Duration(5+i%60) * time.Millisecond
		if i%100 == 0 {
			d = 450 * time.Millisecond // a stall: the correction fills in 400, 350, … 50 ms
		}
		rec.Record(i, 0, 0, d, report.OK, 50*time.Millisecond)
	}
	iv := rec.Rotate(start.Add(time.Second))
	m.Observe(iv, Snapshot{})
	rec.Release(iv)
	st := &rec.Summary(time.Second).PerStep[0]
	if st.Corrected == nil || st.Corrected.Count <= st.Raw.Count {
		t.Fatalf("no correction recorded: %+v", st.Corrected)
	}

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(scrapeText(t, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	share := func(name string, want report.Latency) float64 {
		t.Helper()
		bs := classicBuckets(fams[name], nil)
		if len(bs) != len(Buckets)+1 {
			t.Fatalf("%s: %d buckets", name, len(bs))
		}
		if under, n := bs[bucketIndex(0.1)].n, bs[len(bs)-1].n; under != float64(want.Under) || n != float64(want.Count) {
			t.Errorf("%s: %v of %v within 100 ms, the run's figure %d of %d", name, under, n, want.Under, want.Count)
		}
		return bs[bucketIndex(0.1)].n / bs[len(bs)-1].n
	}
	raw := share("agentstorm_request_duration_seconds", st.Raw)
	corr := share("agentstorm_request_duration_corrected_seconds", *st.Corrected)
	if got, want := min(raw, corr), st.Judged().Compliance(); got != want {
		t.Errorf("less flattering share %.6f, the run's judged compliance %.6f", got, want)
	}
}
