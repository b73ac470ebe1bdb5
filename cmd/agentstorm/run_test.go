package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// runBuffer is a bytes.Buffer safe for concurrent writes and reads.
type runBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *runBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *runBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runIt runs `agentstorm run args...` in-process and returns its exit code
// and output.
func runIt(t *testing.T, interrupts chan os.Signal, args ...string) (int, string, string) {
	t.Helper()
	// The bundled target's log file (agentstorm-target-*.log) goes to a
	// directory removed when the test ends, not to /tmp. No test here runs
	// in parallel, so t.Setenv is allowed.
	t.Setenv("TMPDIR", t.TempDir())
	var out, errOut runBuffer
	env := &cliEnv{stdout: &out, stderr: &errOut, interrupts: interrupts}
	code := runCLI(context.Background(), env, append([]string{"run"}, args...))
	return code, out.String(), errOut.String()
}

// okServer serves 200 "ok" on loopback until the test ends.
func okServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"cart_id":"c0-1","mode":"in_stock"}`)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "http://" + ln.Addr().String()
}

// writeProfile writes a small profile file and returns its path.
func writeProfile(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const tinyProfile = `name: tiny
workload:
  model: closed
  stages: "0->4 in 0s, hold 30s"
  think: 20ms
flows:
  - name: f
    steps:
      - {name: open_cart, method: POST, path: /v1/carts, body: {a: 1}, expect: {status: 201}}
