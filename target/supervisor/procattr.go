package supervisor

import (
	"os/exec"
	"syscall"

	"github.com/agentstorm/agentstorm/internal/child"
)

// setProcAttr makes a shard process die with its supervisor (see
// child.DieWithParent) and puts it in its own process group, so a Ctrl-C on
// the terminal reaches only the supervisor, which then stops its shards in
// order.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	child.DieWithParent(cmd)
}
