// Package epoll is the part of an epoll event loop that the agents' loops
// and the bundled target's server loops share: an epoll instance with an
// eventfd registered in it, so that another goroutine can wake a wait.
// Each loop keeps its own wait, its own sockets and its own tags (the
// EpollEvent's Pad).
package epoll

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Set is an epoll instance, the eventfd that wakes its waits and a buffer
// of events for them.
type Set struct {
	// FD is the epoll instance.
	FD int
	// Events is the buffer a wait fills (unix.EpollWait(FD, Events, ms)).
	Events []unix.EpollEvent
	// WakeTag is the Pad of the eventfd's events: an event with it is a
	// wake, to be acknowledged with Drain.
	WakeTag int32

	// Raw makes Wait a raw system call, which the Go scheduler is not told
	// of: its monitor then never hands the loop's P to another thread while
	// the loop sleeps. In a storm's shards that was half of the hand-offs,
	// each followed by a millisecond of the monitor polling every 20µs. A
	// raw wait cannot hold up a stop-the-world: epoll_pwait is never
	// restarted after a signal, so the runtime's preemption signal ends it.
	// But goroutines queued on the sleeping loop's P wait for another P to
	// take them, or for the monitor's signal after 10ms: set it only when
	// the process has a P more than its loops.
	Raw bool

	evfd      int
	lastYield time.Time
}

// New returns a Set with room for events per wait whose eventfd's events
// carry wakeTag.
func New(events int, wakeTag int32) (*Set, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd), Pad: wakeTag}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	return &Set{FD: epfd, Events: make([]unix.EpollEvent, events), WakeTag: wakeTag, evfd: evfd}, nil
}

// Wake makes a wait in progress (or the next one) return with a WakeTag
// event. Safe from any goroutine.
func (s *Set) Wake() {
	one := [8]byte{1}
	_, _ = unix.Write(s.evfd, one[:])
}

// Drain acknowledges the wakes so far (after a WakeTag event).
func (s *Set) Drain() {
	var buf [8]byte
	_, _ = unix.Read(s.evfd, buf[:])
}

// yieldEvery is how long a loop's goroutine may run between two yields.
// The Go runtime's monitor (sysmon) forcibly preempts a goroutine that has
// not been rescheduled for 10 ms and, finding it in a system call, hands its
// P to another thread and polls every 20 µs for the next millisecond: an
// event loop that never yields paid that over and over, a sixth of its CPU
// at agent-like load. Yielding more often than needed wakes idle threads.
const yieldEvery = 5 * time.Millisecond

// Wait fills Events with the events ready within timeout (0: now; negative:
// no limit) and returns how many; a signal may end it early with none. A
// positive timeout is rounded up to the millisecond: a timer never fires
// early, and one less than a millisecond away does not make a loop spin.
// Every yieldEvery it yields the processor first. Only one goroutine may
// wait at a time.
func (s *Set) Wait(timeout time.Duration) (int, error) {
	if now := time.Now(); now.Sub(s.lastYield) >= yieldEvery {
		s.lastYield = now
		runtime.Gosched()
	}
	ms := -1
	if timeout >= 0 {
		ms = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	var n int
	var err error
	if s.Raw {
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(s.FD), uintptr(unsafe.Pointer(unsafe.SliceData(s.Events))), uintptr(len(s.Events)), uintptr(ms), 0, 0)
		if n = int(r); errno != 0 {
			err = errno
		}
	} else {
		n, err = unix.EpollWait(s.FD, s.Events, ms)
	}
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("epoll_wait: %w", err)
	}
	return n, nil
}

// Close releases the epoll instance and the eventfd.
func (s *Set) Close() {
	unix.Close(s.FD)
	unix.Close(s.evfd)
}
