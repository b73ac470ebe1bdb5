package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/internal/chromium"
	"github.com/agentstorm/agentstorm/report"
)

var dashboardLine = regexp.MustCompile(`Dashboard: (http://127\.0\.0\.1:\d+)`)

// dashboardURL waits (10 s at most) for the command to say where its
// dashboard is.
func dashboardURL(t *testing.T, out, errOut *runBuffer) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := dashboardLine.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no dashboard address on stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	return ""
}

// TestRunDashboardInChromium opens the live dashboard of a short real run
// (a game day of one exec action) in headless Chromium: the page follows
// the run (its request count changes over several frames), marks the
// chaos action, ends with the JSON's request count, and fetches the HTML
// report.
func TestRunDashboardInChromium(t *testing.T) {
	bin := chromium.Path(t)
	base := okServer(t)
	jsonPath := filepath.Join(t.TempDir(), "run.json")
	t.Setenv("TMPDIR", t.TempDir())
	var out, errOut runBuffer
	env := &cliEnv{stdout: &out, stderr: &errOut}
	codeCh := make(chan int, 1)
	go func() {
		codeCh <- runCLI(context.Background(), env, []string{"run", "--profile", writeProfile(t, tinyProfile+"chaos:\n  - {at: 2s, action: exec, command: [\"true\"]}\n"), "--target", base,
			"--duration", "5s", "--agents", "3", "--ramp", "0s", "--dashboard=127.0.0.1:0", "--out", "json=" + jsonPath,
			"--budget", "p99 < 1s"})
	}()
	url := dashboardURL(t, &out, &errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The page's event stream stays open until the run's end event, so the
	// DOM is dumped after the run, once the page has fetched the report.
	cmd := exec.CommandContext(ctx, bin, append(chromium.Args(t), "--virtual-time-budget=30000", "--dump-dom", url+"/")...)
	var dom, clog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &dom, &clog
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, clog.String())
	}
	if strings.Contains(clog.String(), "Uncaught") {
		t.Errorf("the page's script failed:\n%s", clog.String())
	}
	code := <-codeCh
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	sum := readJSONFile[jsonOut](t, jsonPath)
	page := dom.String()
	attr := func(name string) int64 {
		m := regexp.MustCompile(`data-` + name + `="(\d+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the page has no data-%s:\n%s", name, page)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}
	if frames := attr("frames"); frames < 3 {
		t.Errorf("the page got %d frames of a 5 s run", frames)
	}
	if first, last := attr("first-n"), attr("last-n"); first >= last || last != sum.Overall.Requests || attr("end-n") != last {
		t.Errorf("the page's request count went %d -> %d (at the end %d); the JSON says %d", first, last, attr("end-n"), sum.Overall.Requests)
	}
	if !strings.Contains(page, ">"+commas(int(sum.Overall.Requests))+"<") {
		t.Errorf("the page does not show %s requests", commas(int(sum.Overall.Requests)))
	}
	if attr("report") < 10_000 || !strings.Contains(page, `id="status">finished`) {
		t.Errorf("the page did not finish with the report fetched")
	}
	if !regexp.MustCompile(`<li>[^<]*chaos [^<]*ok</li>`).MatchString(page) {
		t.Errorf("the page lists no chaos action:\n%s", page)
	}
	if !strings.Contains(page, `budget pass`) {
		t.Errorf("the budget p99 < 1s is not shown passing:\n%s", page)
	}
}

// TestK6FollowDashboard follows a k6 file being written with the
// dashboard on: the event stream's frames grow and end with the JSON's
// request count, then the HTML report is served.
func TestK6FollowDashboard(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "live.json")
	if err := os.WriteFile(in, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "f.json")
	var out, errOut runBuffer
	codeCh := make(chan int, 1)
	go func() {
		codeCh <- runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut},
			[]string{"k6", "ingest", in, "--follow", "--idle-timeout", "700ms", "--dashboard=127.0.0.1:0", "--out", "json=" + js})
	}()
	url := dashboardURL(t, &out, &errOut)
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	w, err := os.OpenFile(in, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := k6Lines(1500, 300, []string{"a", "b"}, func(i int) float64 { return float64(1 + i%9) })
	for off := 0; off < len(data); off += 20000 {
		_, _ = w.Write(data[off:min(off+20000, len(data))])
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	var ns []int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	ended := false
	for !ended && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: end":
			ended = true
		case strings.HasPrefix(line, "data: {"):
			var f struct {
				N int64 `json:"n"`
			}
			if err := json.Unmarshal([]byte(line[len("data: "):]), &f); err != nil {
				t.Fatalf("frame %q: %v", line, err)
			}
			ns = append(ns, f.N)
		}
	}
	if !ended {
		t.Fatalf("the stream ended without the end event (%v)", sc.Err())
	}
	r, err := http.Get(url + "/report")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if code := <-codeCh; code != exitOK || r.StatusCode != http.StatusOK {
		t.Fatalf("exit %d, /report %s\n%s\n%s", code, r.Status, out.String(), errOut.String())
	}
	want := readJSONFile[*report.JSONReport](t, js).Overall.Requests
	if len(ns) < 3 || ns[0] >= ns[len(ns)-1] || ns[len(ns)-1] != want || want != 1500 {
		t.Errorf("frames' request counts %v; the JSON says %d (of 1500)", ns, want)
	}
}
