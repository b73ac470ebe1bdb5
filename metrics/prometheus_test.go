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
	"regexp"
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

// cumulative turns a dashboard query over rates into the same query over
// the counters' totals (the whole run), for a test that pushes once.
var cumulative = regexp.MustCompile(`rate\((agentstorm_[a-z_]+\{[^}]*\})\[\$__rate_interval\]\)`)

// TestPrometheusWithoutNativeHistograms is the "done when" with a
// real Prometheus (2.42, native histograms off): it scrapes a closed-model
// storm's metrics and receives them by remote write, and from either path
// the dashboard's own queries (over the run's totals rather than rates)
// give a p99 within one bucket of the run's judged p99 and exactly the
// run's judged compliance, per step and for the whole storm: the less
// flattering of raw and corrected, as the run judges.
func TestPrometheusWithoutNativeHistograms(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus")
	}
	start := time.Now().Add(-10 * time.Second)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"}, Start: start, Model: report.ModelClosed})
	m := New(rec.Steps(), rec.Regions(), nil)
	for sec := 1; sec <= 4; sec++ {
		for i := 0; i < 2000; i++ {
			// add_to_cart: 1 … 80 ms, no correction; checkout: 30 … 130 ms
			// with one stall in 100 at 1 s, corrected for an expected
			// interval of 200 ms (fill-ins 800, 600, 400, 200 ms), so its
			// corrected figure complies less.
			rec.Record(i, 0, i%2, time.Duration(1000+i*40)*time.Microsecond, report.OK, 0)
			d := time.Duration(30_000+i*50+sec*7) * time.Microsecond
			if i%100 == 0 {
				d = time.Second
			}
			rec.Record(i, 1, i%2, d, report.OK, 200*time.Millisecond)
		}
		// Sessions: 90 completed with a sale at checkout, and 7 + sec
		// abandoned (slow) at add_to_cart before it, per region.
		for r := 0; r < 2; r++ {
			for i := 0; i < 90; i++ {
				rec.RecordSale(1, r, 8500)
				rec.RecordSession(1, r, report.SessionCompleted, 0, false)
			}
			for i := 0; i < 7+sec; i++ {
				rec.RecordSession(0, r, report.SessionAbandoned, report.AbandonSlow, true)
			}
		}
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		m.Observe(iv, Snapshot{Active: 2000})
		rec.Release(iv)
	}
	sum := rec.Summary(4 * time.Second)
	if c := sum.PerStep[1]; c.Corrected == nil || c.Corrected.Compliance() >= c.Raw.Compliance() {
		t.Fatalf("checkout: raw %+v, corrected %+v: the test's premise (a correction that complies less) fails", c.Raw, c.Corrected)
	}

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

	dash := loadDashboard(t)
	for _, job := range []string{"scraped", "agentstorm"} { // the scrape's job, remote write's
		for _, c := range []struct {
			step string
			st   *report.Stats
		}{{".*", &sum.Overall}, {"add_to_cart", &sum.PerStep[0]}, {"checkout", &sum.PerStep[1]}} {
			q := dashboardQueries(t, dash, strings.NewReplacer("$step", c.step, "$region", ".*", `job="agentstorm"`, fmt.Sprintf("job=%q", job)))
			shareQ, p99Q := q[`panel "Within 100 ms by step" target A`], q[`panel "p99 by step" target A`]
			if c.step == ".*" {
				shareQ, p99Q = q[`panel "Within 100 ms" target A`], q[`panel "p99 (all steps)" target A`]
			}
			if shareQ == "" || p99Q == "" {
				t.Fatal("the dashboard lacks the compliance or p99 panels this test runs")
			}
			shareQ, p99Q = cumulative.ReplaceAllString(shareQ, "$1"), cumulative.ReplaceAllString(p99Q, "$1")
			var p99 float64
			for deadline := time.Now().Add(20 * time.Second); ; { // the first scrape may take a second
				v, ok := promQuery(t, base, p99Q)
				if ok {
					p99 = v
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job %s: no result for %s in 20 s", job, p99Q)
				}
				time.Sleep(200 * time.Millisecond)
			}
			run := c.st.Judged()
			if d := bucketIndex(p99) - bucketIndex(run.P99.Seconds()); d < -1 || d > 1 {
				t.Errorf("job %s, step %s: Prometheus' p99 %.4f s, the run's %v: more than one bucket apart", job, c.step, p99, run.P99)
			}
			share, _ := promQuery(t, base, shareQ)
			if share != run.Compliance() {
				t.Errorf("job %s, step %s: Prometheus' share within 100 ms %.6f, the run's %.6f", job, c.step, share, run.Compliance())
			}
			t.Logf("job %s, step %s: p99 %.4f s (run %v), within 100 ms %.4f (run %.4f)", job, c.step, p99, run.P99, share, run.Compliance())
		}
		// The sessions panels: the abandoned share (all steps, and by step
		// and reason: add_to_cart's slow ones, a share of every session)
		// and the lost sales are the run's.
		o := &sum.Overall.Sessions
		for _, c := range []struct {
			step, panel string
			want        float64
		}{
			{".*", `panel "Abandoned sessions by step and reason" target A`, float64(o.AbandonedTotal()) / float64(o.Ended())},
			{"add_to_cart", `panel "Abandoned sessions by step and reason" target B`, float64(sum.PerStep[0].Sessions.Abandoned[report.AbandonSlow]) / float64(o.Ended())},
			{".*", `panel "Sales and lost sales /s" target A`, float64(o.Sales)},
			{".*", `panel "Sales and lost sales /s" target B`, float64(o.Lost)},
		} {
			q := dashboardQueries(t, dash, strings.NewReplacer("$step", c.step, "$region", ".*", `job="agentstorm"`, fmt.Sprintf("job=%q", job)))[c.panel]
			if q == "" {
				t.Fatalf("the dashboard lacks %s", c.panel)
			}
			q = cumulative.ReplaceAllString(q, "$1")
			if got, ok := promQuery(t, base, q); !ok || got != c.want {
				t.Errorf("job %s, %s (step %s): Prometheus says %v (%v), the run %v", job, c.panel, c.step, got, ok, c.want)
			}
		}
	}
	if o := sum.Overall.Sessions; o.AbandonedTotal() != 2*(8+9+10+11) || o.Completed != 720 {
		t.Errorf("the run's sessions %+v: the test's premise fails", o)
	}
}
