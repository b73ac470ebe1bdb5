package child

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestDieWithParent asks the kernel for SIGKILL on the parent's death, and
// keeps the attributes a caller set before.
func TestDieWithParent(t *testing.T) {
	cmd := exec.Command("true")
	DieWithParent(cmd)
	if cmd.SysProcAttr == nil || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Fatalf("attributes %+v, want Pdeathsig SIGKILL", cmd.SysProcAttr)
	}
	cmd = exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	DieWithParent(cmd)
	if !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Fatalf("attributes %+v, want Setpgid kept and Pdeathsig SIGKILL", cmd.SysProcAttr)
	}
}
