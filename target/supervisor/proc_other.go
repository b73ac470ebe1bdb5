//go:build !linux

package supervisor

import (
	"os/exec"
	"syscall"
	"time"
)

// setProcAttr puts a shard process in its own process group, so a Ctrl-C on
// the terminal reaches only the supervisor, which then stops its shards in
// order. Outside Linux there is no parent-death signal: a supervisor killed
// with SIGKILL leaves its shards running.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// waitStopped gives SIGSTOP a moment to take effect; outside Linux there is
// no portable way to see that every thread of a process has stopped.
func waitStopped(_ int, d time.Duration) error {
	time.Sleep(min(d, 10*time.Millisecond))
	return nil
}
