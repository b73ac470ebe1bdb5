package report

import (
	"bytes"
	"encoding/json"
	"image/color"
	"os"
	"strings"
	"testing"
	"time"
)

// withSessions gives s (two steps, add_to_cart and checkout, the sale
// step; two regions) session outcomes per cell, and the steps', regions',
// run's and seconds' sums of them, as the recorder's aggregation does.
func withSessions(s *Summary) *Summary {
	// step × region: add_to_cart @ us-east, @ ap-tokyo, checkout @ us-east, @ ap-tokyo.
	cells := []Sessions{
		{Abandoned: [NumAbandonReasons]int64{30, 2, 1}, Lost: 33},
		{Abandoned: [NumAbandonReasons]int64{90, 0, 4}, Lost: 94},
		{Completed: 900, Abandoned: [NumAbandonReasons]int64{10, 0, 0}, Sales: 910, SalesValue: 910 * 4999},
		{Completed: 700, Failed: 6, Abandoned: [NumAbandonReasons]int64{40, 0, 0}, Sales: 740, SalesValue: 740 * 4999},
	}
	s.Overall.Sessions = Sessions{}
	for i := range s.PerStep {
		s.PerStep[i].Sessions = Sessions{}
	}
	for i := range s.PerRegion {
		s.PerRegion[i].Sessions = Sessions{}
	}
	for i := range cells {
		step, region := i/2, i%2
		s.Cell(step, region).Sessions = cells[i]
		s.PerStep[step].Sessions.Add(&cells[i])
		s.PerRegion[region].Sessions.Add(&cells[i])
		s.Overall.Sessions.Add(&cells[i])
	}
	// The seconds: the last one has most of the abandonment.
	for i := range s.Series {
		p := &s.Series[i]
		p.Sessions = Sessions{Completed: 400, Sales: 412, SalesValue: 412 * 4999, Abandoned: [NumAbandonReasons]int64{10 + 30*int64(i), 0, 0}}
	}
	return s
}

func TestSessionsJSON(t *testing.T) {
	s := withSessions(fullSummary(t))
	var j JSONReport
	if err := json.Unmarshal([]byte(written(t, WriteJSON, s)), &j); err != nil {
		t.Fatal(err)
	}
	o := j.Overall.Sessions
	if o == nil || o.Ended != 1783 || o.Completed != 1600 || o.Failed != 6 || o.Abandoned != 177 || o.Sales != 1650 ||
		o.SalesValue != 1650*4999 || o.LostSales != 127 || o.AbandonedBy != (JSONAbandoned{Slow: 170, Error: 2, Timeout: 5}) {
		t.Fatalf("overall sessions %+v", o)
	}
	if o.AbandonedShare != 177.0/1783 {
		t.Errorf("overall abandoned share %v, want %v", o.AbandonedShare, 177.0/1783)
	}
	// A step's share is of the run's sessions (the steps' shares add up to
	// the run's); a region's and a cell's of the region's.
	add := j.Steps[0].Sessions
	if add.Abandoned != 127 || add.AbandonedShare != 127.0/1783 || j.Steps[1].Sessions.AbandonedShare != 50.0/1783 {
		t.Errorf("step shares %+v %+v", add, j.Steps[1].Sessions)
	}
	tokyo := j.Regions[1].Sessions
	if tokyo.Ended != 840 || tokyo.AbandonedShare != 134.0/840 {
		t.Errorf("ap-tokyo sessions %+v", tokyo)
	}
	for _, c := range j.Cells {
		if c.Name == "add_to_cart @ ap-tokyo" && (c.Sessions.Abandoned != 94 || c.Sessions.AbandonedShare != 94.0/840) {
			t.Errorf("cell %+v", c.Sessions)
		}
	}
	if p := j.Series[3].Sessions; p == nil || p.Abandoned != 100 || p.AbandonedShare != 100.0/500 {
		t.Errorf("last second's sessions %+v", p)
	}
}

// A run without sessions writes the JSON it wrote before sessions existed:
// no "sessions" key anywhere.
func TestSessionsJSONLeftOutWithoutSessions(t *testing.T) {
	out := written(t, WriteJSON, fullSummary(t))
	if strings.Contains(out, "sessions") || strings.Contains(out, "abandoned") {
		t.Errorf("a run without sessions shows them:\n%s", out[:min(len(out), 2000)])
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, withSessions(fullSummary(t))); err != nil || !strings.Contains(buf.String(), `"lost_sales": 127`) {
		t.Errorf("sessions missing: %v", err)
	}
}

