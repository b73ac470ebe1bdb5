//go:build !linux

package target

import (
	"os"
	"time"
)

// fdatasync makes f's written data (and its length) durable.
func fdatasync(f *os.File) error { return f.Sync() }

// lockFile does nothing off Linux: one shard per data dir is up to the caller there.
func lockFile(*os.File, time.Duration) error { return nil }
