package k6

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// FollowReader reads a file that another process (k6) is still writing:
// at its end it waits for the file to grow, polling, and returns io.EOF
// only when ctx is done or the file has not grown for the idle timeout.
// A line k6 has only half written is therefore read in full once its
// newline arrives. It is not safe for concurrent use.
type FollowReader struct {
	f        *os.File
	ctx      context.Context
	idle     time.Duration
	poll     time.Duration
	lastData time.Time
}

// NewFollowReader follows f until ctx is done or f has not grown for idle
// (<= 0: until ctx is done), checking for growth every poll (<= 0: 100 ms).
func NewFollowReader(ctx context.Context, f *os.File, idle, poll time.Duration) *FollowReader {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return &FollowReader{f: f, ctx: ctx, idle: idle, poll: poll, lastData: time.Now()}
}

// Read reads from the file, waiting at its end as described on FollowReader.
func (r *FollowReader) Read(p []byte) (int, error) {
	for {
		n, err := r.f.Read(p)
		if n > 0 {
			r.lastData = time.Now()
			return n, nil
		}
		if err != nil && err != io.EOF {
			return 0, fmt.Errorf("follow %s: %w", r.f.Name(), err)
		}
		if r.ctx.Err() != nil {
			return 0, io.EOF
		}
		if r.idle > 0 && time.Since(r.lastData) >= r.idle {
			return 0, io.EOF
		}
		t := time.NewTimer(r.poll)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return 0, io.EOF
		case <-t.C:
		}
	}
}
