//go:build !linux

package fleet

import "os/exec"

// setWorkerProcAttr does nothing outside Linux (on macOS there is no
// parent-death signal): a coordinator killed with SIGKILL leaves its
// workers running.
func setWorkerProcAttr(*exec.Cmd) {}
