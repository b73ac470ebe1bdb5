package epoll

import (
	"runtime"
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

// TestWaitDoesNotHoldUpTheRuntime: a loop asleep in a raw Wait with no
// time limit looks to the Go scheduler like a running goroutine; a garbage
// collection (which stops the world) must still finish at once, the
// preemption signal ending the wait.
func TestWaitDoesNotHoldUpTheRuntime(t *testing.T) {
	s, err := New(4, 7)
	if err != nil {
		t.Fatal(err)
	}
	s.Raw = true
	defer s.Close()
	done := make(chan int)
	go func() {
		woken := 0
		for woken == 0 { // a preempted wait returns no events: wait again, as a loop does
			n, err := s.Wait(-1)
			if err != nil {
				t.Error(err)
				break
			}
			woken = n
		}
		done <- woken
	}()
	time.Sleep(20 * time.Millisecond) // the goroutine is asleep in epoll_pwait
	start := time.Now()
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("3 collections beside a sleeping Wait took %v", took)
	}
	s.Wake()
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("the wake gave %d events, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wake did not end the wait")
	}
}
