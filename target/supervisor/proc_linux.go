//go:build linux

package supervisor

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes a shard process die with its supervisor (the kernel sends
// it SIGKILL when the parent goes away, so a crashed or killed supervisor
// leaves no orphans) and puts it in its own process group, so a Ctrl-C on the
// terminal reaches only the supervisor, which then stops its shards in order.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr.Setpgid = true
}
