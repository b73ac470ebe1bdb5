// Package sched sets how the kernel schedules this process's threads.
package sched

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Batch makes every thread of this process SCHED_BATCH (nice unchanged);
// threads started later inherit it from the thread that starts them, and
// so do child processes. A batch thread that the kernel wakes does not
// preempt the thread running on its CPU: it waits for that thread to
// sleep or for the tick.
//
// On loopback, every request wakes the server's loop and every answer the
// generator's. A woken thread under the default policy preempts the
// writer on the spot, so a loop that sends a round of requests hands the
// CPU to a server loop after each write and back; as batch threads both
// sides keep running and each wake-up finds a batch of work.
// bench/RESULTS.md, session 10, gives the measured difference.
//
// Changing between SCHED_OTHER and SCHED_BATCH needs no privilege.
func Batch() error {
	// Two passes: a thread the runtime starts during the first may have
	// been started by a thread not yet switched.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("sched: list this process's threads: %w", err)
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := batchThread(tid); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchThread makes thread tid SCHED_BATCH; a thread that has exited
// meanwhile is not an error.
func batchThread(tid int) error {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err == nil && attr.Policy == unix.SCHED_BATCH {
		return nil
	}
	if err == nil {
		attr.Policy = unix.SCHED_BATCH
		attr.Flags = 0
		err = unix.SchedSetAttr(tid, attr, 0)
	}
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sched: thread %d to SCHED_BATCH: %w", tid, err)
	}
	return nil
}
