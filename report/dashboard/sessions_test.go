package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/chromium"
	"github.com/agentstorm/agentstorm/report"
)

// sessionStorm feeds d three seconds of a real recorder: the first
// without sessions, the second with 90 completed and 10 abandoned (slow,
// before the sale), the third with 60 completed and 40 abandoned
// (timeouts); then a sliver with one more abandoned. It returns the
// recorder's summary. u is what the run cannot measure.
func sessionStorm(d *Dashboard, u report.SessionsUnmeasured) *report.Summary {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"eu"}, Model: report.ModelOpen, Start: start})
	second := func(end time.Duration, completed, abandoned int, reason report.AbandonReason) {
		for i := 0; i < 200; i++ {
			rec.Record(i, i%2, 0, time.Duration(20+i)*time.Millisecond, report.OK, 0)
		}
		for i := 0; i < completed; i++ {
			rec.RecordSale(1, 0, 2500)
			rec.RecordSession(1, 0, report.SessionCompleted, 0, false)
		}
		for i := 0; i < abandoned; i++ {
			rec.RecordSession(0, 0, report.SessionAbandoned, reason, true)
		}
		iv := rec.Rotate(start.Add(end))
		d.Observe(iv, Figures{Elapsed: end, Agents: 100, Connections: 100, Unmeasured: u})
		rec.Release(iv)
	}
	second(time.Second, 0, 0, 0)
	second(2*time.Second, 90, 10, report.AbandonSlow)
	second(3*time.Second, 60, 40, report.AbandonTimeout)
	second(3100*time.Millisecond, 0, 1, report.AbandonSlow)
	return rec.Summary(3100 * time.Millisecond)
}

// TestSessionFrames: a frame carries the second's abandoned share and the
// run's so far, with its sales and lost sales, from the first session on.
func TestSessionFrames(t *testing.T) {
	d := New(nil)
	s := sessionStorm(d, report.SessionsUnmeasured{})
	frames, _, _, _ := d.since(0)
	if len(frames) != 4 {
		t.Fatalf("%d frames, want 4", len(frames))
	}
	var f [4]Frame
	for i := range frames {
		if err := json.Unmarshal(frames[i], &f[i]); err != nil {
			t.Fatal(err)
		}
	}
	if f[0].Sessions != nil || strings.Contains(string(frames[0]), `"s"`) {
		t.Errorf("a second before any session carries sessions: %s", frames[0])
	}
	s2, s3, s4 := f[1].Sessions, f[2].Sessions, f[3].Sessions
	if s2 == nil || s2.Ended != 100 || s2.Abandoned != 10 || *s2.Share != 0.1 || *s2.ShareAll != 0.1 || s2.Sales != 90 || s2.Lost != 10 {
		t.Fatalf("second 2 sessions %+v", s2)
	}
	if s3 == nil || *s3.Share != 0.4 || *s3.ShareAll != 0.25 || s3.Sales != 150 || s3.Lost != 50 {
		t.Errorf("second 3 sessions %+v", s3)
	}
	o := &s.Overall.Sessions
	if want := float64(o.AbandonedTotal()) / float64(o.Ended()); s4 == nil || *s4.ShareAll != want || s4.Lost != o.Lost || s4.Sales != o.Sales {
		t.Errorf("the last frame's run so far %+v, the recorder says %+v", s4, o)
	}
}

// TestSessionPageInChromium opens the page of a finished run with
// sessions in headless Chromium: it shows the abandonment of the last full
// second and the run's, the sales and the lost sales, and draws the
// abandonment chart, without a script error.
func TestSessionPageInChromium(t *testing.T) {
	page := sessionPage(t, report.SessionsUnmeasured{})
	// The run: 51 of 201 sessions abandoned (25.373 %, shown rounded up).
	for _, want := range []string{`<b id="abandoned">40.00 %</b>`, `<em id="abandonedAll">25.38 %</em>`, `<b id="sales">150</b>`,
		`<em id="lost">51</em>`, `<div class="kpi" id="abandonKpi">`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	i := strings.Index(page, `id="abandonChart"`)
	if i < 0 || !strings.Contains(page[i:min(i+400, len(page))], "<canvas") || strings.Contains(page, `id="abandonBox" hidden`) {
		t.Errorf("the abandonment chart is not drawn")
	}
}

// sessionPage runs sessionStorm (u: what it cannot measure) on a
// dashboard, finishes it, and returns its page as headless Chromium
// renders it, failing on a script error.
func sessionPage(t *testing.T, u report.SessionsUnmeasured) string {
	t.Helper()
	bin := chromium.Path(t)
	d := New(nil)
	s := sessionStorm(d, u)
	if err := d.Finish(s); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	// The history and the end come at once; the stream then closes.
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	if evs := readEvents(t, bufio.NewReader(resp.Body), 5); len(evs) != 5 || evs[4].name != "end" {
		t.Fatalf("events %v", evs)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(chromium.Args(t), "--virtual-time-budget=10000", "--dump-dom", srv.URL+"/")...)
	var dom, clog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &dom, &clog
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, clog.String())
	}
	if strings.Contains(clog.String(), "Uncaught") {
		t.Errorf("the page's script failed:\n%s", clog.String())
	}
	return dom.String()
}

// TestSessionPageUnmeasured: a run that cannot measure abandonment (a k6
// ingest: a VU has no patience) has no abandoned share in its frames, and
// its page says "not measured" instead of 0 %, with no lost sales and no
// abandonment chart; without a sale step it shows no sales either.
func TestSessionPageUnmeasured(t *testing.T) {
	u := report.UnmeasuredSessions(map[string]string{"source": "k6"}, 0)
	d := New(nil)
	sessionStorm(d, u)
	frames, _, _, _ := d.since(0)
	var f Frame
	if err := json.Unmarshal(frames[2], &f); err != nil {
		t.Fatal(err)
	}
	if ss := f.Sessions; ss == nil || ss.Share != nil || ss.ShareAll != nil || ss.NoAbandon != u.Abandoned || ss.NoSales != u.Sales {
		t.Fatalf("frame sessions %+v, want no shares and why", ss)
	}
	page := sessionPage(t, u)
	for _, want := range []string{`<b id="abandoned">–</b>`, `<span id="abandonNot">abandonment not measured: a k6 run has no agent patience</span>`,
		`<span id="abandonHow" hidden="">`, `<span id="lostPart" hidden="">`, `id="abandonBox" hidden`, `<div class="kpi" id="salesKpi" hidden`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, "0.00 %") {
		t.Errorf("the page shows an abandoned share of 0")
	}
	// With a sale step the sales are shown, the lost ones still not.
	page = sessionPage(t, report.UnmeasuredSessions(map[string]string{"source": "k6", report.MetaSaleSteps: "checkout"}, 0))
	if !strings.Contains(page, `<b id="sales">150</b>`) || strings.Contains(page, `id="salesKpi" hidden`) || !strings.Contains(page, `<span id="lostPart" hidden="">`) {
		t.Errorf("k6 run with a sale step: sales not shown, or lost sales shown")
	}
}
