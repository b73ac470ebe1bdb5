package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// event is one server-sent event read from the stream.
type event struct{ name, data string }

// readEvents reads n events (or up to "end") from the stream body.
func readEvents(t *testing.T, r *bufio.Reader, n int) []event {
	t.Helper()
	var out []event
	var ev event
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the event stream after %d events: %v", len(out), err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case line == "":
			out = append(out, ev)
			if ev.name == "end" {
				return out
			}
			ev = event{}
		}
	}
	return out
}

// TestStreamAgreesWithRecorder feeds a real recorder's intervals to the
// dashboard and checks the frames read from its event stream say what the
// recorder's summary says, then that the end offers the HTML report.
func TestStreamAgreesWithRecorder(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"browse", "checkout"}, Regions: []string{"eu"},
		Writes: []bool{false, true}, Model: report.ModelClosed, Start: start})
	budgets, err := budget.ParseAll([]string{"p99 < 100ms", "errors == 0"}, nil, budget.Options{Steps: rec.Steps()})
	if err != nil {
		t.Fatal(err)
	}
	d := New(budgets)
	srv := httptest.NewServer(d)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	body := bufio.NewReader(resp.Body)

	// Second 1: fast and clean; second 2: checkout slow, with timeouts.
	for i := 0; i < 500; i++ {
		rec.Record(i, 0, 0, time.Duration(1+i%40)*time.Millisecond, report.OK, 0)
		rec.Record(i, 1, 0, time.Duration(20+i%60)*time.Millisecond, report.OK, 50*time.Millisecond)
	}
	rec.SetActiveAgents(500)
	iv := rec.Rotate(start.Add(time.Second))
	d.Observe(iv, Figures{Elapsed: time.Second, Agents: 500, Connections: 480})
	rec.Release(iv)
	d.Mark(1500*time.Millisecond, "kill shard 1")
	for i := 0; i < 300; i++ {
		rec.Record(i, 1, 0, time.Duration(90+i)*time.Millisecond, report.OK, 50*time.Millisecond)
	}
	for i := 0; i < 7; i++ {
		rec.Record(i, 1, 0, 5*time.Second, report.Timeout, 0)
	}
	iv = rec.Rotate(start.Add(2 * time.Second))
	d.Observe(iv, Figures{Elapsed: 2 * time.Second, Agents: 400, Connections: 390})
	rec.Release(iv)
	// The sliver at the end: counted, marked short, budgets as before.
	rec.Record(0, 0, 0, time.Millisecond, report.OK, 0)
	iv = rec.Rotate(start.Add(2100 * time.Millisecond))
	d.Observe(iv, Figures{Elapsed: 2100 * time.Millisecond, Agents: 400, Connections: 390})
	rec.Release(iv)

	evs := readEvents(t, body, 3)
	var f1, f2, f3 Frame
	for i, f := range []*Frame{&f1, &f2, &f3} {
		if evs[i].name != "frame" {
			t.Fatalf("event %d is %q, want frame", i, evs[i].name)
		}
		if err := json.Unmarshal([]byte(evs[i].data), f); err != nil {
			t.Fatalf("frame %d: %v: %s", i, err, evs[i].data)
		}
	}
	s := rec.Summary(2100 * time.Millisecond)
	if f3.Requests != s.Overall.Count || f2.Requests != 1307 || f1.Requests != 1000 {
		t.Errorf("requests %d, %d, %d; the recorder says 1000, 1307, %d", f1.Requests, f2.Requests, f3.Requests, s.Overall.Count)
	}
	if f1.Short || f2.Short || !f3.Short || states(f3.Budgets) != "fail fail" {
		t.Errorf("short %v %v %v, last budgets %s: want only the sliver short, with the budgets of second 2", f1.Short, f2.Short, f3.Short, states(f3.Budgets))
	}
	if f3.Overall == nil || *f3.Overall != s.Overall.Raw.Compliance() {
		t.Errorf("run compliance %v, the recorder says %v", f3.Overall, s.Overall.Raw.Compliance())
	}
	if f1.Compliance == nil || *f1.Compliance != 1 || f2.Compliance == nil || *f2.Compliance >= 0.1 {
		t.Errorf("interval compliance %v then %v, want 1 then < 10%%", f1.Compliance, f2.Compliance)
	}
	if f2.Errors["timeout"] != 7 || len(f2.Errors) != 1 || f1.Errors != nil {
		t.Errorf("errors %v then %v, want none then timeout 7", f1.Errors, f2.Errors)
	}
	if f1.Agents != 500 || f1.Conns == nil || *f1.Conns != 480 || f2.Agents != 400 || f2.T != 2 {
		t.Errorf("figures %+v then %+v", f1, f2)
	}
	// Second 2 has only checkout: its percentiles are the interval's.
	if len(f2.Steps) != 1 || f2.Steps[0].Name != "checkout" || f2.Steps[0].Requests != 307 {
		t.Fatalf("second 2 steps %+v", f2.Steps)
	}
	// browse answered in second 1 (and once, at 1 ms, in the sliver): its
	// p99 is the run's; it has no
	// correction (no expected interval), checkout has one.
	browseP99 := float64(s.PerStep[0].Raw.P99) / float64(time.Millisecond)
	if len(f1.Steps) != 2 || f1.Steps[0].P99 != browseP99 || f1.Steps[0].P99C != nil || f1.Steps[1].P99C == nil {
		t.Errorf("second 1 steps %+v (browse p99 want %v ms, checkout corrected)", f1.Steps, browseP99)
	} else if *f1.Steps[1].P99C < f1.Steps[1].P99 {
		t.Errorf("checkout corrected p99 %v below raw %v", *f1.Steps[1].P99C, f1.Steps[1].P99)
	}
	if got := states(f1.Budgets); got != "pass pass" {
		t.Errorf("second 1 budgets %s, want pass pass", got)
	}
	if got := states(f2.Budgets); got != "fail fail" {
		t.Errorf("second 2 budgets %s, want fail fail", got)
	}
	if len(f1.Events) != 0 || len(f2.Events) != 1 || !strings.Contains(f2.Events[0], "kill shard 1") {
		t.Errorf("events %v then %v", f1.Events, f2.Events)
	}

	if r, _ := http.Get(srv.URL + "/report"); r.StatusCode != http.StatusNotFound {
		t.Errorf("report before the end: %s", r.Status)
	}
	s.Budgets = budget.Evaluate(budgets, s)
	if err := d.Finish(s); err != nil {
		t.Fatal(err)
	}
	evs = readEvents(t, body, 1)
	var end End
	if evs[0].name != "end" || json.Unmarshal([]byte(evs[0].data), &end) != nil {
		t.Fatalf("after Finish: %+v, want the end event", evs)
	}
	if end.Report != "/report" || end.Requests != s.Overall.Count || states(end.Budgets) != "fail fail" ||
		end.Budgets[1].Actual != 7 {
		t.Errorf("end event %+v, want the summary's %d requests and its verdicts (both missed, 7 errors)", end, s.Overall.Count)
	}
	r, err := http.Get(srv.URL + "/report")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var want strings.Builder
	if err := report.WriteHTML(&want, s); err != nil {
		t.Fatal(err)
	}
	// The report says when it was generated, to the second.
	generated := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	if generated.ReplaceAllString(string(got), "T") != generated.ReplaceAllString(want.String(), "T") {
		t.Errorf("/report is not WriteHTML of the summary (%d bytes, want %d)", len(got), want.Len())
	}

	// A page opened late gets the history, then the end.
	resp2, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if evs := readEvents(t, bufio.NewReader(resp2.Body), 5); len(evs) != 4 || evs[3].name != "end" {
		t.Errorf("late page got %d events, want 3 frames and the end", len(evs))
	}
}

