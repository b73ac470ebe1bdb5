package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
)

// cpuProfileEnv names a directory: when set, every agentstorm process (the
// coordinator, its workers, the bundled target's shards) writes a CPU profile
// of its whole life there as SUBCOMMAND-PID.pprof, for `go tool pprof`. It is
// how the per-request CPU of a storm's processes is found (bench/RESULTS.md).
const cpuProfileEnv = "AGENTSTORM_CPUPROFILE_DIR"

// withCPUProfile runs fn, profiling it when cpuProfileEnv is set; a profile
// that cannot be started is reported and the command runs anyway.
func withCPUProfile(stderr *os.File, args []string, fn func() int) int {
	dir := os.Getenv(cpuProfileEnv)
	if dir == "" {
		return fn()
	}
	name := "agentstorm"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name = args[0]
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid()))
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(stderr, "agentstorm: %s: %v (running without a CPU profile)\n", cpuProfileEnv, err)
		return fn()
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "agentstorm: %s: start CPU profile: %v (running without it)\n", cpuProfileEnv, err)
		return fn()
	}
	defer pprof.StopCPUProfile()
	return fn()
}
