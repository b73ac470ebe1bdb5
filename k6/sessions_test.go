package k6

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// ingestSessions ingests data with o and returns the summary and each
// interval's sessions.
func ingestSessions(t *testing.T, o Options, data string) (*report.Summary, []report.Sessions) {
	t.Helper()
	var per []report.Sessions
	o.OnInterval = func(iv *report.Interval) { per = append(per, iv.Sessions) }
	in := New(o)
	if err := in.Read(context.Background(), strings.NewReader(data), "input"); err != nil {
		t.Fatal(err)
	}
	return in.Finish(), per
}

// TestFixtureSessions: the JSON fixture's two iterations are completed
// sessions at checkout (the script's last request), its three dropped
// iterations dropped sessions at add_to_cart (its first), and with
// checkout as the sale step its one OK checkout a sale worth the order
// value; nothing is abandoned.
func TestFixtureSessions(t *testing.T) {
	data, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	s, per := ingestSessions(t, Options{Trends: []string{"http_req_waiting", "cart_total"}, SaleSteps: []string{"checkout"}, OrderValue: 8500}, string(data))
	o := s.Overall.Sessions
	if o.Completed != 2 || o.AbandonedTotal() != 0 || o.Failed != 0 || o.Sales != 1 || o.SalesValue != 8500 || o.Lost != 0 {
		t.Errorf("sessions %+v", o)
	}
	if c := stepStats(t, s, "checkout").Sessions; c.Completed != 2 || c.Sales != 1 {
		t.Errorf("checkout sessions %+v, want the 2 completed and the sale", c)
	}
	if d := stepStats(t, s, "add_to_cart"); d.Dropped != 3 || s.Dropped != 3 || s.Figures["dropped_iterations"] != 3 {
		t.Errorf("dropped: add_to_cart %d, run %d, figure %v; want 3", d.Dropped, s.Dropped, s.Figures["dropped_iterations"])
	}
	// In k6 time: the iterations ended at 17:00:02.7 and .8, second 3.
	var bySecond []int64
	for _, p := range per {
		bySecond = append(bySecond, p.Completed)
	}
	if fmt.Sprint(bySecond) != "[0 0 2 0]" {
		t.Errorf("completed sessions per second %v", bySecond)
	}
	// Without a sale step there is no sale.
	s, _, _, _, _ = ingest(t, Options{}, data)
	if o := s.Overall.Sessions; o.Completed != 2 || o.Sales != 0 {
		t.Errorf("without --sale-step: %+v", o)
	}
}

// TestSessionsRegionsAndSeconds: iterations count in the region of their
// own tag (else the first), in their own second, whatever the order of the
// lines within the window; the CSV fixture's iteration and dropped
// iterations carry no region.
func TestSessionsRegionsAndSeconds(t *testing.T) {
	data, err := os.ReadFile("testdata/results.csv")
	if err != nil {
		t.Fatal(err)
	}
	s, _, _, _, err := ingest(t, Options{RegionTag: "region"}, data)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Cell(2, 0); c.Sessions.Completed != 1 || s.Overall.Sessions.Completed != 1 || s.Cell(0, 0).Dropped != 3 {
		t.Errorf("checkout@eu-west sessions %+v, dropped at add_to_cart@eu-west %d", c.Sessions, s.Cell(0, 0).Dropped)
	}

	var b strings.Builder
	line := func(metric string, at time.Duration, v float64, tags string) {
		fmt.Fprintf(&b, `{"metric":%q,"type":"Point","data":{"time":%q,"value":%v,"tags":{%s}}}`+"\n",
			metric, time.Unix(1_800_000_000, 0).Add(at).UTC().Format(time.RFC3339Nano), v, tags)
	}
	req := func(at time.Duration, name, region string) {
		line("http_req_duration", at, 20, fmt.Sprintf(`"name":%q,"status":"200","method":"POST","region":%q`, name, region))
	}
	for sec := 0; sec < 3; sec++ {
		at := time.Duration(sec) * time.Second
		req(at+100*time.Millisecond, "add_to_cart", "eu")
		req(at+200*time.Millisecond, "checkout", "eu")
		req(at+300*time.Millisecond, "add_to_cart", "tokyo")
		req(at+400*time.Millisecond, "checkout", "tokyo")
		line("iterations", at+900*time.Millisecond, 1, `"region":"tokyo"`)
		line("iterations", at+500*time.Millisecond, 1, `"region":"eu"`) // written late, within the window
		line("iterations", at+950*time.Millisecond, 1, ``)
	}
	s, per := ingestSessions(t, Options{RegionTag: "region", SaleSteps: []string{"checkout"}}, b.String())
	if eu, tokyo := s.Cell(1, 0).Sessions, s.Cell(1, 1).Sessions; eu.Completed != 6 || tokyo.Completed != 3 || eu.Sales != 3 || tokyo.Sales != 3 {
		t.Errorf("checkout sessions: eu %+v, tokyo %+v; want 6 (3 tagged, 3 untagged: the first region) and 3, 3 sales each", eu, tokyo)
	}
	for i, p := range per {
		if p.Completed != 3 || p.Sales != 2 {
			t.Errorf("second %d: %+v, want 3 completed, 2 sales", i, p)
		}
	}
	if len(per) != 3 {
		t.Errorf("%d seconds, want 3", len(per))
	}
}
