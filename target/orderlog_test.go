package target

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testLog collects a store's log lines.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// openTestStore opens the order store in dir; the test fails if it cannot.
func openTestStore(t *testing.T, dir string, log *testLog) *orderStore {
	t.Helper()
	if log == nil {
		log = &testLog{}
	}
	s, err := openStore(dir, 0, log.logf)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

func closeTestStore(t *testing.T, s *orderStore) {
	t.Helper()
	if err := s.close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
}

// acceptN accepts orders under keys prefix0..prefix<n-1>, one at a time (one record per
// write), and returns their numbers.
func acceptN(t *testing.T, s *orderStore, prefix string, n int) []uint64 {
	t.Helper()
	nums := make([]uint64, n)
	for i := range nums {
		num, fresh, err := s.accept(fmt.Sprintf("%s%d", prefix, i), testOrder(1))
		if err != nil || !fresh {
			t.Fatalf("accept %s%d: fresh %v, %v", prefix, i, fresh, err)
		}
		nums[i] = num
	}
	return nums
}

func testOrder(qty int64) *orderRecord {
	return &orderRecord{CartID: "c0-1", Items: []orderItem{{SKU: "sku", Qty: qty}}, Destination: "US", Carrier: "ups", Speed: "standard"}
}

// mustStatus checks order n's status as GET would answer it.
func mustStatus(t *testing.T, s *orderStore, n uint64, want string) orderRecord {
	t.Helper()
	rec, found, err := s.get(n)
	if err != nil || !found || rec.Status != want {
		t.Fatalf("order %d: found %v status %q err %v; want status %q", n, found, rec.Status, err, want)
	}
	return rec
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestOrderLogTornTailIsCutOff(t *testing.T) {
	tails := map[string]func(valid []byte) []byte{
		"short header": func([]byte) []byte { return []byte{7, 0, 0} },
		"record past the end": func([]byte) []byte {
			r := appendOrderLogRecord(nil, OrderAccepted, 99, "lost", []byte(`{"order_id":"o0-99"}`))
			return r[:len(r)-5]
		},
		"bad checksum in the last record": func([]byte) []byte {
			r := appendOrderLogRecord(nil, OrderAccepted, 99, "lost", []byte(`{"order_id":"o0-99"}`))
			r[len(r)-2] ^= 0xff
			return r
		},
		"zeroed blocks": func([]byte) []byte { return make([]byte, 4096) },
	}
	for name, tail := range tails {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, OrderLogName)
			s := openTestStore(t, dir, nil)
			nums := acceptN(t, s, "k", 5)
			if made, err := s.createNext(2); err != nil || made != 2 {
				t.Fatalf("createNext: %d %v", made, err)
			}
			closeTestStore(t, s)
			valid := fileSize(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, append(data, tail(data)...), 0o600); err != nil {
				t.Fatal(err)
			}

			log := &testLog{}
			s = openTestStore(t, dir, log)
			if got := fileSize(t, path); got != valid {
				t.Fatalf("log is %d bytes after reopening, want the valid %d", got, valid)
			}
			if !strings.Contains(log.String(), fmt.Sprintf("at offset %d; cutting off", valid)) {
				t.Fatalf("the cut is not logged: %q", log.String())
			}
			for i, n := range nums {
				want := StatusProcessing
				if i < 2 {
					want = StatusCreated
				}
				mustStatus(t, s, n, want)
				if got, ok := s.lookupKey(fmt.Sprintf("k%d", i)); !ok || got != n {
					t.Fatalf("key k%d: %d %v, want %d", i, got, ok, n)
				}
			}
			if _, ok := s.lookupKey("lost"); ok {
				t.Fatal("the torn record's key was replayed")
			}
			if q := s.queued.Load(); q != 3 {
				t.Fatalf("queued %d after reopening, want 3", q)
			}
			// Writing goes on after the cut, and a further reopen finds it all.
			more := acceptN(t, s, "more", 1)
			closeTestStore(t, s)
			s = openTestStore(t, dir, nil)
			defer closeTestStore(t, s)
			mustStatus(t, s, more[0], StatusProcessing)
			if more[0] != nums[4]+1 {
				t.Fatalf("next order number %d, want %d", more[0], nums[4]+1)
			}
		})
	}
}

