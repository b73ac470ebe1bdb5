package epoll

import (
	"testing"
	"time"
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
	n, err := s.Wait(5 * time.Second)
	if err != nil || n != 1 || s.Events[0].Pad != 7 {
		t.Fatalf("wait: %d events (%v), first tag %d; want the one wake, tag 7", n, err, s.Events[0].Pad)
	}
	s.Drain()
	start := time.Now()
	if n, err := s.Wait(100 * time.Microsecond); n != 0 || err != nil {
		t.Fatalf("after Drain: %d events (%v), want none", n, err)
	}
	// Rounded up to a millisecond: a loop with a timer due in 100µs does not spin.
	if took := time.Since(start); took < time.Millisecond {
		t.Fatalf("a 100µs wait returned after %v, want at least 1ms", took)
	}
}
