package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCPUProfileEnv: with AGENTSTORM_CPUPROFILE_DIR set, a command's whole
// run is profiled into SUBCOMMAND-PID.pprof there (gzipped protobuf), and
// its exit code is kept; a directory that cannot be written is reported and
// the command still runs.
func TestCPUProfileEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(cpuProfileEnv, dir)
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	code := withCPUProfile(stderr, []string{"worker", "--segment", "0/1"}, func() int { return 3 })
	if code != 3 {
		t.Fatalf("exit code %d, want the command's 3", code)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "worker-*.pprof"))
	if len(matches) != 1 {
		t.Fatalf("profiles in %s: %v, want one worker-PID.pprof", dir, matches)
	}
	data, err := os.ReadFile(matches[0])
	if err != nil || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		t.Fatalf("profile %s: %d bytes, err %v; want a gzipped pprof profile", matches[0], len(data), err)
	}

	t.Setenv(cpuProfileEnv, filepath.Join(dir, "missing", "dir"))
	ran := false
	if code := withCPUProfile(stderr, []string{"run"}, func() int { ran = true; return 0 }); code != 0 || !ran {
		t.Fatalf("unwritable profile dir: code %d, ran %v; want the command run", code, ran)
	}
	out, _ := os.ReadFile(stderr.Name())
	if !bytes.Contains(out, []byte(cpuProfileEnv)) {
		t.Fatalf("unwritable profile dir not reported: %q", out)
	}
}