func TestSessionsMarkdownAndJUnit(t *testing.T) {
	s := withSessions(fullSummary(t))
	md := written(t, WriteMarkdown, s)
	for _, want := range []string{
		"**Agents skipped you: 10.0% of 1,783 sessions abandoned (slow add_to_cart 6.8%, slow checkout 2.9%, timeout add_to_cart 0.3%, error add_to_cart 0.2%); 1,650 sales completed (82,483.50), ~127 lost (~6,348.73 at the average sale)**",
		"\nAbandoned by region: us-east 4.6% of 943, ap-tokyo 16.0% of 840\n",
		"| step | abandoned | share | slow | error | timeout | completed | failed | sales | lost | sales value |",
		"| add_to_cart | 127 | 7.13% | 120 | 2 | 5 | 0 | 0 | 0 | 127 | 0.00 |",
		"| checkout | 50 | 2.81% | 50 | 0 | 0 | 1,600 | 6 | 1,650 | 0 | 82,483.50 |",
		"| ap-tokyo | 134 | 15.96% | 130 | 0 | 4 | 700 | 6 | 740 | 94 | 36,992.60 |",
		"| **all** | 177 | 9.93% | 170 | 2 | 5 | 1,600 | 6 | 1,650 | 127 | 82,483.50 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Without sale values the column says so, as the HTML one does.
	free := withSessions(fullSummary(t))
	for _, ss := range []*Sessions{&free.Overall.Sessions, &free.PerStep[1].Sessions, &free.PerRegion[0].Sessions, &free.PerRegion[1].Sessions} {
		ss.SalesValue = 0
	}
	if md := written(t, WriteMarkdown, free); !strings.Contains(md, "| **all** | 177 | 9.93% | 170 | 2 | 5 | 1,600 | 6 | 1,650 | 127 | - |") {
		t.Errorf("markdown without sale values:\n%s", md)
	}
	if md := written(t, WriteMarkdown, fullSummary(t)); strings.Contains(md, "skipped") || strings.Contains(md, "abandoned") {
		t.Errorf("markdown of a run without sessions shows them:\n%s", md)
	}
	j, props := junitOf(t, s)
	for k, v := range map[string]string{"sessions": "1783", "sessions_abandoned": "177", "sessions_abandoned_share": "9.93%",
		"sessions_abandoned_slow": "170", "sessions_abandoned_timeout": "5", "sales": "1650", "lost_sales": "127", "sales_value": "82,483.50"} {
		if props[k] != v {
			t.Errorf("junit property %s = %q, want %q", k, props[k], v)
		}
	}
	out := j.Suites[0].SystemOut
	for _, want := range []string{"Agents skipped you: 10.0% of 1,783 sessions abandoned", "sessions: 1,783 ended, 1,600 completed, 177 abandoned (9.93%), 6 failed; 1,650 sales, 127 lost",
		"abandoned at add_to_cart: 7.13% (127: slow 120, error 2, timeout 5)", "abandoned in ap-tokyo: 15.96% (134: slow 130, timeout 4)"} {
		if !strings.Contains(out, want) {
			t.Errorf("junit system-out lacks %q:\n%s", want, out)
		}
	}
	if j.Tests != 4 || j.Failures != 2 {
		t.Errorf("sessions changed the junit cases: %d tests, %d failures", j.Tests, j.Failures)
	}
}

// The HTML report of a run with sessions: the sessions line and tables,
// and the abandonment chart beside latency, drawn (with the chaos marks)
// in Chromium.
func TestSessionsHTMLRendersInChromium(t *testing.T) {
	s := withSessions(fullSummary(t))
	s.Events = []TimelineEvent{{At: 2 * time.Second, Name: "kill_shard shard 1"}}
	path := writeHTMLFile(t, s)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	for _, want := range []string{`<p id="sessions-line"><strong>Agents skipped you: 10.0% of 1,783 sessions abandoned (slow add_to_cart 6.8%`,
		`<br>Abandoned by region: us-east 4.6% of 943, ap-tokyo 16.0% of 840</p>`,
		`<table id="sessions-steps">`, `<td>add_to_cart</td><td>127</td><td class="bad">7.13%</td><td>120</td>`,
		`<table id="sessions-regions">`, `<td>ap-tokyo</td><td>134</td><td class="bad">15.96%</td>`, `<td>82,483.50</td>`,
		`"abandoned":[2.439,9.091,14.89,20]`} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	dom, log := renderHTML(t, "file://"+path)
	// The six charts and the abandonment chart, right after latency.
	checkRendered(t, dom, log, 7)
	i, j := strings.Index(dom, `id="chart-latency"`), strings.Index(dom, `id="chart-abandonment"`)
	if i < 0 || j < i || strings.Contains(dom[i:max(j, i)], `id="chart-throughput"`) {
		t.Errorf("the abandonment chart is not beside the latency chart (at %d, latency at %d)", j, i)
	}
	if !strings.Contains(dom, "Abandoned sessions: share of the sessions ending each second") || !strings.Contains(dom, `class="u-value">20 %<`) {
		t.Errorf("the abandonment chart's title or its last second's value (20 %%) is missing")
	}
	img := screenshot(t, "file://"+path, "report-sessions")
	if n := countColor(img, color.RGBA{R: 0xc5, G: 0x1b, B: 0x7d}); n < 300 {
		t.Errorf("screenshot has %d pixels of the abandonment line's magenta: the chart did not draw", n)
	}
	// Without sessions there is no such chart, line or table.
	plain, err := os.ReadFile(writeHTMLFile(t, fullSummary(t)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "sessions-line") || strings.Contains(string(plain), `id="sessions-`) || strings.Contains(string(plain), `"abandoned":[`) {
		t.Errorf("html of a run without sessions shows them")
	}
}

// TestSessionsUnmeasuredOutputs: a k6 ingest cannot measure abandonment
// (a VU has no patience) nor, without a sale step, sales: the tables show
// "-" for them and say why, JUnit has no property for them, JSON says
// why at its root, and the HTML report draws no abandonment chart.
func TestSessionsUnmeasuredOutputs(t *testing.T) {
	s := withSessions(fullSummary(t))
	s.Meta = map[string]string{"source": "k6"}
	for i := range s.Series {
		s.Series[i].Sessions.Abandoned = [NumAbandonReasons]int64{}
	}
	// Sales were made here, so only abandonment and lost sales are unmeasured.
	note := "abandoned sessions not measured: a k6 run has no agent patience; lost sales not measured: a k6 run has no agent patience, so no sale is ever lost"
	md := written(t, WriteMarkdown, s)
	for _, want := range []string{"| add_to_cart | - | - | - | - | - | 0 | 0 | 0 | - | 0.00 |", "| **all** | - | - | - | - | - | 1,600 | 6 | 1,650 | - | 82,483.50 |",
		"\n-: " + note + "\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	j, props := junitOf(t, s)
	if _, ok := props["sessions_abandoned"]; ok || props["sessions_not_measured"] != note || props["sales"] != "1650" {
		t.Errorf("junit properties %v", props)
	}
	if _, ok := props["lost_sales"]; ok {
		t.Errorf("junit has lost_sales %q, not measured", props["lost_sales"])
	}
	if out := j.Suites[0].SystemOut; !strings.Contains(out, "sessions: 1,783 ended, 1,600 completed, - abandoned, 6 failed; 1,650 sales, - lost") {
		t.Errorf("junit system-out:\n%s", out)
	}
	var jr JSONReport
	if err := json.Unmarshal([]byte(written(t, WriteJSON, s)), &jr); err != nil {
		t.Fatal(err)
	}
	if nm := jr.SessionsNotMeasured; nm == nil || !strings.HasPrefix(nm.Abandoned, "not measured: a k6 run") || nm.LostSales == "" || nm.Sales != "" {
		t.Errorf("json sessions_not_measured %+v", nm)
	}
	html := written(t, WriteHTML, s)
	if !strings.Contains(html, `<p id="sessions-not-measured">-: `+note+`</p>`) || !strings.Contains(html, `<td><strong>all</strong></td><td>-</td><td>-</td>`) ||
		strings.Contains(html, `"abandoned":[`) {
		t.Errorf("html: the note or the '-' missing, or an abandonment chart drawn")
	}
	// An agentstorm run says nothing of it.
	s.Meta = nil
	if md := written(t, WriteMarkdown, s); strings.Contains(md, "not measured") || strings.Contains(written(t, WriteJSON, s), "not_measured") {
		t.Errorf("an agentstorm run's outputs say something is not measured")
	}
}

// junitOf writes s as JUnit, reads it back, and returns it with the
// budgets suite's properties by name.
func junitOf(t *testing.T, s *Summary) (*JUnitSuites, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, s); err != nil {
		t.Fatal(err)
	}
	j, err := ReadJUnit(&buf)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]string{}
	for _, p := range j.Suites[0].Properties {
		props[p.Name] = p.Value
	}
	return j, props
}
