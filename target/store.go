package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Order statuses as they appear in GET /v1/orders/{order_id}.
const (
	StatusProcessing = "processing" // accepted (durable, queued), not yet created
	StatusCreated    = "created"    // turned into a created order by the worker
	StatusRejected   = "rejected"   // refused by the worker (see MaxUnitsPerSKUPerOrder)
)

// MaxUnitsPerSKUPerOrder is the purchase limit the order worker enforces, as shops do for
// drops: an order with more units of one SKU is rejected when its turn comes, not created.
const MaxUnitsPerSKUPerOrder = 500

// errStoreClosed is returned by accept after the store started closing.
var errStoreClosed = errors.New("order store is closed")

// orderItem is one line of an order.
type orderItem struct {
	SKU         string `json:"sku"`
	Qty         int64  `json:"qty"`
	PreorderQty int64  `json:"preorder_qty"`
}

// orderRecord is the durable form of an order.
type orderRecord struct {
	ID             string      `json:"order_id"`
	Status         string      `json:"status"`
	CartID         string      `json:"cart_id"`
	Items          []orderItem `json:"items"`
	Destination    string      `json:"destination"`
	Carrier        string      `json:"carrier"`
	Speed          string      `json:"speed"`
	ShippingCents  int64       `json:"shipping_cents"`
	Preorder       bool        `json:"preorder"`
	IdempotencyKey string      `json:"idempotency_key"`
	AcceptedAt     time.Time   `json:"accepted_at"`
	CreatedAt      *time.Time  `json:"created_at,omitempty"`  // when created
	RejectedAt     *time.Time  `json:"rejected_at,omitempty"` // when rejected
	RejectReason   string      `json:"reject_reason,omitempty"`
}

// check applies the worker's rules to an order and returns why it must be rejected, or "".
func (r *orderRecord) check() string {
	for _, it := range r.Items {
		if it.Qty > MaxUnitsPerSKUPerOrder {
			return fmt.Sprintf("%d units of %s exceed the limit of %d per order", it.Qty, it.SKU, MaxUnitsPerSKUPerOrder)
		}
	}
	return ""
}

// orderLoc is where an order's latest JSON is in the log.
type orderLoc struct {
	off     int64  // file offset of the JSON
	n       uint32 // its length
	decided bool   // created or rejected: its latest record is an OrderDecided one
	reject  bool   // queued, and the worker's rules will reject it (orderRecord.check)
}

// orderStore is a shard's durable order queue: an append-only order log (see orderlog.go)
// and, in memory, where each order's latest record is, the order number of each
// Idempotency-Key and the queue of orders not yet decided. Checkouts are coalesced by one
// committer goroutine (commit.go): whatever arrived while the previous batch was being
// written goes into the next one, so a burst costs one write and one fdatasync per batch,
// not per order. The worker's side is decide.go, the replay at open replay.go. Nothing is
// published in memory before the write holding it is synced.
type orderStore struct {
	path     string
	f        *os.File
	shard    int
	idPrefix string // "o<shard>-": order ids are the prefix and the order number

	wmu    sync.Mutex // serialises appends: end, failed
	end    int64      // length of the log's valid prefix: where the next write goes
	failed error      // set when the log can no longer be appended to safely
	tail   logTail    // the log's last synced bytes, for reads of recent orders

	idx   sync.RWMutex        // guards what follows (the committer alone writes idem)
	idem  map[string]uint64   // Idempotency-Key -> order number
	index map[uint64]orderLoc // order number -> latest record
	queue []uint64            // accepted, not yet decided orders from qhead on, oldest first
	qhead int

	// The committer's own state.
	seq     uint64            // highest order number written
	wbuf    []byte            // records of the batch being written
	pending map[string]uint64 // keys of the batch being written

	workMu  sync.Mutex // one createNext at a time
	workBuf []byte

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *commitReq
	done   chan struct{}
	pool   sync.Pool

	queued   atomic.Int64  // orders accepted and not yet created
	accepted atomic.Uint64 // orders accepted since start
	preorder atomic.Uint64 // of those, orders holding pre-ordered units
	created  atomic.Uint64 // orders created since start
	rejected atomic.Uint64 // orders rejected since start
	batches  atomic.Uint64 // synced writes of checkouts

	// unsafeAck answers checkouts before their order is written (a deliberately broken
	// mode, only for the test that proves the game-day audit catches lost orders).
	unsafeAck bool
	unsafeSeq atomic.Uint64
}

// unsafeSeqJump is how far past the highest written order number the unsafe mode's numbers
// start after an open: numbers answered before a crash and never written are not reused
// (unless more than this many were lost).
const unsafeSeqJump = 1_000_000

