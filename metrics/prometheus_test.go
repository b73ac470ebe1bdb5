package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// startPrometheus runs the prometheus binary (Debian's package: 2.42,
// native histograms off) on loopback with its remote-write receiver on,
// scraping target every second as job "scraped". It returns the base URL;
// the process is stopped when the test ends. The test is skipped without
// the binary.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: scraped\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn")
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", b)
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus not ready in 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promQuery runs an instant PromQL query and returns its single value, or
// ok false when the result is empty.
func promQuery(t *testing.T, base, q string) (float64, bool) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" {
		t.Fatalf("query %s: %s", q, r.Error)
	}
	if len(r.Data.Result) == 0 {
		return 0, false
	}
	if len(r.Data.Result) > 1 {
		t.Fatalf("query %s: %d series", q, len(r.Data.Result))
	}
	v, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

// TestPrometheusWithoutNativeHistograms is the "done when" with a
// real Prometheus (2.42, native histograms off): it scrapes a storm's
// metrics and receives them by remote write, and from either path
// histogram_quantile gives a p99 within one bucket of the run's own, and
// the le="0.1" bucket over the count exactly the run's compliance.
func TestPrometheusWithoutNativeHistograms(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus")
	}
	start := time.Now().Add(-10 * time.Second)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"}, Start: start, Model: report.ModelOpen})
	m := New(rec.Steps(), rec.Regions(), nil)
	for sec := 1; sec <= 4; sec++ {
		for i := 0; i < 2000; i++ {
			// add_to_cart: 1 … 80 ms; checkout: 30 … 229 ms, so its p99 is past 100 ms.
			rec.Record(i, 0, i%2, time.Duration(1000+i*40)*time.Microsecond, report.OK, 0)
			rec.Record(i, 1, i%2, time.Duration(30_000+i*100+sec*7)*time.Microsecond, report.OK, 0)
		}
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		m.Observe(iv, Snapshot{Active: 2000})
		rec.Release(iv)
	}
	sum := rec.Summary(4 * time.Second)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	base := startPrometheus(t, strings.TrimPrefix(srv.URL, "http://"))
	p, err := m.PushTo(base+"/api/v1/write", PushOptions{Every: time.Hour, Instance: "pod-0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("remote write to Prometheus: %v", err)
	}

	for _, job := range []string{"scraped", "agentstorm"} { // the scrape's job, remote write's
		for si, step := range rec.Steps() {
			sel := fmt.Sprintf(`job=%q,step=%q`, job, step)
			q99 := fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (agentstorm_request_duration_seconds_bucket{%s}))`, sel)
			var p99 float64
			for deadline := time.Now().Add(20 * time.Second); ; { // the first scrape may take a second
				v, ok := promQuery(t, base, q99)
				if ok {
					p99 = v
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job %s: no result for %s in 20 s", job, q99)
				}
				time.Sleep(200 * time.Millisecond)
			}
			run := sum.PerStep[si].Judged()
			if d := bucketIndex(p99) - bucketIndex(run.P99.Seconds()); d < -1 || d > 1 {
				t.Errorf("job %s, %s: Prometheus' p99 %.4f s, the run's %v: more than one bucket apart", job, step, p99, run.P99)
			}
			share, _ := promQuery(t, base, fmt.Sprintf(`sum(agentstorm_request_duration_seconds_bucket{%s,le="0.1"}) / sum(agentstorm_request_duration_seconds_count{%s})`, sel, sel))
			if share != run.Compliance() {
				t.Errorf("job %s, %s: Prometheus' share within 100 ms %.6f, the run's %.6f", job, step, share, run.Compliance())
			}
			t.Logf("job %s, %s: p99 %.4f s (run %v), within 100 ms %.4f (run %.4f)", job, step, p99, run.P99, share, run.Compliance())
		}
	}
	if c := sum.PerStep[1].Judged(); c.P99 <= report.ComplianceLimit || c.Under == 0 {
		t.Fatalf("checkout p99 %v, %d within 100 ms: the test's premise (a p99 past 100 ms, some within) fails", c.P99, c.Under)
	}
}
