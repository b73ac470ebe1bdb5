//go:build !linux

package target

import (
	"os"
	"time"
)

// fdatasync makes f's written data (and its length) durable.
func fdatasync(f *os.File) error { return f.Sync() }

// writeAt writes all of b to f at off.
func writeAt(f *os.File, b []byte, off int64) error {
	_, err := f.WriteAt(b, off)
	return err
}

// lockFile does nothing off Linux: one shard per data dir is up to the caller there.
func lockFile(*os.File, time.Duration) error { return nil }
