package cpuload

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestWatchCountsChildren: a busy child process counts in the tree, in
// the group its command line names, and the machine is at least as busy as
// the tree.
func TestWatchCountsChildren(t *testing.T) {
	group := func(args []string) string {
		if len(args) > 1 && args[len(args)-1] == "spin" {
			return "child"
		}
		return "self"
	}
	w, err := Start(os.Getpid(), group, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	// A shell loop, bounded by timeout(1), that keeps one CPU busy; "spin"
	// is its last argument ($0), for the group.
	cmd := exec.Command("timeout", "1.5", "sh", "-c", "while :; do :; done", "spin")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a busy child: %v", err)
	}
	defer cmd.Process.Kill()
	_ = cmd.Wait() // timeout ends it after 1.5 s (the last part-second of its CPU leaves with it)
	w.Stop()
	span := time.Since(from)
	// What the child really got (timeout's usage includes the shell it
	// waited for): a loaded machine may starve it, so the watch is held to
	// that, not to a fixed share.
	got := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() / span.Seconds()
	l, ok := w.Over(from, time.Now())
	if !ok {
		t.Fatal("no load")
	}
	if l.CPUs < 1 || l.Intervals < 3 {
		t.Fatalf("load %+v: want CPUs and 3 or more intervals", l)
	}
	// The watch loses at most the child's last interval (it leaves with
	// it) and counts nothing it did not use.
	if c := l.Groups["child"]; c < got*0.5-0.05 || c > got*1.5+0.05 {
		t.Errorf("child group %.2f cores (groups %v); the child used %.2f cores over the span", c, l.Groups, got)
	}
	if got >= 0.2 && l.Groups["child"] <= 0 {
		t.Errorf("the child used %.2f cores but its group shows none (groups %v)", got, l.Groups)
	}
	if machine := l.Peak * float64(l.CPUs); machine < l.Groups["child"]*0.5 {
		t.Errorf("machine's busiest interval %.2f cores, under the child's %.2f", machine, l.Groups["child"])
	}
}
