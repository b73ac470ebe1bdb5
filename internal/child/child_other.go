//go:build !linux

package child

import "os/exec"

// DieWithParent does nothing outside Linux (macOS has no parent-death
// signal): a parent killed with SIGKILL leaves the child running.
func DieWithParent(*exec.Cmd) {}
