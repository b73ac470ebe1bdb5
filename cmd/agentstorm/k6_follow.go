package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// waitForFile waits, with --follow, for k6 to create the file (started
// before k6), up to the idle timeout or an interrupt.
func waitForFile(ctx context.Context, env *cliEnv, path string, idle time.Duration) (*os.File, error) {
	fmt.Fprintf(env.stdout, "Waiting for %s to appear (start k6 with --out json=%s)...\n", path, path)
	deadline := time.Now().Add(idle)
	for {
		f, err := os.Open(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return f, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-env.interrupts:
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
