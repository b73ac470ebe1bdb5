package sched

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary a child that switches itself to batch and
// reports: the tests never change the scheduling of the test process.
const childEnv = "SCHED_TEST_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "batch":
		if err := Batch(); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(reportPolicies())
		os.Exit(0)
	case "report":
		fmt.Println(reportPolicies())
		os.Exit(0)
	case "policy":
		attr, err := unix.SchedGetAttr(0, 0)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(attr.Policy)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// reportPolicies starts threads the runtime did not have yet, then returns
// the policy of every thread of this process ("3 3 3 ..."), then a line
// with the policy of a child process it starts ("child 3").
func reportPolicies() string {
	// Goroutines locked to their threads and blocked make the runtime
	// start new threads, from threads Batch has switched.
	var wg, started sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			started.Done()
			<-release
		}()
	}
	started.Wait()
	var out []string
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, t := range tasks {
		tid, _ := strconv.Atoi(t.Name())
		attr, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			continue // exited meanwhile
		}
		out = append(out, strconv.Itoa(int(attr.Policy)))
	}
	close(release)
	wg.Wait()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=policy")
	child, err := cmd.Output()
	if err != nil {
		return "child: " + err.Error()
	}
	return strings.Join(out, " ") + "\nchild " + strings.TrimSpace(string(child))
}

// TestBatch: after Batch every thread of the process is SCHED_BATCH, those
// started afterwards too, and so is a process it starts; a process that
// did not call it keeps the policy it inherited.
func TestBatch(t *testing.T) {
	run := func(mode string) (threads []string, child string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil && strings.Contains(string(out), "operation not permitted") {
			t.Skipf("this machine refuses SCHED_BATCH: %s", out)
		}
		if err != nil {
			t.Fatalf("%s child: %v\n%s", mode, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 2 {
			t.Fatalf("%s child said %q", mode, out)
		}
		return strings.Fields(lines[0]), lines[1]
	}
	batch := strconv.Itoa(unix.SCHED_BATCH)
	threads, child := run("batch")
	if len(threads) < 5 {
		t.Fatalf("%d threads reported, want the runtime's and 4 more", len(threads))
	}
	for i, p := range threads {
		if p != batch {
			t.Errorf("thread %d of %d: policy %s, want SCHED_BATCH (%s)", i, len(threads), p, batch)
		}
	}
	if child != "child "+batch {
		t.Errorf("a process started after Batch: %q, want its threads SCHED_BATCH", child)
	}
	own, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	inherited := strconv.Itoa(int(own.Policy)) // the test process's, usually SCHED_OTHER (0)
	threads, child = run("report")
	for _, p := range threads {
		if p != inherited {
			t.Fatalf("a process that did not call Batch has a thread of policy %s, want its parent's %s", p, inherited)
		}
	}
	if child != "child "+inherited {
		t.Errorf("a process started by one that did not call Batch: %q, want its policy %s", child, inherited)
	}
}
