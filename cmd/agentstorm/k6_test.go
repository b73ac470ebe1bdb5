package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

const k6Fixture = "../../k6/testdata/results.json"

// k6It runs `agentstorm k6 args...` in-process.
func k6It(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut runBuffer
	code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, append([]string{"k6"}, args...))
	return code, out.String(), errOut.String()
}

// k6Lines returns n k6 JSON http_req_duration lines, rate per second of
// k6 time, latency lat(i) ms, step names cycling over steps.
func k6Lines(n, rate int, steps []string, lat func(int) float64) []byte {
	var b bytes.Buffer
	start := time.Unix(1795708800, 0).UTC()
	for i := 0; i < n; i++ {
		ts := start.Add(time.Duration(i) * time.Second / time.Duration(rate)).Format(time.RFC3339Nano)
		step := steps[i%len(steps)]
		fmt.Fprintf(&b, `{"metric":"http_req_duration","type":"Point","data":{"time":"%s","value":%.6f,"tags":{"expected_response":"true","method":"POST","name":"%s","proto":"HTTP/1.1","scenario":"default","status":"200","url":"http://127.0.0.1:8081/%s"}}}`+"\n",
			ts, lat(i), step, step)
		if i%10 == 0 {
			fmt.Fprintf(&b, `{"metric":"checks","type":"Point","data":{"time":"%s","value":%d,"tags":{"check":"status is 200","scenario":"default"}}}`+"\n", ts, min(i%7, 1))
		}
	}
	return b.Bytes()
}

func TestK6IngestBudgetsAndExitCodes(t *testing.T) {
	code, out, errOut := k6It(t, "ingest", k6Fixture, "--budget", "name=checkout p99 < 10s", "--budget", "checks >= 70%", "--budget", "add_to_cart under(100ms) >= 99%")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"Sub-100 ms compliance", "checkout", "All 3 budgets met.", "Checks: 3 of 4 passed", "✗ checkout accepted", "dropped_iterations 3", "Latency note (k6)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	code, _, errOut = k6It(t, "ingest", k6Fixture, "--budget", "p99 < 100ms", "--budget", "dropped_iterations == 0")
	if code != exitBudgetMissed || !strings.Contains(errOut, "budget missed: p99 < 100ms: actual 5.01s") || !strings.Contains(errOut, "budget missed: dropped_iterations == 0: actual 3") {
		t.Fatalf("missed budgets: exit %d, stderr %s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ingest", k6Fixture, "--budget", "p99 < 100"}, "expected a unit"},
		{[]string{"ingest", k6Fixture, "--budget", "name=nosuch p99 < 100ms"}, `unknown step "nosuch"`},
		{[]string{"ingest"}, "give one input"},
		{[]string{"ingest", "-", "--follow"}, "--follow reads a file"},
		{[]string{"ingest", k6Fixture, "--out", "pdf=x.pdf"}, "unknown kind"},
		{[]string{"nosuch"}, "unknown subcommand"},
	} {
		code, _, errOut := k6It(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	// A step that is not in the run: exit 2, but the outputs are written.
	js := filepath.Join(t.TempDir(), "o.json")
	if code, _, errOut := k6It(t, "ingest", k6Fixture, "--budget", "name=chekout p99 < 1s", "--out", "json="+js); code != exitUsage || !strings.Contains(errOut, "known steps: add_to_cart") {
		t.Errorf("unknown step: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(js); err != nil {
		t.Errorf("unknown step: outputs not written: %v", err)
	}
	if code, _, errOut := k6It(t, "ingest", filepath.Join(t.TempDir(), "missing.json")); code != exitFailed || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d %s", code, errOut)
	}
	if code, out, _ := k6It(t, "ingest", "--help"); code != exitOK || !strings.Contains(out, "AGPL") {
		t.Errorf("--help: exit %d", code)
	}
}

// TestK6IngestEveryOutput writes every output kind; the hlog re-renders
// with `agentstorm report` to the same percentiles and budget verdicts.
func TestK6IngestEveryOutput(t *testing.T) {
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	in := p("results.json")
	data := k6Lines(4000, 400, []string{"add_to_cart", "checkout", "view"}, func(i int) float64 { return float64(i%120) + 0.25 })
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"ingest", in, "--budget", "name=checkout p99 < 100ms", "--budget", "checks >= 99%"}
	kinds := []string{"json", "junit", "hgrm", "markdown", "html", "text", "hlog"}
	for _, k := range kinds {
		args = append(args, "--out", k+"="+p("out."+k))
	}
	code, out, errOut := k6It(t, args...)
	if code != exitBudgetMissed {
		t.Fatalf("exit %d, want 99 (both budgets miss)\n%s\n%s", code, out, errOut)
	}
	for _, k := range kinds {
		st, err := os.Stat(p("out." + k))
		if err != nil || st.Size() == 0 {
			t.Errorf("--out %s: %v", k, err)
		}
	}
	j := readJSONFile[*report.JSONReport](t, p("out.json"))
	if j.Overall.Requests != 4000 || len(j.Steps) != 3 || j.Meta["source"] != "k6" || j.BudgetsMet {
		t.Errorf("json: requests %d steps %d meta %v met %v", j.Overall.Requests, len(j.Steps), j.Meta, j.BudgetsMet)
	}
	if f := j.Figures["checks"]; f < 85 || f > 86 {
		t.Errorf("json: checks figure %v, want 6 of 7 passing ≈ 85.7%%", f)
	}
	if len(j.Series) < 9 {
		t.Errorf("json: %d series points, want one per k6 second (10)", len(j.Series))
	}
	ju := readJUnitFile(t, p("out.junit"))
	if ju.Failures == 0 {
		t.Errorf("junit: no failures for the missed budgets")
	}
	// Re-render from the hlog.
	code, rout, rerr := reportIt(t, p("out.hlog"), "--out", "json="+p("re.json"))
	if code != exitBudgetMissed {
		t.Fatalf("report on the hlog: exit %d\n%s\n%s", code, rout, rerr)
	}
	r := readJSONFile[*report.JSONReport](t, p("re.json"))
	if r.Overall.Requests != j.Overall.Requests || len(r.Steps) != len(j.Steps) {
		t.Fatalf("re-read: %d requests %d steps, want %d, %d", r.Overall.Requests, len(r.Steps), j.Overall.Requests, len(j.Steps))
	}
	for i := range j.Steps {
		a, b := j.Steps[i], r.Steps[i]
		if a.Name != b.Name || a.Latency != b.Latency {
			t.Errorf("step %d: ingest %+v, re-read %+v", i, a.Latency, b.Latency)
		}
	}
	for i := range j.Budgets {
		if r.Budgets[i].Met != j.Budgets[i].Met || r.Budgets[i].Expr != j.Budgets[i].Expr {
			t.Errorf("budget %s: ingest met %v, re-read met %v", j.Budgets[i].Expr, j.Budgets[i].Met, r.Budgets[i].Met)
		}
	}
	// Every kind's file, one .hgrm per step besides the run's, re.json and
	// the input: no spool or partial file left behind.
	want := len(kinds) + len(j.Steps) + 2
	if entries, _ := os.ReadDir(dir); len(entries) != want {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("%d files in the output directory, want %d (no spool left behind): %v", len(entries), want, names)
	}
}