`

func TestRunAgainstURL(t *testing.T) {
	base := okServer(t)
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", base, "--duration", "6s", "--agents", "3", "--ramp", "0s")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Profile tiny", "closed model, 6s in all", "3 over 0s, 3 over 6s",
		"agents 3", // the live line (not a terminal: every 5 s)
		"req/s", "open_cart", "Connections: 3 dials, 0 failed.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\r") {
		t.Error("live line redrawn with \\r on a non-terminal")
	}
}

func TestRunInterruptSummarises(t *testing.T) {
	base := okServer(t)
	sigs := make(chan os.Signal, 2)
	time.AfterFunc(time.Second, func() { sigs <- os.Interrupt })
	start := time.Now()
	dir := t.TempDir()
	code, out, errOut := runIt(t, sigs, "--profile", writeProfile(t, tinyProfile), "--target", base,
		"--out", "json="+filepath.Join(dir, "run.json"), "--out", "junit="+filepath.Join(dir, "run.xml"))
	took := time.Since(start)
	// An interrupted run never exits 0 (k6's 105) and every output says so.
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitInterrupted, out, errOut)
	}
	j := readJSONFile[*report.JSONReport](t, filepath.Join(dir, "run.json"))
	if j.Status != report.StatusInterrupted || !strings.Contains(j.StatusReason, "interrupted") {
		t.Errorf("json: status %q (%q), want interrupted", j.Status, j.StatusReason)
	}
	if ju := readJUnitFile(t, filepath.Join(dir, "run.xml")); ju.Failures == 0 {
		t.Errorf("junit: no failed case for the interrupted run")
	}
	if !strings.Contains(out, "RUN INTERRUPTED: interrupted") {
		t.Errorf("the summary does not lead with the interruption:\n%s", out)
	}
	if took > 3500*time.Millisecond {
		t.Fatalf("run took %s after Ctrl-C at 1s; want the agents stopped within 2s", took)
	}
	if !strings.Contains(out, "Interrupted after") || !strings.Contains(out, "open_cart") {
		t.Fatalf("no summary after interrupt:\n%s", out)
	}
	if !strings.Contains(errOut, "interrupted") {
		t.Fatalf("stderr does not say interrupted: %s", errOut)
	}
}

func TestRunUnreachableExits1(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", "http://"+addr, "--duration", "1s")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "target unreachable") || !strings.Contains(out, "conn_refused") {
		t.Fatalf("want the refused connections summarised and the run failed:\n%s\n%s", out, errOut)
	}
}

// resetServer accepts connections and resets each at once (linger 0), for
// as long as the test runs.
func resetServer(t *testing.T) string {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.AcceptTCP()
			if err != nil {
				return
			}
			_ = c.SetLinger(0)
			_ = c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestRunWithoutAnswersFailsEverywhere: a run in which no request was
// answered is a failed run whatever the error class, refused or reset:
// exit 1, and every output says so (no JUnit with 0 failures, no JSON that
// a pipeline could read as a pass).
func TestRunWithoutAnswersFailsEverywhere(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	for _, c := range []struct{ name, target, class string }{
		{"refused", refused, "conn_refused"},
		{"reset", resetServer(t), "conn_reset"},
	} {
		dir := t.TempDir()
		code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", c.target, "--duration", "1s",
			"--out", "json="+filepath.Join(dir, "run.json"), "--out", "junit="+filepath.Join(dir, "run.xml"), "--out", "markdown="+filepath.Join(dir, "run.md"))
		if code != exitFailed {
			t.Errorf("%s: exit %d, want 1\n%s\n%s", c.name, code, out, errOut)
			continue
		}
		j := readJSONFile[*report.JSONReport](t, filepath.Join(dir, "run.json"))
		if j.Status != report.StatusFailed || !strings.Contains(j.StatusReason, c.class) && !strings.Contains(j.StatusReason, "unreachable") {
			t.Errorf("%s: json status %q (%q), want failed naming %s", c.name, j.Status, j.StatusReason, c.class)
		}
		if ju := readJUnitFile(t, filepath.Join(dir, "run.xml")); ju.Tests == 0 || ju.Failures == 0 {
			t.Errorf("%s: junit tests=%d failures=%d: a failed run must be a failed test", c.name, ju.Tests, ju.Failures)
		}
		if md, _ := os.ReadFile(filepath.Join(dir, "run.md")); !strings.Contains(string(md), "run failed") {
			t.Errorf("%s: markdown does not say the run failed:\n%s", c.name, md)
		}
		if !strings.Contains(out, "RUN FAILED") || !strings.Contains(out, c.class) {
			t.Errorf("%s: summary does not say the run failed:\n%s", c.name, out)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	bad := writeProfile(t, "name: bad\nworkload:\n  model: sideways\n  stages: \"0->1 in 1s\"\nflows: []\n")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--agents", "-3"}, "--agents -3"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--target", "ftp://x"}, "--target"},
		{[]string{"--frobnicate"}, "unknown flag"},
		{[]string{"--max-body-size", "12XB"}, "is not a size"},
		{[]string{"--max-header-size", "0"}, "is not a size"},
		{[]string{"smoke"}, "unexpected argument"},
		{[]string{"--dashboard", "127.0.0.1:0"}, "as --dashboard=127.0.0.1:0"},
		{[]string{"--dashboard=203.0.113.9:1", "--target", "http://127.0.0.1:1"}, "--dashboard: dashboard: listen on 203.0.113.9:1"},
		{[]string{"--profile", "no-such-builtin"}, "no built-in profile"},
		{[]string{"--profile", bad}, bad + ":3:"},
		{[]string{"--source-addr", "not-an-ip", "--target", "http://127.0.0.1:1"}, "--source-addr"},
	}
	for _, c := range cases {
		code, _, errOut := runIt(t, nil, c.args...)
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %s)", c.args, code, errOut)
		}
		if !strings.Contains(errOut, c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errOut, c.want)
		}
	}
	code, out, _ := runIt(t, nil, "--help")
	if code != exitOK || !strings.Contains(out, "--source-addr") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}

func TestRunOverridesRewriteStages(t *testing.T) {
	prof := func() *profiles.Profile {
		p, err := profiles.Load("p.yaml", []byte(`workload:
  model: closed
  stages: "0->1000 in 10s, hold 60s, ->0 in 5s"
  think: 2s
flows:
  - name: f
    steps:
      - {name: s, method: GET, path: /}
`), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	apply := func(args ...string) *profiles.Profile {
		var f runFlags
		fs := newRunFlagSet(&f)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		p := prof()
		if err := f.overrides(fs).Apply(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	same := func(got []profiles.Stage, want ...profiles.Stage) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	// --agents alone scales every stage, keeping the shape.
	if p := apply("--agents", "100"); !same(p.Workload.Stages, profiles.Stage{Duration: 10 * time.Second, Target: 100}, profiles.Stage{Duration: 60 * time.Second, Target: 100}, profiles.Stage{Duration: 5 * time.Second, Target: 0}) {
		t.Errorf("--agents 100: %v", p.Workload.Stages)
	}
	// --duration makes a ramp (the first stage's, at most the duration) and a hold.
	if p := apply("--duration", "3s"); !same(p.Workload.Stages, profiles.Stage{Duration: 3 * time.Second, Target: 1000}) {
		t.Errorf("--duration 3s: %v", p.Workload.Stages)
	}
	if p := apply("--agents", "50", "--duration", "20s", "--ramp", "2s"); !same(p.Workload.Stages, profiles.Stage{Duration: 2 * time.Second, Target: 50}, profiles.Stage{Duration: 18 * time.Second, Target: 50}) {
		t.Errorf("--agents 50 --duration 20s --ramp 2s: %v", p.Workload.Stages)
	}
	if p := apply("--think", "0s"); p.Workload.Think.Kind != profiles.ThinkNone {
		t.Errorf("--think 0s: %+v", p.Workload.Think)
	}
	if p := apply("--think", "250ms"); p.Workload.Think.Kind != profiles.ThinkConstant || p.Workload.Think.Min != 250*time.Millisecond {
		t.Errorf("--think 250ms: %+v", p.Workload.Think)
	}
	// More agents than one process holds: every stage scaled by one factor, and said.
	p := prof()
	note := scaleToCapacity(p, 400)
	if p.Workload.Peak() != 400 || p.Workload.Stages[2].Target != 0 || !strings.Contains(note, "1,000 agents; scaled to 400") {
		t.Errorf("scaleToCapacity: stages %v, note %q", p.Workload.Stages, note)
	}
	if note := scaleToCapacity(prof(), 5000); note != "" {
		t.Errorf("no scaling needed, got note %q", note)
	}
}

func TestRunDefaultProfileIsScaledToTheProcess(t *testing.T) {
	p, err := profiles.Builtin(profiles.DefaultBuiltin)
	if err != nil {
		t.Fatal(err)
	}
	capacity, limit := fleet.Capacity()
	if capacity != limit-fleet.FDMargin {
		t.Fatalf("capacity %d, limit %d", capacity, limit)
	}
	note := scaleToCapacity(p, capacity)
	if p.Workload.Peak() > capacity {
		t.Fatalf("peak %d above capacity %d", p.Workload.Peak(), capacity)
	}
	if capacity < 50000 && !strings.Contains(note, "scaled to") {
		t.Fatalf("scaled silently: %q", note)
	}
}

// TestRunSmokeBundled is the README's first run, shortened: the smoke
// profile against the bundled target, which run starts and stops itself.
func TestRunSmokeBundled(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // the shards are this test binary (see TestMain)
	code, out, errOut := runIt(t, nil, "--profile", "smoke", "--duration", "3s")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"Starting the bundled target: 4 shard processes",
		"Target: the bundled checkout, 4 shards",
		"agentstorm summary", "open_cart", "add_to_cart",
		"Bundled target: stopping 4 shards; removing their order stores and shard logs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A run leaves no order store behind unless asked (--keep-data).
	_, after, ok := strings.Cut(out, "; data in ")
	dataDir, _, _ := strings.Cut(after, "\n")
	if !ok || dataDir == "" {
		t.Fatalf("the banner does not say where the data is:\n%s", out)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the bundled target's data %s is still there after the run: %v", dataDir, err)
	}
}

// TestCoordinatedOmission freezes the bundled target's only shard for 1 s in
// the middle of a closed run (64 agents, no think time, like wrk) and of an
// open run at the same mean rate: the open model's p99 shows the stall, the
// closed model's raw p99 hides it, and its corrected p99 shows it.
func TestCoordinatedOmission(t *testing.T) {
	if testing.Short() {
		t.Skip("two 6 s storms against a frozen shard")
	}
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sup, err := supervisor.Start(ctx, supervisor.Config{Shards: 1, Regions: []string{"us-east"}, Listen: "127.0.0.1:0", DataDir: t.TempDir(), Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	urls := map[string][]string{"us-east": {sup.Topology().Shards[0].URL}}

	storm := func(model string, level, maxAgents int) *report.Summary {
		src := fmt.Sprintf(`
