package clock

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepThread blocks the calling thread in nanosleep for d (less if a
// signal interrupts it).
func sleepThread(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}
