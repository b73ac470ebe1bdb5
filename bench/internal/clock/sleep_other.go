//go:build !linux

package clock

import "time"

// sleepThread is a Go timer outside Linux: the benchmarks that need the
// precision run on Linux.
func sleepThread(d time.Duration) { time.Sleep(d) }