func TestOrderLogCorruptMiddleRecordIsAnError(t *testing.T) {
	dir := t.TempDir()
	// Damage a byte of the second record's JSON.
	path, second, before := damageSecondRecord(t, dir, 3, func(data []byte, second int) {
		i := bytes.Index(data[second:], []byte(`"status"`))
		if i < 0 {
			t.Fatalf("no JSON in the second record")
		}
		data[second+i+1] = 'X'
	})

	_, err := openStore(dir, 0, (&testLog{}).logf)
	want := fmt.Sprintf("order log %s at offset %d: corrupt order log record (checksum mismatch", path, second)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("open with a corrupt middle record: %v; want an error containing %q", err, want)
	}
	if got := fileSize(t, path); got != before {
		t.Fatalf("the damaged log was changed: %d bytes, was %d", got, before)
	}
	if _, err := ReadOrderLog(path, func(OrderLogRecord) error { return nil }); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ReadOrderLog: %v; want %q", err, want)
	}
}

// TestOrderLogDamagedLengthIsAnError: the checksum covers a record's payload, not its
// length field. A damaged length in the middle of the log looks like a torn last write
// (out of range, or running past the end), but whole records follow it: that is damage,
// and cutting the log there would drop orders already answered 202.
func TestOrderLogDamagedLengthIsAnError(t *testing.T) {
	for _, c := range []struct {
		name   string
		length uint32
	}{{"out of range", maxOrderLogRecord + 1}, {"past the end", 1 << 20}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path, second, before := damageSecondRecord(t, dir, 5, func(data []byte, second int) {
				binary.LittleEndian.PutUint32(data[second:], c.length)
			})
			want := fmt.Sprintf("order log %s at offset %d: corrupt order log record", path, second)
			if _, err := openStore(dir, 0, (&testLog{}).logf); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("open with a damaged length in the middle: %v; want an error containing %q", err, want)
			}
			if got := fileSize(t, path); got != before {
				t.Fatalf("the damaged log was cut: %d bytes, was %d", got, before)
			}
		})
	}
}

func TestOrderLogNotALog(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, OrderLogName), []byte("something else entirely"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(dir, 0, (&testLog{}).logf); err == nil || !strings.Contains(err.Error(), "is not an order log") {
		t.Fatalf("open: %v", err)
	}
}

func TestOrderLogRefusesOldBboltDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.bbolt"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openStore(dir, 0, (&testLog{}).logf)
	if err == nil || !strings.Contains(err.Error(), "remove it") || !strings.Contains(err.Error(), "use another data dir") {
		t.Fatalf("open a dir with orders.bbolt: %v", err)
	}
}

func TestOrderLogIdempotencyAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	nums := acceptN(t, s, "key-", 3)
	// The same key in one batch twice makes one order.
	var wg sync.WaitGroup
	got := make([]uint64, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _, _ = s.accept("twice", testOrder(1))
		}()
	}
	wg.Wait()
	for _, n := range got[1:] {
		if n != got[0] || n == 0 {
			t.Fatalf("one key, several numbers: %v", got)
		}
	}
	closeTestStore(t, s)

	s = openTestStore(t, dir, nil)
	defer closeTestStore(t, s)
	for i, want := range append(nums, got[0]) {
		key := fmt.Sprintf("key-%d", i)
		if i == len(nums) {
			key = "twice"
		}
		if n, ok := s.lookupKey(key); !ok || n != want {
			t.Fatalf("lookupKey(%s) after reopen: %d %v, want %d", key, n, ok, want)
		}
		n, fresh, err := s.accept(key, testOrder(1))
		if err != nil || fresh || n != want {
			t.Fatalf("accept(%s) after reopen: %d fresh %v %v, want %d not fresh", key, n, fresh, err, want)
		}
	}
	if q := s.queued.Load(); q != 4 {
		t.Fatalf("queued %d, want 4: a replayed key was queued again", q)
	}
}

func TestOrderLogCreateNextExactlyOnceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, OrderLogName)
	s := openTestStore(t, dir, nil)
	nums := acceptN(t, s, "k", 5)
	if _, _, err := s.accept("big", testOrder(MaxUnitsPerSKUPerOrder+1)); err != nil {
		t.Fatal(err)
	}
	if made, err := s.createNext(2); err != nil || made != 2 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	firstCreated := mustStatus(t, s, nums[0], StatusCreated).CreatedAt
	closeTestStore(t, s)

	s = openTestStore(t, dir, nil)
	if q := s.queued.Load(); q != 4 {
		t.Fatalf("queued %d after reopen, want 4", q)
	}
	if c := mustStatus(t, s, nums[0], StatusCreated).CreatedAt; !c.Equal(*firstCreated) {
		t.Fatalf("created order changed across reopen: %v, was %v", c, firstCreated)
	}
	mustStatus(t, s, nums[2], StatusProcessing)
	// The next call takes the oldest queued ones, not those created before.
	if made, err := s.createNext(2); err != nil || made != 2 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	mustStatus(t, s, nums[2], StatusCreated)
	mustStatus(t, s, nums[3], StatusCreated)
	mustStatus(t, s, nums[4], StatusProcessing)
	if made, err := s.createNext(100); err != nil || made != 2 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	if r := s.rejected.Load(); r != 1 {
		t.Fatalf("rejected %d, want 1", r)
	}
	closeTestStore(t, s)

	s = openTestStore(t, dir, nil)
	defer closeTestStore(t, s)
	if q := s.queued.Load(); q != 0 {
		t.Fatalf("queued %d after everything was decided", q)
	}
	if made, err := s.createNext(100); err != nil || made != 0 {
		t.Fatalf("createNext with nothing queued: %d %v", made, err)
	}
	decided := map[uint64]int{}
	if _, err := ReadOrderLog(path, func(r OrderLogRecord) error {
		if r.Kind == OrderDecided {
			decided[r.Number]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(decided) != 6 {
		t.Fatalf("%d orders decided, want 6: %v", len(decided), decided)
	}
	for n, c := range decided {
		if c != 1 {
			t.Fatalf("order %d decided %d times", n, c)
		}
	}
}

func TestOrderLogNumbersNotReused(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	safe := acceptN(t, s, "safe", 3)
	// Unsafe mode answers a number at once; closing before it is written loses it.
	s.unsafeAck = true
	lost, _, err := s.accept("lost", testOrder(1))
	if err != nil || lost <= safe[2] {
		t.Fatalf("unsafe accept: %d %v", lost, err)
	}
	closeTestStore(t, s)

	s = openTestStore(t, dir, nil)
	defer closeTestStore(t, s)
	if _, ok := s.lookupKey("lost"); ok {
		t.Fatal("the order answered before its write survived a close that dropped it")
	}
	next := acceptN(t, s, "next", 1)[0]
	if next != safe[2]+1 {
		t.Fatalf("safe numbering after reopen: %d, want %d", next, safe[2]+1)
	}
	s.unsafeAck = true
	again, _, err := s.accept("again", testOrder(1))
	if err != nil || again <= lost {
		t.Fatalf("unsafe number after reopen %d (%v): the lost %d may be reused", again, err, lost)
	}
}

func TestOrderLogCreateNextFarApart(t *testing.T) {
	s := openTestStore(t, t.TempDir(), nil)
	defer closeTestStore(t, s)
	early := acceptN(t, s, "early", 20)
	a1 := acceptN(t, s, "a1-", 1)[0]
	if made, err := s.createNext(20); err != nil || made != 20 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	a2 := acceptN(t, s, "a2-", 1)[0]
	// Twenty decided records lie between the two queued orders: read one by one.
	s.idx.RLock()
	l1, l2 := s.index[a1], s.index[a2]
	s.idx.RUnlock()
	if gap := l2.off - l1.off; gap < 10*int64(l1.n) {
		t.Fatalf("the queued orders are only %d bytes apart", gap)
	}
	if made, err := s.createNext(5); err != nil || made != 2 {
		t.Fatalf("createNext: %d %v", made, err)
	}
	for _, n := range append(early, a1, a2) {
		mustStatus(t, s, n, StatusCreated)
	}
}

func TestOrderLogRefusesOversizeOrder(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, nil)
	huge := testOrder(1)
	huge.CartID = strings.Repeat("c", maxOrderLogRecord)
	if _, _, err := s.accept("huge", huge); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("accept of a %d-byte order: %v", maxOrderLogRecord, err)
	}
	n := acceptN(t, s, "k", 1)[0]
	closeTestStore(t, s)
	s = openTestStore(t, dir, nil)
	defer closeTestStore(t, s)
	if _, ok := s.lookupKey("huge"); ok || n != 1 {
		t.Fatalf("the refused order left a key (%v) or used a number (next %d)", ok, n)
	}
	mustStatus(t, s, n, StatusProcessing)
}

// damageSecondRecord writes n orders to a store in dir, lets damage change
// the log's bytes (second is the offset of its second record) and writes
// them back; it returns the log's path, that offset and the file's size.
func damageSecondRecord(t *testing.T, dir string, n int, damage func(data []byte, second int)) (string, int, int64) {
	t.Helper()
	path := filepath.Join(dir, OrderLogName)
	s := openTestStore(t, dir, nil)
	acceptN(t, s, "k", n)
	closeTestStore(t, s)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first := len(orderLogMagic)
	second := first + orderLogHeader + int(binary.LittleEndian.Uint32(data[first:]))
	damage(data, second)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, second, fileSize(t, path)
}
