// Package clock waits until an instant more precisely than a Go timer, for
// the benchmark servers whose answers must take a known time. A timer's
// wake-up can be up to a millisecond late when the process is idle (the
// runtime's network poller sleeps in whole milliseconds): that is the whole
// error budget of an accuracy benchmark against a 20 ms handler. So the last
// stretch of a wait is a blocking nanosleep of the calling thread instead
// (the runtime runs other goroutines on other threads meanwhile).
package clock

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// coarseSlack is how early a Go timer is asked to fire so that its
// millisecond lateness still leaves the wake-up before the instant; the rest
// is slept precisely. Waits shorter than coarseMin are slept precisely whole.
const (
	coarseSlack = 1500 * time.Microsecond
	coarseMin   = 2 * time.Millisecond
)

// Waiter waits until instants. It reuses one timer, so waiting allocates
// nothing. The zero value is ready to use; a Waiter is for one goroutine.
type Waiter struct {
	timer *time.Timer
}

// Until blocks until t or until ctx is done, whichever is first; it returns
// ctx's error in the second case. Only the coarse part of a long wait is
// cancellable: the precise part lasts at most coarseSlack.
func (w *Waiter) Until(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	if d > coarseMin {
		if w.timer == nil {
			w.timer = time.NewTimer(d - coarseSlack)
		} else {
			w.timer.Reset(d - coarseSlack)
		}
		select {
		case <-ctx.Done():
			w.timer.Stop()
			return fmt.Errorf("wait until %s: %w", t.Format(time.RFC3339Nano), ctx.Err())
		case <-w.timer.C:
		}
	}
	SleepUntil(t)
	return nil
}

// SleepUntil blocks the calling thread until t with nanosleep: precise to the
// kernel's timer slack (50 µs by default), not to the Go
// runtime's millisecond poller. Meant for short stretches: the thread is
// blocked throughout.
func SleepUntil(t time.Time) {
	for d := time.Until(t); d > 0; d = time.Until(t) {
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil) // EINTR: the loop sleeps the rest
	}
}
