//go:build linux

package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// waitStopped waits up to d until every thread of pid is stopped (state T in
// /proc/PID/task/TID/stat). SIGSTOP is delivered asynchronously: kill(2)
// returns before a busy multi-threaded process has stopped all its threads,
// and a request could still be answered in that window.
func waitStopped(pid int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		stopped, err := allThreadsStopped(pid)
		if err != nil {
			return err
		}
		if stopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d: not every thread stopped within %s of SIGSTOP", pid, d)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// allThreadsStopped reports whether every thread of pid is in state T.
func allThreadsStopped(pid int) (bool, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("read threads of pid %d: %w", pid, err)
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread ended
			}
			return false, fmt.Errorf("read thread state of pid %d: %w", pid, err)
		}
		// The state follows the command name, which is in parentheses
		// and may itself contain spaces or parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("thread state of pid %d: unexpected stat %q", pid, b)
		}
		if st := b[i+2]; st != 'T' && st != 't' {
			return false, nil
		}
	}
	return true, nil
}
