package fleet

import (
	"os/exec"
	"syscall"
)

// setWorkerProcAttr makes a worker process die with its coordinator: the
// kernel sends it SIGKILL when the parent goes away, so a coordinator that
// crashed or was killed leaves no workers storming on.
func setWorkerProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
