// Package clock sleeps more precisely than a Go timer, for the benchmark
// servers whose answers must take a known time. A timer's wake-up can be up
// to a millisecond late when the process is idle (the runtime's network
// poller sleeps in whole milliseconds): that is the whole error budget of an
// accuracy benchmark against a 20 ms handler. So the last stretch of a sleep
// is a blocking nanosleep of the calling thread instead (the runtime runs
// other goroutines on other threads meanwhile).
package clock

import "time"

// coarseSlack is how early a Go timer is asked to fire so that its
// millisecond lateness still leaves the wake-up before the instant; the rest
// is slept precisely.
const coarseSlack = 1500 * time.Microsecond

// Sleep returns d after it is called: within the kernel's timer slack (50 µs
// by default), not the Go runtime's millisecond.
func Sleep(d time.Duration) {
	until := time.Now().Add(d)
	if d > coarseSlack {
		time.Sleep(d - coarseSlack)
	}
	for d := time.Until(until); d > 0; d = time.Until(until) {
		sleepThread(d) // interrupted: the loop sleeps the rest
	}
}
