package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// schedTestEnv makes the test binary (see TestMain) a process that sets
// its scheduling as main does for its arguments and prints its policy, so
// the tests never change their own process's.
const schedTestEnv = "AGENTSTORM_TEST_SCHED"

func reportStormScheduling(args []string) int {
	if err := setStormScheduling(os.Stderr, args); err != nil {
		fmt.Printf("agentstorm: %v\n", err)
		return exitUsage
	}
	policy, err := threadPolicy()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("policy %d\n", policy)
	return 0
}

// TestStormScheduling: the processes of a storm run SCHED_BATCH, other
// commands keep the policy they inherit, AGENTSTORM_SCHED=normal opts out,
// and an unknown value is a usage error that names it.
func TestStormScheduling(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("scheduling policies are Linux's")
	}
	own, err := threadPolicy()
	if err != nil {
		t.Fatal(err)
	}
	inherited := fmt.Sprintf("policy %d", own)
	for _, c := range []struct {
		args, env, want string
		code            int
	}{
		{"run", "", "policy 3", 0},
		{"worker --segment 0/1", "", "policy 3", 0},
		{"target", "batch", "policy 3", 0},
		{"target-shard --id 0", "", "policy 3", 0},
		{"report run.hlog", "", inherited, 0},
		{"run", "normal", inherited, 0},
		{"run", "fast", `AGENTSTORM_SCHED="fast": want batch (the default) or normal`, exitUsage},
	} {
		cmd := exec.Command(os.Args[0], strings.Fields(c.args)...)
		cmd.Env = append(os.Environ(), schedTestEnv+"=1", schedEnv+"="+c.env)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "running with the kernel's default scheduling") {
			t.Skipf("this machine refuses SCHED_BATCH: %s", out)
		}
		if got := strings.TrimSpace(string(out)); !strings.Contains(got, c.want) || code != c.code {
			t.Errorf("%s with %s=%q: %q, exit %d; want %q, exit %d", c.args, schedEnv, c.env, got, code, c.want, c.code)
		}
	}
}
