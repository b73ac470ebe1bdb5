package target

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLogTailKeepsTheNewestBytes appends writes of many sizes to a tail and to a plain copy
// of the log: every read the tail answers matches the log, and the newest half of its size
// is always answered.
func TestLogTailKeepsTheNewestBytes(t *testing.T) {
	var tail logTail
	rng := rand.New(rand.NewPCG(7, 9))
	const base = 9 // the log's first write starts after its header
	log := bytes.Repeat([]byte{'#'}, base)
	since := int64(base) // where the bytes the tail must hold begin: after the last oversize write
	for i := 0; i < 2000; i++ {
		size := 1 + rng.IntN(8000)
		if i%500 == 499 {
			size = logTailSize/2 + 1 // a write larger than half the tail is not kept
		}
		b := make([]byte, size)
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		off := int64(len(log))
		log = append(log, b...)
		tail.add(off, b)
		end := int64(len(log))
		for k := 0; k < 20; k++ {
			lo := rng.Int64N(end)
			n := 1 + rng.IntN(int(min(end-lo, 8000)))
			got, ok := tail.read([]byte("x"), lo, n)
			if ok && !bytes.Equal(got, append([]byte("x"), log[lo:lo+int64(n)]...)) {
				t.Fatalf("write %d: bytes at %d+%d differ from the log", i, lo, n)
			}
			if !ok && len(got) != 1 {
				t.Fatalf("write %d: a miss changed dst", i)
			}
		}
		if size > logTailSize/2 {
			if _, ok := tail.read(nil, off, 1); ok {
				t.Fatalf("write %d: a write over half the tail was kept", i)
			}
			since = end
			continue
		}
		// The newest half is held, however the writes fell (since the last oversize one).
		held := min(int64(logTailSize/2), end-since)
		if _, ok := tail.read(nil, end-held, int(held)); !ok {
			t.Fatalf("write %d: the newest %d bytes are not held (tail from %d, log end %d)", i, held, tail.start, end)
		}
		if _, ok := tail.read(nil, end-1, 2); ok {
			t.Fatalf("write %d: a read past the log's end was answered", i)
		}
	}
	// A write that does not continue the bytes held starts them anew.
	tail.add(int64(len(log))+100, []byte("later"))
	if got, ok := tail.read(nil, int64(len(log))+100, 5); !ok || string(got) != "later" {
		t.Fatalf("after a gap: %q %v", got, ok)
	}
	if _, ok := tail.read(nil, int64(len(log))-1, 1); ok {
		t.Fatal("bytes from before the gap are still answered")
	}
}

// TestOrderReadsFromTailAndFile writes orders totalling more than the tail holds: each reads
// back as the log file holds it, the newest from memory and the oldest from the file.
func TestOrderReadsFromTailAndFile(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer closeTestStore(t, s)
	var nums []uint64
	for i := 0; i < 12; i++ {
		rec := testOrder(1)
		rec.CartID = fmt.Sprintf("c0-%d-%s", i, strings.Repeat("x", logTailSize/8))
		n, fresh, err := s.accept(fmt.Sprintf("big%d", i), rec)
		if err != nil || !fresh {
			t.Fatalf("accept big%d: fresh %v, %v", i, fresh, err)
		}
		nums = append(nums, n)
	}
	nums = append(nums, acceptN(t, s, "small", 3)...)
	if made, err := s.createNext(2); err != nil || made != 2 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	inTail := 0
	for _, n := range nums {
		loc, ok := s.locate(n)
		if !ok {
			t.Fatalf("order %d not found", n)
		}
		want := make([]byte, loc.n)
		if _, err := s.f.ReadAt(want, loc.off); err != nil {
			t.Fatal(err)
		}
		got, found, err := s.appendJSON([]byte("{}"), n)
		if err != nil || !found || !bytes.Equal(got, append([]byte("{}"), want...)) {
			t.Fatalf("order %d: found %v err %v; read %.60q, the log holds %.60q", n, found, err, got, want)
		}
		if _, ok := s.tail.read(nil, loc.off, int(loc.n)); ok {
			inTail++
		}
	}
	if first, _ := s.locate(nums[0]); inTail == 0 || inTail == len(nums) {
		t.Fatalf("%d of %d orders read from the tail (the first at %d, the tail from %d): want both paths", inTail, len(nums), first.off, s.tail.start)
	}
	mustStatus(t, s, nums[0], StatusCreated)
	mustStatus(t, s, nums[len(nums)-1], StatusProcessing)
}
