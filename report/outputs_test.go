package report

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/chromium"
)

// fullSummary is a summary with budgets (one met, one missed), a failed
// check class, and a series.
func fullSummary(t *testing.T) *Summary {
	t.Helper()
	start := time.UnixMilli(1_700_000_000_000)
	rec := NewRecorder(Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"},
		Writes: []bool{true, true}, Model: ModelOpen, Start: start})
	s := recordStorm(rec, start, 4, func(sec int) {
		for i := 0; i < 400; i++ {
			rec.Record(i, 0, i%2, time.Duration(5+i%50)*ms, OK, 0)
			rec.Record(i, 1, i%2, time.Duration(40+sec*20+i%90)*ms, OK, 0)
		}
		rec.Record(0, 1, 0, 0, BadStatus, 0)
	})
	s.Meta = map[string]string{"profile": "smoke", "target": "bundled"}
	// The verdicts of "add_to_cart p99 < 100ms", "checkout p99 < 100ms"
	// and "errors < 1%" on these figures (the writers' input; the budget
	// package judges them so).
	p99 := func(st *Stats) BudgetResult {
		ms := float64(st.Judged().P99) / float64(time.Millisecond)
		return BudgetResult{Expr: st.Name + " p99 < 100ms", Metric: "p99", Unit: UnitDuration, Op: OpLT, Limit: 100,
			Actual: ms, Samples: st.Count, Met: ms < 100}
	}
	s.Budgets = []BudgetResult{p99(&s.PerStep[0]), p99(&s.PerStep[1]), {Expr: "errors < 1%", Metric: "errors", Unit: UnitPercent,
		Op: OpLT, Limit: 1, Actual: s.Overall.ErrorPct, Samples: s.Overall.Count, Met: s.Overall.ErrorPct < 1}}
	for i, src := range []string{"--budget", "smoke.yaml:126:5", "--budget"} {
		s.Budgets[i].Source = src
	}
	if !s.Budgets[0].Met || s.Budgets[1].Met || !s.Budgets[2].Met {
		t.Fatalf("the storm does not give one missed budget of three: %+v", s.Budgets)
	}
	return s
}

// written returns what write writes for s, failing the test on an error.
func written(t *testing.T, write func(io.Writer, *Summary) error, s *Summary) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestWriteJSON(t *testing.T) {
	s := fullSummary(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, s); err != nil {
		t.Fatal(err)
	}
	var j JSONReport
	if err := json.Unmarshal(buf.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(buf.Bytes(), &raw)
	if raw["schema_version"] != float64(JSONSchemaVersion) {
		t.Errorf("schema_version = %v", raw["schema_version"])
	}
	if j.Overall.Requests != s.Overall.Count || j.Steps[1].Latency.P99Ms != durMs(s.PerStep[1].Raw.P99) ||
		j.Steps[1].Step != "checkout" || j.Compliance.Figure != "from_intended_start" || j.Compliance.Share != s.Overall.Raw.Compliance() {
		t.Errorf("json figures do not match the summary: %+v", j.Steps[1])
	}
	if len(j.Budgets) != 3 || j.BudgetsMet || !j.Budgets[0].Met || j.Budgets[1].Met || j.Budgets[1].Source != "smoke.yaml:126:5" ||
		j.Budgets[1].Actual == nil || *j.Budgets[1].Actual != s.Budgets[1].Actual || j.Budgets[1].Unit != "ms" {
		t.Errorf("json budgets %+v", j.Budgets)
	}
	if len(j.Series) != 4 || j.Series[3].Requests != s.Series[3].Count || j.Cells[0].Region == "" || j.Steps[1].ErrorsByClass["bad_status"] != 4 {
		t.Errorf("json series/cells: %+v %+v", j.Series, j.Cells)
	}
	if len(j.Failures) != 1 || j.Failures[0].Status != 400 {
		t.Errorf("json failures %+v", j.Failures)
	}
}

func TestWriteJUnit(t *testing.T) {
	s := fullSummary(t)
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, s); err != nil {
		t.Fatal(err)
	}
	j, err := ReadJUnit(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if j.Tests != 4 || j.Failures != 2 || len(j.Suites) != 2 {
		t.Fatalf("junit: %d tests %d failures %d suites", j.Tests, j.Failures, len(j.Suites))
	}
	b := j.Suites[0]
	if b.Cases[0].Name != "add_to_cart p99 < 100ms" || b.Cases[0].Failure != nil {
		t.Errorf("case 0 = %+v", b.Cases[0])
	}
	f := b.Cases[1].Failure
	want := "MISSED: actual " + s.Budgets[1].ActualText() + ", limit < 100ms"
	if f == nil || f.Message != want || !strings.Contains(f.Text, "from: smoke.yaml:126:5") {
		t.Errorf("missed budget failure = %+v, want message %q", f, want)
	}
	c := j.Suites[1].Cases[0]
	if c.Name != "checkout status (status 400)" || c.Failure == nil || !strings.Contains(c.Failure.Message, "3 of 1,604 answers of checkout") {
		t.Errorf("check case = %+v", c)
	}
}

func TestWriteHgrm(t *testing.T) {
	s := fullSummary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "run.hgrm")
	if err := WriteFileAtomic(path, func(w io.Writer) error { return WriteHgrm(w, s) }); err != nil {
		t.Fatal(err)
	}
	paths, err := WriteHgrmSteps(path, s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "run.add_to_cart.hgrm"), filepath.Join(dir, "run.checkout.hgrm")}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Fatalf("step files %v, want %v", paths, want)
	}
	// Each file holds one distribution (one table, one footer) that ends at
	// its max with every answer counted; no temporary file is left behind.
	re := regexp.MustCompile(`(?m)^\s+([0-9.]+)\s+1\.000000\s+(\d+)\s+inf$`)
	for i, c := range []struct {
		path, step string
		st         *Stats
	}{{path, "all", &s.Overall}, {want[0], "add_to_cart", &s.PerStep[0]}, {want[1], "checkout", &s.PerStep[1]}} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		out := string(b)
		if strings.Count(out, "#[Mean") != 1 || strings.Count(out, "Value") != 1 ||
			!strings.HasPrefix(out, "# agentstorm: step="+c.step+", from intended start latency") {
			t.Fatalf("%s is not one distribution of %s:\n%s", c.path, c.step, out)
		}
		m := re.FindAllStringSubmatch(out, -1)
		if len(m) != 1 {
			t.Fatalf("%s: %d rows at 1.000000, want 1:\n%s", c.path, len(m), out)
		}
		v, _ := strconv.ParseFloat(m[0][1], 64)
		n, _ := strconv.ParseInt(m[0][2], 10, 64)
		if want := durMs(c.st.Raw.Max); v != want || n != c.st.Raw.Count {
			t.Errorf("file %d (%s): last row %v ms × %d, want max %v ms × %d", i, c.step, v, n, want, c.st.Raw.Count)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("%d files in the directory, want the 3 distributions", len(ents))
	}
}

