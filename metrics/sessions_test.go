package metrics

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// recordSessions records, over two seconds, sessions of a two-step flow
// (add_to_cart, then checkout, the sale step) in two regions and feeds the
// intervals to m (made with the same steps and regions): each region
// completes 20 sessions (and sales); us-east abandons 10 (slow) at
// add_to_cart; ap-tokyo abandons 25 at add_to_cart (20 slow,
// 5 timeout) and 5 at checkout (error), and fails 1.
func recordSessions(t *testing.T, m *Metrics) *report.Recorder {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"},
		Start: start, Model: report.ModelOpen})
	for sec := 1; sec <= 2; sec++ {
		for i := 0; i < 20; i++ {
			rec.RecordSale(1, i%2, 4999)
			rec.RecordSession(1, i%2, report.SessionCompleted, 0, false)
		}
		for i := 0; i < 5; i++ {
			rec.RecordSession(0, 0, report.SessionAbandoned, report.AbandonSlow, true)
			rec.RecordSession(0, 1, report.SessionAbandoned, report.AbandonSlow, true)
			rec.RecordSession(0, 1, report.SessionAbandoned, report.AbandonSlow, true)
		}
		for i := 0; i < 2; i++ {
			rec.RecordSession(0, 1, report.SessionAbandoned, report.AbandonTimeout, true)
		}
		rec.RecordSession(1, 1, report.SessionAbandoned, report.AbandonError, false)
		rec.RecordSession(1, 1, report.SessionAbandoned, report.AbandonError, false)
		rec.Record(0, 0, 0, 30*time.Millisecond, report.OK, 0)
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		m.Observe(iv, Snapshot{})
		rec.Release(iv)
	}
	rec.RecordSession(1, 1, report.SessionAbandoned, report.AbandonError, false)
	rec.RecordSession(0, 1, report.SessionAbandoned, report.AbandonTimeout, true)
	rec.RecordSession(1, 1, report.SessionFailed, 0, false)
	iv := rec.Rotate(start.Add(3 * time.Second))
	m.Observe(iv, Snapshot{})
	rec.Release(iv)
	return rec
}

// TestSessionCounters scrapes the session counters of a storm and checks
// them against the recorder's summary, series by series; a storm without
// sessions has none of them.
func TestSessionCounters(t *testing.T) {
	m := New([]string{"add_to_cart", "checkout"}, []string{"us-east", "ap-tokyo"}, nil)
	rec := recordSessions(t, m)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	fams := scrape(t, srv.URL)
	sum := rec.Summary(3 * time.Second)
	steps, regions := rec.Steps(), rec.Regions()
	for si := range steps {
		for ri := range regions {
			c := sum.Cell(si, ri).Sessions
			cell := map[string]string{"step": steps[si], "region": regions[ri]}
			with := func(kv ...string) map[string]string {
				l := map[string]string{"step": steps[si], "region": regions[ri]}
				for i := 0; i+1 < len(kv); i += 2 {
					l[kv[i]] = kv[i+1]
				}
				return l
			}
			if c.IsZero() {
				for _, mf := range fams {
					for _, s := range mf.GetMetric() {
						if l := labelsOf(s); strings.HasPrefix(mf.GetName(), "agentstorm_s") && l["step"] == steps[si] && l["region"] == regions[ri] {
							t.Errorf("%s %v: a cell without sessions has session series", mf.GetName(), l)
						}
					}
				}
				continue
			}
			// A series holds its count; one that never counted is absent.
			check := func(name string, labels map[string]string, want int64) {
				t.Helper()
				var got *float64
				for _, s := range fams[name].GetMetric() {
					l, same := labelsOf(s), true
					for k, v := range labels {
						same = same && l[k] == v
					}
					if same {
						v := s.GetCounter().GetValue()
						got = &v
					}
				}
				if (got == nil && want != 0) || (got != nil && (*got != float64(want) || want == 0)) {
					t.Errorf("%s%v = %v, want %d (absent when 0)", name, labels, got, want)
				}
			}
			check("agentstorm_sessions_total", with("outcome", "completed"), c.Completed)
			check("agentstorm_sessions_total", with("outcome", "failed"), c.Failed)
			for r, n := range c.Abandoned {
				check("agentstorm_sessions_total", with("outcome", "abandoned", "reason", report.AbandonReason(r).String()), n)
			}
			check("agentstorm_sales_total", cell, c.Sales)
			check("agentstorm_sales_value_total", cell, c.SalesValue)
			check("agentstorm_lost_sales_total", cell, c.Lost)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(scrapeText(t, srv.URL))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed (Debian package prometheus): lint skipped")
	}
	// The premise: the cells hold what recordSessions says.
	o := sum.Overall.Sessions
	if o.Completed != 40 || o.Abandoned != [report.NumAbandonReasons]int64{30, 5, 5} || o.Failed != 1 || o.Sales != 40 || o.Lost != 35 {
		t.Errorf("the storm's sessions are %+v", o)
	}

	plain := New([]string{"a"}, []string{"r"}, nil)
	prec := report.NewRecorder(report.Options{Steps: []string{"a"}, Regions: []string{"r"}})
	prec.Record(0, 0, 0, time.Millisecond, report.OK, 0)
	plain.Observe(prec.Rotate(time.Now()), Snapshot{})
	psrv := httptest.NewServer(plain.Handler())
	defer psrv.Close()
	for name, mf := range scrape(t, psrv.URL) {
		if name == "agentstorm_sessions_total" || strings.Contains(name, "sales") {
			if len(mf.GetMetric()) > 0 {
				t.Errorf("a storm without sessions exports %s", name)
			}
		}
	}
}

// TestSessionCountersPushed: remote write carries the session counters
// as a scrape reads them, the empty reason of a completed session left
// out (an empty label value is no label).
func TestSessionCountersPushed(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	m := New([]string{"add_to_cart", "checkout"}, []string{"us-east", "ap-tokyo"}, nil)
	p, err := m.PushTo(srv.URL+"/api/v1/write", PushOptions{Every: time.Hour, Instance: "pod-1"})
	if err != nil {
		t.Fatal(err)
	}
	recordSessions(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, s := range rc.last() {
		got[s.key()] = s.value
	}
	base := "instance=pod-1,job=agentstorm"
	for k, want := range map[string]float64{
		"__name__=agentstorm_sessions_total," + base + ",outcome=completed,region=ap-tokyo,step=checkout":                   20,
		"__name__=agentstorm_sessions_total," + base + ",outcome=abandoned,reason=timeout,region=ap-tokyo,step=add_to_cart": 5,
		"__name__=agentstorm_sessions_total," + base + ",outcome=abandoned,reason=slow,region=us-east,step=add_to_cart":     10,
		"__name__=agentstorm_sales_value_total," + base + ",region=us-east,step=checkout":                                   20 * 4999,
		"__name__=agentstorm_lost_sales_total," + base + ",region=ap-tokyo,step=add_to_cart":                                25,
	} {
		if got[k] != want {
			t.Errorf("pushed {%s} = %v, want %v", k, got[k], want)
		}
	}
}