func TestK6IngestStdinGzipAndCSV(t *testing.T) {
	data := k6Lines(1000, 200, []string{"a"}, func(i int) float64 { return 5 })
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(data)
	_ = zw.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = pw.Write(zb.Bytes())
		_ = pw.Close()
	}()
	old := os.Stdin
	os.Stdin = pr
	defer func() { os.Stdin = old; _ = pr.Close() }()
	dir := t.TempDir()
	code, out, errOut := k6It(t, "ingest", "-", "--budget", "p99 < 10ms", "--out", "json="+filepath.Join(dir, "s.json"))
	if code != exitOK {
		t.Fatalf("stdin: exit %d\n%s\n%s", code, out, errOut)
	}
	if j := readJSONFile[*report.JSONReport](t, filepath.Join(dir, "s.json")); j.Overall.Requests != 1000 {
		t.Errorf("stdin gzip: %d requests, want 1000", j.Overall.Requests)
	}
	code, out, errOut = k6It(t, "ingest", "../../k6/testdata/results.csv", "--region-tag", "region", "--budget", "region=ap-tokyo errors > 50%")
	if code != exitOK || !strings.Contains(out, "ap-tokyo") {
		t.Fatalf("csv: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestK6IngestMalformedAndStrict(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "r.json")
	lines := strings.SplitAfter(string(k6Lines(20, 10, []string{"a"}, func(int) float64 { return 3 })), "\n")
	bad := strings.Join(lines[:5], "") + "{\"metric\":\"http_req_duration\",\"type\":\"Po\n" + strings.Join(lines[5:], "")
	bad += lines[2][:30] // truncated last line
	if err := os.WriteFile(in, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := k6It(t, "ingest", in)
	if code != exitOK || !strings.Contains(out, "r.json:6: malformed line skipped") || !strings.Contains(out, "the last line is cut short") {
		t.Fatalf("lenient: exit %d\n%s", code, out)
	}
	js := filepath.Join(dir, "o.json")
	code, _, errOut := k6It(t, "ingest", in, "--strict", "--out", "json="+js)
	if code != exitFailed || !strings.Contains(errOut, "--strict: "+in+":6:") {
		t.Fatalf("strict: exit %d, stderr %s", code, errOut)
	}
	if j := readJSONFile[*report.JSONReport](t, js); j.Overall.Requests == 0 {
		t.Errorf("strict: the lines before the bad one were not kept")
	}
}

// TestK6Follow tails a file a goroutine appends to, as k6 writes it, and
// aborts live on a budget.
func TestK6Follow(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "live.json")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	data := k6Lines(3000, 300, []string{"a", "b"}, func(i int) float64 { return 2 })
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w, err := os.OpenFile(in, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return
		}
		defer w.Close()
		for off := 0; off < len(data); off += 5000 { // chunks split lines
			_, _ = w.Write(data[off:min(off+5000, len(data))])
			time.Sleep(3 * time.Millisecond)
		}
	}()
	js := filepath.Join(dir, "f.json")
	code, out, errOut := k6It(t, "ingest", in, "--follow", "--idle-timeout", "500ms", "--budget", "p99 < 50ms", "--out", "json="+js)
	wg.Wait()
	if code != exitOK || !strings.Contains(out, "k6 0:0") {
		t.Fatalf("follow: exit %d\n%s\n%s", code, out, errOut)
	}
	if j := readJSONFile[*report.JSONReport](t, js); j.Overall.Requests != 3000 {
		t.Errorf("follow: %d requests, want 3000", j.Overall.Requests)
	}

	// A live abort: p99 < 1ms fails on the first judged second of k6 time.
	in2 := filepath.Join(dir, "slow.json")
	if err := os.WriteFile(in2, k6Lines(3000, 300, []string{"a"}, func(int) float64 { return 20 }), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = k6It(t, "ingest", in2, "--follow", "--idle-timeout", "300ms", "--budget", "p99 < 1ms abort after 2s min 10")
	if code != exitBudgetMissed || !strings.Contains(out, "Aborting:") {
		t.Fatalf("live abort: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, " 3,000 requests") {
		t.Errorf("live abort did not stop the ingest early:\n%s", out)
	}

	// Started before k6: --follow waits for the file to appear.
	in3 := filepath.Join(dir, "later.json")
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		_ = os.WriteFile(in3, k6Lines(100, 50, []string{"a"}, func(int) float64 { return 1 }), 0o644)
	}()
	code, out, errOut = k6It(t, "ingest", in3, "--follow", "--idle-timeout", "1s")
	wg.Wait()
	if code != exitOK || !strings.Contains(out, "Waiting for") || !strings.Contains(out, "100 requests") {
		t.Fatalf("follow before the file exists: exit %d\n%s\n%s", code, out, errOut)
	}
}

// TestK6IngestNoPoints: an input without a single k6 point (empty, only
// malformed lines, another file type) or a directory fails with a clear
// message instead of printing an empty summary.
func TestK6IngestNoPoints(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, data, also string }{
		{"empty.json", "", ""},
		{"blank.json", "\n\n  \n", ""},
		{"malformed.json", "{\"metric\":\"http_req_duration\",\"type\":\"Po\n{nope\n", "malformed line skipped"},
		{"other.txt", "hello world\n", "neither k6 JSON"},
		{"header.csv", "metric_name,timestamp,metric_value\n", ""},
	} {
		in := filepath.Join(dir, c.name)
		if err := os.WriteFile(in, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := k6It(t, "ingest", in)
		want := "no k6 points in " + in + " (is it the output of `k6 run --out json=FILE` or `--out csv=FILE`?)"
		if code != exitFailed || !strings.Contains(errOut, want) || !strings.Contains(out+errOut, c.also) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and %q", c.name, code, out, errOut, exitFailed, want)
		}
		if strings.Contains(out, "requests") || strings.Contains(out, "p99") {
			t.Errorf("%s: an empty summary was printed:\n%s", c.name, out)
		}
	}
	code, out, errOut := k6It(t, "ingest", dir)
	if code != exitUsage || !strings.Contains(errOut, dir+" is a directory") || out != "" {
		t.Errorf("directory: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestK6IngestBrokenTimeLineExits1: input whose time line is broken (a first
// point dated years off) or whose every point has an unreadable time is not
// judged: exit 1 with a message, never 0 on a sliver.
func TestK6IngestBrokenTimeLineExits1(t *testing.T) {
	dir := t.TempDir()
	good := k6Lines(3000, 100, []string{"add_to_cart"}, func(int) float64 { return 5 })
	stale := `{"metric":"http_req_duration","type":"Point","data":{"time":"2019-01-01T00:00:00Z","value":5,"tags":{"name":"add_to_cart","status":"200"}}}` + "\n"
	unreadable := strings.Repeat(`{"metric":"http_req_duration","type":"Point","data":{"time":"soon","value":5,"tags":{"name":"add_to_cart","status":"200"}}}`+"\n", 20)
	for _, c := range []struct{ name, data, want string }{
		{"stale.json", stale + string(good), "time line is broken"},
		{"unreadable.json", unreadable, "no request was recorded"},
	} {
		in := filepath.Join(dir, c.name)
		if err := os.WriteFile(in, []byte(c.data), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, extra := range [][]string{nil, {"--strict"}, {"--budget", "p99 < 1s"}} {
			code, _, errOut := k6It(t, append([]string{"ingest", "-q", in}, extra...)...)
			if code != exitFailed || !strings.Contains(errOut, c.want) {
				t.Errorf("%s %v: exit %d, stderr %q; want exit %d and %q", c.name, extra, code, errOut, exitFailed, c.want)
			}
		}
	}
}