func TestHgrmStepPath(t *testing.T) {
	for _, c := range []struct{ path, step, want string }{
		{"out/run.hgrm", "add_to_cart", "out/run.add_to_cart.hgrm"},
		{"latency", "checkout", "latency.checkout.hgrm"},
		{"run.hgrm", "GET /cart/{id}", "run.GET__cart__id_.hgrm"},
		{"run.hgrm", "../x", "run.___x.hgrm"},
	} {
		if got := HgrmStepPath(c.path, c.step); got != c.want {
			t.Errorf("HgrmStepPath(%q, %q) = %q, want %q", c.path, c.step, got, c.want)
		}
	}
	// Names that map to one file get the step's index, so none is overwritten.
	s := fullSummary(t)
	s.PerStep[0].Name, s.PerStep[1].Name = "a b", "a/b"
	path := filepath.Join(t.TempDir(), "r.hgrm")
	paths, err := WriteHgrmSteps(path, s)
	if err != nil || len(paths) != 2 || paths[0] == paths[1] || !strings.HasSuffix(paths[1], "r.a_b.1.hgrm") {
		t.Errorf("colliding step names: %v, %v", paths, err)
	}
}

func TestWriteMarkdownAndText(t *testing.T) {
	s := fullSummary(t)
	md, txt := written(t, WriteMarkdown, s), written(t, WriteText, s)
	for _, want := range []string{"### ❌ agentstorm: smoke: 1 of 3 budgets missed", "| `checkout p99 < 100ms` |", "&lt; 100ms", "❌ MISSED", "| **all** |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	tail := txt[strings.LastIndex(txt, "\nBudgets"):]
	for _, want := range []string{"checkout p99 < 100ms", "< 100ms", "MISSED", "1 of 3 budgets MISSED."} {
		if !strings.Contains(tail, want) {
			t.Errorf("text budget table lacks %q:\n%s", want, tail)
		}
	}
}

func TestCompare(t *testing.T) {
	before := fullSummary(t)
	start := time.UnixMilli(1_700_000_000_000)
	rec := NewRecorder(Options{Steps: []string{"add_to_cart", "search"}, Model: ModelOpen, Start: start})
	for i := 0; i < 1000; i++ {
		rec.Record(i, 0, 0, 200*ms, OK, 0)
	}
	rec.Release(rec.Rotate(start.Add(time.Second)))
	after := rec.Summary(time.Second)
	rows := Compare(before, after)
	var p99 *CompareRow
	for i := range rows {
		if rows[i].Step == "add_to_cart" && rows[i].Figure == "p99" {
			p99 = &rows[i]
		}
	}
	if p99 == nil || p99.Before != durMs(before.PerStep[0].Raw.P99) || p99.After != durMs(after.PerStep[0].Raw.P99) {
		t.Fatalf("p99 row %+v", p99)
	}
	var buf bytes.Buffer
	if err := WriteCompare(&buf, before, after, "a.hlog", "b.hlog"); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Comparing a.hlog", "add_to_cart", "checkout", "search", "+1", "%)"} {
		if !strings.Contains(out, want) {
			t.Errorf("compare lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := WriteCompareMarkdown(&buf, before, after, "a.hlog", "b.hlog"); err != nil {
		t.Fatal(err)
	}
	want := "| add_to_cart | p99 | " + UnitDuration.formatActual(p99.Before) + " | " + UnitDuration.formatActual(p99.After) + " | +"
	if !strings.Contains(buf.String(), want) {
		t.Errorf("markdown compare lacks %q:\n%s", want, buf.String())
	}
}

// runChromium runs headless Chromium with args after the common flags and
// returns its stdout and its log (stderr).
func runChromium(t *testing.T, args ...string) (out, log string) {
	t.Helper()
	bin := chromium.Path(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(chromium.Args(t), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// renderHTML opens url (file://PATH[#VIEW]) in headless Chromium and
// returns the DOM after scripts ran and the browser's log (stderr).
func renderHTML(t *testing.T, url string) (dom, log string) {
	t.Helper()
	return runChromium(t, "--dump-dom", url)
}

// checkRendered fails unless Chromium ran the report's script, found want
// charts with a size and ink on their canvas, and logged no console
// message (an error, or a stray log).
func checkRendered(t *testing.T, dom, log string, want int) {
	t.Helper()
	if !strings.Contains(dom, `data-charts-rendered="`+strconv.Itoa(want)+`"`) {
		i := strings.Index(dom, "data-charts-rendered")
		t.Errorf("chromium did not render %d charts (attribute: %q)", want, dom[max(i, 0):min(max(i, 0)+40, len(dom))])
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "CONSOLE") || strings.Contains(l, "Uncaught") {
			t.Errorf("chromium console: %s", l)
		}
	}
}

// screenshot renders url in headless Chromium 1,400 px wide and returns
// the image; with AGENTSTORM_SCREENSHOT_DIR set it keeps it there as NAME.png
// for a person to look at.
func screenshot(t *testing.T, url, name string) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".png")
	if dir := os.Getenv("AGENTSTORM_SCREENSHOT_DIR"); dir != "" {
		path = filepath.Join(dir, name+".png")
	}
	_, log := runChromium(t, "--screenshot="+path, url)
	checkRendered(t, `data-charts-rendered="0"`, log, 0) // the console only
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}

// countColor returns how many pixels of img are within 24 of c in every
// channel.
func countColor(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			near := func(v uint32, w uint8) bool { d := int(v>>8) - int(w); return d > -24 && d < 24 }
			if near(r, c.R) && near(g, c.G) && near(bl, c.B) {
				n++
			}
		}
	}
	return n
}

