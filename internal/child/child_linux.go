package child

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the process cmd starts die with this one: the kernel
// sends it SIGKILL when its parent goes away, so a parent that crashed or
// was killed leaves no orphans running.
func DieWithParent(cmd *exec.Cmd) { attrs(cmd).Pdeathsig = syscall.SIGKILL }
