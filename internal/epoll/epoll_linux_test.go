package epoll

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWakeEndsAWait: a Wake from another goroutine ends a wait with the
// wake tag's event; once drained, the next wait times out with no event.
func TestWakeEndsAWait(t *testing.T) {
	s, err := New(4, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.AfterFunc(20*time.Millisecond, s.Wake)
	n, err := unix.EpollWait(s.FD, s.Events, 5000)
	if err != nil || n != 1 || s.Events[0].Pad != 7 {
		t.Fatalf("wait: %d events (%v), first tag %d; want the one wake, tag 7", n, err, s.Events[0].Pad)
	}
	s.Drain()
	if n, _ := unix.EpollWait(s.FD, s.Events, 10); n != 0 {
		t.Fatalf("after Drain: %d events, want none", n)
	}
}
