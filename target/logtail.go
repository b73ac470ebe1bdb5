package target

import "sync"

// logTailSize bounds the order log's bytes a shard keeps in memory. At 30,000 agents of the
// default storm a busy shard appends ~100 KB a second (accepted and decided records), and
// shoppers poll their order 2, 4 and 6 s (think times) after its checkout: half of 1 MiB
// left a third of the polls to pread, half of 4 MiB (~20 s) holds them.
const logTailSize = 4 << 20

// logTail holds the most recent synced bytes of the order log, so that reading a recent
// order copies from memory instead of making a pread. On a VM a system call costs ~1.2 µs
// before any work, and GET /v1/orders/{id} made one per poll on the shard's event loop
// (3.7% of the shards' CPU at 30,000 agents of the default storm). Older orders are read
// from the file as before.
type logTail struct {
	mu    sync.RWMutex
	start int64  // log offset of buf[0]
	buf   []byte // the log's bytes from start on, up to its synced end
}

// add records that b was written and synced at log offset off. A write that does not
// continue the bytes held (the first after opening the log) starts them anew; when the bytes
// would pass logTailSize, the oldest are dropped so that half of it is kept.
func (t *logTail) add(off int64, b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off != t.start+int64(len(t.buf)) || len(b) > logTailSize/2 {
		t.start, t.buf = off, t.buf[:0]
		if len(b) > logTailSize/2 {
			t.start += int64(len(b))
			return
		}
	}
	if len(t.buf)+len(b) > logTailSize {
		keep := logTailSize/2 - len(b)
		drop := len(t.buf) - keep
		t.start += int64(drop)
		t.buf = t.buf[:copy(t.buf, t.buf[drop:])]
	}
	if t.buf == nil {
		t.buf = make([]byte, 0, logTailSize)
	}
	t.buf = append(t.buf, b...)
}

// read appends the n bytes at log offset off to dst if they are held, and reports whether
// they were.
func (t *logTail) read(dst []byte, off int64, n int) ([]byte, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if off < t.start || off+int64(n) > t.start+int64(len(t.buf)) {
		return dst, false
	}
	return append(dst, t.buf[off-t.start:][:n]...), true
}