// openStore opens (creating if needed) the order log in dir, replays it into memory and
// starts the committer. A torn last write (a crash mid-write) is cut off and logged with
// logf; damage before it is an error. A data dir holding the bbolt store of older versions
// is an error saying what to do.
func openStore(dir string, shard int, logf func(format string, args ...any)) (*orderStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	if old := filepath.Join(dir, "orders.bbolt"); fileExists(old) {
		return nil, fmt.Errorf("data dir %s holds %s, the order store of an older agentstorm (bbolt), which this version does not read: remove it (its orders are then gone) or use another data dir", dir, old)
	}
	path := filepath.Join(dir, OrderLogName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open order log: %w", err)
	}
	s := &orderStore{
		path: path, f: f, shard: shard, idPrefix: "o" + strconv.Itoa(shard) + "-",
		idem: make(map[string]uint64), index: make(map[uint64]orderLoc), pending: make(map[string]uint64),
		reqs: make(chan *commitReq, maxBatch), done: make(chan struct{}),
	}
	if err := s.load(dir, logf); err != nil {
		_ = f.Close()
		return nil, err
	}
	s.pool.New = func() any { return &commitReq{done: make(chan struct{}, 1)} }
	s.unsafeSeq.Store(s.seq + unsafeSeqJump)
	go s.commitLoop()
	return s, nil
}

// appendDurable writes b at the end of the log and fdatasyncs it; it returns the offset b
// starts at. A failed write is cut off again; a failed sync leaves the log unknown until a
// restart replays it, so every later append fails.
func (s *orderStore) appendDurable(b []byte) (int64, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.failed != nil {
		return 0, s.failed
	}
	off := s.end
	if err := writeAt(s.f, b, off); err != nil {
		if terr := s.f.Truncate(off); terr != nil {
			s.failed = fmt.Errorf("order log %s: write failed (%v) and cutting it off failed (%v): restart the shard", s.path, err, terr)
			return 0, s.failed
		}
		return 0, fmt.Errorf("write order log %s: %w", s.path, err)
	}
	if err := fdatasync(s.f); err != nil {
		s.failed = fmt.Errorf("sync order log %s: %w (restart the shard to replay what was kept)", s.path, err)
		return 0, s.failed
	}
	s.end += int64(len(b))
	s.tail.add(off, b)
	return off, nil
}

// orderID formats the public id of order number n.
func (s *orderStore) orderID(n uint64) string {
	return s.idPrefix + strconv.FormatUint(n, 10)
}

// lookupKey returns the order number stored for an idempotency key, if any.
func (s *orderStore) lookupKey(key string) (uint64, bool) {
	s.idx.RLock()
	n, ok := s.idem[key]
	s.idx.RUnlock()
	return n, ok
}

// locate returns where order number n's latest JSON is.
func (s *orderStore) locate(n uint64) (orderLoc, bool) {
	s.idx.RLock()
	loc, ok := s.index[n]
	s.idx.RUnlock()
	return loc, ok
}

// appendJSON appends order number n as stored (its JSON, as GET /v1/orders/{id} answers it:
// a copy from the log's tail or one pread, no decoding and re-encoding on the polled path).
func (s *orderStore) appendJSON(dst []byte, n uint64) ([]byte, bool, error) {
	loc, ok := s.locate(n)
	if !ok {
		return dst, false, nil
	}
	dst, err := s.readJSON(dst, n, loc)
	return dst, err == nil, err
}

// readJSON appends the JSON of order n at loc to dst.
func (s *orderStore) readJSON(dst []byte, n uint64, loc orderLoc) ([]byte, error) {
	if b, ok := s.tail.read(dst, loc.off, int(loc.n)); ok {
		return b, nil
	}
	l := len(dst)
	dst = append(dst, make([]byte, loc.n)...)
	if _, err := s.f.ReadAt(dst[l:], loc.off); err != nil {
		return dst[:l], fmt.Errorf("read order %s from %s at offset %d: %w", s.orderID(n), s.path, loc.off, err)
	}
	return dst, nil
}

// get reads order number n.
func (s *orderStore) get(n uint64) (orderRecord, bool, error) {
	var rec orderRecord
	data, found, err := s.appendJSON(nil, n)
	if err != nil || !found {
		return rec, found, err
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, false, fmt.Errorf("decode order %s: %w", s.orderID(n), err)
	}
	return rec, true, nil
}

// close stops accepting, commits what is pending and closes the log.
func (s *orderStore) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.failed = errStoreClosed
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("close order log %s: %w", s.path, err)
	}
	return nil
}
