//go:build !linux

package supervisor

import (
	"os/exec"
	"syscall"
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