func writeHTMLFile(t *testing.T, s *Summary) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFileAtomic(path, func(w io.Writer) error { return WriteHTML(w, s) }); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWriteHTMLRendersInChromium(t *testing.T) {
	s := fullSummary(t)
	s.Events = []TimelineEvent{{At: 1500 * time.Millisecond, Name: "kill_shard shard 1"}, {At: 3 * time.Second, Name: "restore_shard shard 1", Error: "refused"}}
	path := writeHTMLFile(t, s)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	for _, want := range []string{`<script type="application/json" id="chart-data">`, "uPlot", "checkout p99 &lt; 100ms", "MISSED",
		"1 of 3 budgets missed", "ap-tokyo", "add_to_cart @ us-east", "1.5 s: kill_shard shard 1", "(failed: refused)"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`https?://[^"' )<]+`).FindAllString(html, -1) {
		// uPlot's banner comment names its home; nothing else may refer out.
		if !strings.HasPrefix(m, "http://www.w3.org/") && m != "https://github.com/leeoniya/uPlot" {
			t.Errorf("html refers to %s: it must open offline", m)
		}
	}
	if len(data) > 400<<10 {
		t.Errorf("report of a 4-second run is %d bytes: too big to attach to a CI run", len(data))
	}
	url := "file://" + path
	dom, log := renderHTML(t, url)
	// Six charts: latency over time, p99 by step, throughput, agents,
	// distribution, spectrum.
	checkRendered(t, dom, log, 6)
	for _, want := range []string{"Latency over time: all (from intended start, per second)", "p99 by step over time",
		"Requests and errors per second: all", "Active agents", "Response-time distribution: all", "Latency by percentile",
		">p99<", ">KO/s (errors)<", ">share of requests<", ">checkout<",
		`class="u-value">0:04<`} { // the legends show the last second while the cursor is away
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	// Another view, chosen by the link (one step, linear scale), where
	// zooming one over-time chart zooms them all (as a drag does).
	zoomed := filepath.Join(filepath.Dir(path), "zoomed.html")
	script := `<script>(function(){var c=window.agentstormCharts.charts;
Promise.resolve().then(function(){c[0].u.setScale("x",{min:2,max:3});}).then(function(){}).then(function(){
document.documentElement.setAttribute("data-zoom",c.map(function(x){
return x.def.id+"="+x.u.scales.x.min+"-"+x.u.scales.x.max;}).join(" "));});})();</script></body>`
	if err := os.WriteFile(zoomed, []byte(strings.Replace(html, "</body>", script, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, log = renderHTML(t, "file://"+zoomed+"#step=checkout&log=0")
	checkRendered(t, dom, log, 6)
	if !strings.Contains(dom, "Latency over time: checkout") || !strings.Contains(dom, "Response-time distribution: checkout") {
		t.Errorf("the link's step is not shown")
	}
	for _, want := range []string{"latency=2-3", "p99-steps=2-3", "throughput=2-3", "agents=2-3"} {
		if !strings.Contains(dom, want) {
			i := strings.Index(dom, "data-zoom")
			t.Errorf("zoom is not shared: want %s in %q", want, dom[max(i, 0):min(max(i, 0)+200, len(dom))])
		}
	}
	// What a person sees: the budget line (red) and the p99 line (orange)
	// are drawn, at 1,400 px.
	img := screenshot(t, url, "report")
	if w := img.Bounds().Dx(); w != 1400 {
		t.Errorf("screenshot is %d px wide, want 1400", w)
	}
	if n := countColor(img, color.RGBA{R: 0xd6, G: 0x27, B: 0x28}); n < 500 {
		t.Errorf("screenshot has %d pixels of the budget line's red: the charts did not draw", n)
	}
	if n := countColor(img, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e}); n < 300 {
		t.Errorf("screenshot has %d pixels of the p99 line's orange: the charts did not draw", n)
	}
}

func TestWriteHTMLClosedModelAndNoSeries(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := NewRecorder(Options{Steps: []string{"browse", "poll"}, Model: ModelClosed, Start: start})
	for i := 0; i < 300; i++ {
		rec.Record(i, 0, 0, time.Duration(1+i%40)*ms, OK, 20*ms)
		rec.Record(i, 1, 0, time.Duration(1+i%3)*ms, OK, 0) // no corrected figure
	}
	s := rec.Summary(time.Second)
	s.Interrupted = "interrupted by SIGINT after 1s"
	path := writeHTMLFile(t, s)
	// A step without a corrected figure, viewed corrected: empty charts,
	// no error. No series: the distribution and the spectrum only, and a note.
	dom, log := renderHTML(t, "file://"+path+"#step=poll&figure=corrected")
	checkRendered(t, dom, log, 2)
	for _, want := range []string{"✘ Run interrupted: interrupted by SIGINT after 1s", "No per-second series was recorded",
		"Response-time distribution: poll (corrected, whole run)", `<option value="1">corrected</option>`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
}

func TestWriteHTMLEmptyRun(t *testing.T) {
	start := time.UnixMilli(1_700_000_000_000)
	rec := NewRecorder(Options{Steps: []string{"browse", "buy"}, Model: ModelOpen, Start: start})
	c := NewSeriesCollector(start)
	for sec := 1; sec <= 2; sec++ {
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		c.Add(iv)
		rec.Release(iv)
	}
	s := rec.Summary(2 * time.Second)
	s.Series = c.Points()
	s.Failed = "no request was answered"
	dom, log := renderHTML(t, "file://"+writeHTMLFile(t, s))
	// Every chart is drawn (axes, no data) without a script error.
	checkRendered(t, dom, log, 5)
	if !strings.Contains(dom, "✘ Run failed: no request was answered") {
		t.Errorf("the failed run is not said")
	}
}

// recordStorm records a small storm into rec (seconds intervals, starting
// at start) and returns its summary with the series and a failed check
// class.
func recordStorm(rec *Recorder, start time.Time, seconds int, record func(sec int)) *Summary {
	series := NewSeriesCollector(start)
	for sec := 0; sec < seconds; sec++ {
		rec.SetActiveAgents(10 * (sec + 1))
		record(sec)
		iv := rec.Rotate(start.Add(time.Duration(sec+1) * time.Second))
		series.Add(iv)
		rec.Release(iv)
	}
	s := rec.Summary(time.Duration(seconds) * time.Second)
	s.Series = series.Points()
	s.Failures = []CheckFailure{{Step: "checkout", Kind: "status", Status: 400, Count: 3}}
	return s
}
