package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/target/supervisor"
)

// TestMain lets the test binary stand in for the agentstorm binary: with
// AGENTSTORM_TEST_SHARD=1 it runs the CLI on its arguments, so the
// supervisor's default shard command (this executable + "target-shard")
// starts real shard processes from the test binary.
func TestMain(m *testing.M) {
	if os.Getenv("AGENTSTORM_TEST_SHARD") == "1" {
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, interrupts: sigs}
		os.Exit(runCLI(context.Background(), env, os.Args[1:]))
	}
	if os.Getenv(schedTestEnv) == "1" {
		os.Exit(reportStormScheduling(os.Args[1:]))
	}
	// Tests never append to a real job summary; those that check it set
	// their own with t.Setenv.
	os.Unsetenv("GITHUB_STEP_SUMMARY")
	os.Exit(m.Run())
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestTargetHelp(t *testing.T) {
	var out, errb syncBuffer
	code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errb}, []string{"target", "--help"})
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr: %s", code, errb.String())
	}
	help := out.String()
	for _, want := range []string{
		"--shards int", "(default 4)",
		"--listen string", `(default "127.0.0.1:8081")`,
		"--admin string", `(default "127.0.0.1:8080")`,
		"--admin-token string",
		"--data-dir string",
		"--order-rate float", "(default 500)",
		"--topology string", `(default "edge")`,
		"--info-file string",
		"--max-conns-per-shard int",
		"Exit codes: 0 stopped cleanly",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	// The hidden shard subcommand is not listed, target is.
	out = syncBuffer{}
	runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errb}, []string{"--help"})
	if !strings.Contains(out.String(), "target") || strings.Contains(out.String(), "target-shard") {
		t.Errorf("agentstorm --help:\n%s", out.String())
	}
}

func TestTargetBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--shards", "0"}, "--shards 0"},
		{[]string{"--shards", "many"}, "--shards"},
		{[]string{"--topology", "mesh"}, `--topology "mesh"`},
		{[]string{"--listen", "8081"}, `--listen "8081"`},
		{[]string{"--admin", "127.0.0.1:99999"}, "--admin"},
		{[]string{"--order-rate", "0"}, "--order-rate 0"},
		{[]string{"--max-conns-per-shard", "-1"}, "--max-conns-per-shard -1"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		var out, errb syncBuffer
		code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errb}, append([]string{"target"}, c.args...))
		if code != exitUsage {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
		if !strings.Contains(errb.String(), c.want) || !strings.Contains(errb.String(), "--help") {
			t.Errorf("%v: stderr %q does not name %q and point to --help", c.args, errb.String(), c.want)
		}
	}
}

func TestTargetRunInfoFile(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // the shard processes are this test binary
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	infoPath := filepath.Join(dir, "info.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runCLI(ctx, &cliEnv{stdout: &out, stderr: &errb}, []string{"target",
			"--shards", "2", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
			"--admin-token", "test-token", "--data-dir", dataDir, "--info-file", infoPath})
	}()

	var info supervisor.Info
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, err := os.ReadFile(infoPath)
		if err == nil {
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatalf("info file is not valid JSON: %v: %s", err, b)
			}
			break
		}
		select {
		case code := <-done:
			t.Fatalf("target exited %d before writing the info file; stderr: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no info file after 15 s; stderr: %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if info.Token != "test-token" || info.DataDir != dataDir || len(info.Shards) != 2 || !strings.HasPrefix(info.Admin, "http://127.0.0.1:") {
		t.Fatalf("info: %+v", info)
	}
	wantRegions := []string{"us-east", "us-west"}
	for i, sh := range info.Shards {
		if sh.ID != i || sh.Region != wantRegions[i] || sh.PID <= 0 || !strings.HasPrefix(sh.URL, "http://127.0.0.1:") {
			t.Fatalf("info shard %d: %+v", i, sh)
		}
		resp, err := http.Get(sh.URL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("shard %d healthz: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", info.Admin+"/v1/topology", nil)
	req.Header.Set("Authorization", "Bearer test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("topology: %v %v", resp, err)
	}
	var topo supervisor.Topology
	if err := json.NewDecoder(resp.Body).Decode(&topo); err != nil || topo.Regions["us-west"] != info.Shards[1].URL {
		t.Fatalf("topology: %+v %v", topo, err)
	}
	resp.Body.Close()

	banner := out.String()
	for _, want := range []string{info.Shards[0].URL, info.Shards[1].URL, "us-east", "us-west", info.Admin, "test-token", dataDir, "curl "} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d after cancel; stderr: %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("target did not stop within 15 s of cancel")
	}
	for _, sh := range info.Shards {
		if err := syscall.Kill(sh.PID, 0); err == nil {
			t.Errorf("shard pid %d still exists after stop", sh.PID)
		}
	}
	if _, err := os.Stat(infoPath); !os.IsNotExist(err) {
		t.Errorf("info file left behind after stop: %v", err)
	}
	if !strings.Contains(out.String(), "stay in "+dataDir) {
		t.Errorf("stop message does not say where the data stayed:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "shard-0")); err != nil {
		t.Errorf("shard data dir: %v", err)
	}
}
