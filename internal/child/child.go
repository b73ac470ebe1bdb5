// Package child holds how a run starts its child processes (the fleet's
// workers, the bundled target's shards).
package child

import (
	"os/exec"
	"syscall"
)

// attrs returns cmd's process attributes, made when it has none.
func attrs(cmd *exec.Cmd) *syscall.SysProcAttr {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	return cmd.SysProcAttr
}
