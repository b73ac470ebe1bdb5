package target

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The order log's writes and syncs are raw system calls, which the Go
// scheduler is not told of. Told of them, its monitor (sysmon) found the
// committer in a write or an fdatasync taking longer than its 20 µs tick,
// handed the committer's P to another thread and went back to polling every
// 20 µs for the next millisecond: with a commit every 20 ms that never
// settled, and the monitor's wake-ups were 9% of a storm's shards' CPU. A
// raw call keeps its P: the shard has a P more than its loops for the rest
// (see startLoopServer). A stop-the-world waits for a raw sync to end.

// fdatasync makes f's written data (and its length) durable.
func fdatasync(f *os.File) error {
	fd := f.Fd()
	for {
		_, _, errno := unix.RawSyscall(unix.SYS_FDATASYNC, fd, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
		default:
			return errno
		}
	}
}

// writeAt writes all of b to f at off.
func writeAt(f *os.File, b []byte, off int64) error {
	fd := f.Fd()
	for len(b) > 0 {
		n, _, errno := unix.RawSyscall6(unix.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(off), 0, 0)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			return errno
		case n == 0:
			return io.ErrShortWrite
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}

// lockFile takes an exclusive advisory lock on f, waiting at most wait for another process
// to let go of it (a live shard on the same data dir fails fast).
func lockFile(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("lock: %w", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("locked by another process for over %v: is another shard running on this data dir?", wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