workload:
  model: %s
  stages: "0->%d in 0s, hold 6s"%s
population:
  regions: {us-east: 1}
  skus: {count: 100}
flows:
  - name: f
    steps:
      - {name: inventory, method: GET, path: "/v1/inventory/{{sku}}", timeout: 5s}
`, model, level, maxAgentsLine(maxAgents))
		prof, err := profiles.Load("co.yaml", []byte(src), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rec := report.NewRecorder(agents.RecorderOptions(prof))
		sw, err := agents.New(agents.Config{RegionURLs: urls}, prof, rec)
		if err != nil {
			t.Fatal(err)
		}
		freeze := time.AfterFunc(2*time.Second, func() {
			if err := sup.Freeze(0, time.Second); err != nil {
				t.Errorf("freeze: %v", err)
			}
		})
		defer freeze.Stop()
		if err := sw.Run(ctx); err != nil {
			t.Fatal(err)
		}
		sum := rec.Summary(sw.Elapsed())
		var buf bytes.Buffer
		if err := report.WriteText(&buf, sum); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s model:\n%s", model, buf.String())
		return sum
	}
	closed := storm("closed", 64, 0)
	// The open run goes at the closed run's mean rate, at most 3,000/s: its
	// 4,000 agents must hold every session due during the 1 s stall, or the
	// sessions it drops (counted apart, with no latency) would thin the stall
	// out of its p99 on a machine fast enough for 100,000 closed req/s.
	rate := min(int(closed.Overall.RPS), 3000)
	open := storm("open", rate, 4000)

	raw := closed.Overall.Raw.P99
	if closed.Overall.Corrected == nil {
		t.Fatal("closed model: no corrected figure")
	}
	corrected := closed.Overall.Corrected.P99
	openP99 := open.Overall.Raw.P99
	t.Logf("closed %d req (%.0f/s): raw p99 %s, corrected p99 %s; open at %d sessions/s: p99 %s, %d dropped",
		closed.Overall.Count, closed.Overall.RPS, raw, corrected, rate, openP99, open.Dropped)
	if raw >= 250*time.Millisecond {
		t.Errorf("closed raw p99 %s: expected it to hide the 1 s stall (64 stalled of %d requests)", raw, closed.Overall.Count)
	}
	if corrected < 500*time.Millisecond {
		t.Errorf("closed corrected p99 %s: expected it to show the 1 s stall", corrected)
	}
	if openP99 < 500*time.Millisecond {
		t.Errorf("open p99 %s: expected it to show the 1 s stall", openP99)
	}
}

func maxAgentsLine(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("\n  max_agents: %d", n)
}

// TestRunRefusesBadOutputPathsUpFront: an output that could only fail at
// the end of the storm (a directory, /proc, a device) is refused with exit
// 2 before the first request.
func TestRunRefusesBadOutputPathsUpFront(t *testing.T) {
	base, served := countingServer(t)
	dir := t.TempDir()
	for _, out := range []string{"json=" + dir, "json=/proc/version", "junit=/dev/null"} {
		code, stdout, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", base, "--duration", "1s", "--out", out)
		if code != exitUsage || !strings.Contains(errOut, "--out") {
			t.Errorf("--out %s: exit %d, want %d with the reason\n%s\n%s", out, code, exitUsage, stdout, errOut)
		}
	}
	if n := served.Load(); n != 0 {
		t.Errorf("the target got %d requests: bad outputs must be refused before the storm", n)
	}
}