func states(bs []budget.State) string {
	var s []string
	for _, b := range bs {
		s = append(s, b.State)
	}
	return strings.Join(s, " ")
}

func TestPageAndLoopback(t *testing.T) {
	srv := httptest.NewServer(New(nil))
	defer srv.Close()
	for path, want := range map[string]string{"/": "EventSource", "/uplot.js": "uPlot", "/uplot.css": ".uplot"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %s, lacks %q", path, r.Status, want)
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:5665": true, "localhost:1": true, "[::1]:5665": true,
		":5665": false, "0.0.0.0:5665": false, "10.0.0.1:80": false, "nonsense": false} {
		if Loopback(addr) != want {
			t.Errorf("Loopback(%q) = %v", addr, !want)
		}
	}
}

// TestWaitFetchedAfterStreamEnded: a page that followed the run to its
// end may close its stream before the command waits for the report to be
// fetched; the wait still holds until the fetch (or the timeout), and
// returns at once when no page followed the run.
func TestWaitFetchedAfterStreamEnded(t *testing.T) {
	s := report.NewRecorder(report.Options{}).Summary(time.Second)
	lone := New(nil)
	if err := lone.Finish(s); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	lone.WaitFetched(5 * time.Second)
	if waited := time.Since(t0); waited > time.Second {
		t.Errorf("no page followed the run, yet WaitFetched waited %s", waited)
	}

	d := New(nil)
	d.follow(1)
	if err := d.Finish(s); err != nil {
		t.Fatal(err)
	}
	d.follow(-1) // the page's stream ended after the end event
	fetched := make(chan time.Time, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		d.finalReport()
		fetched <- time.Now()
	})
	d.WaitFetched(10 * time.Second)
	returned := time.Now()
	select {
	case at := <-fetched:
		if returned.Before(at) {
			t.Errorf("WaitFetched returned %s before the report was fetched", at.Sub(returned))
		}
	default:
		t.Error("WaitFetched returned before the report was fetched")
	}
}
