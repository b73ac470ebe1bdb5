//go:build !linux

package supervisor

import (
	"time"
)

// waitStopped gives SIGSTOP a moment to take effect; outside Linux there is
// no portable way to see that every thread of a process has stopped.
func waitStopped(_ int, d time.Duration) error {
	time.Sleep(min(d, 10*time.Millisecond))
	return nil
}
