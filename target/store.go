package target

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
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

var (
	bucketOrders = []byte("orders") // order number (8-byte big endian) -> orderRecord JSON
	bucketQueue  = []byte("queue")  // order number -> empty: accepted, not yet created
	bucketIdem   = []byte("idem")   // Idempotency-Key -> order number
)

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

// commitReq is one checkout waiting for the group commit.
type commitReq struct {
	key  string
	rec  *orderRecord
	done chan struct{}
	// pre is the order number already answered (unsafe ack-before-write mode); 0 otherwise.
	pre uint64
	// results
	num   uint64
	fresh bool
	err   error
}

// orderStore is a shard's durable order queue in bbolt. Checkouts are coalesced by one
// committer goroutine: whatever arrived while the previous transaction was committing goes
// into the next one, so a burst costs one fsync per batch, not per order.
type orderStore struct {
	db    *bolt.DB
	shard int

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
	batches  atomic.Uint64 // write transactions committed for checkouts

	// unsafeAck answers checkouts before their order is written (a deliberately broken
	// mode, only for the test that proves the game-day audit catches lost orders).
	unsafeAck bool
	unsafeSeq atomic.Uint64
}

// unsafeWriteDelay is how long an order answered in unsafe ack-before-write mode waits in
// memory before it is written: a kill -9 in that window loses it.
const unsafeWriteDelay = time.Second

// maxBatch bounds the orders committed in one transaction.
const maxBatch = 4096

// openStore opens (creating if needed) the bbolt file in dir and starts the committer.
func openStore(dir string, shard int) (*orderStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, "orders.bbolt")
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         2 * time.Second, // another live process holding the file fails fast
		InitialMmapSize: 64 << 20,        // avoid remapping (which blocks readers) during bursts
		FreelistType:    bolt.FreelistMapType,
		// The free list is rebuilt by a scan at open instead of being
		// written by every commit: fewer pages per group commit and fsync
		// (the kill -9 test reopens a store written this way).
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open order store %s: %w", path, err)
	}
	s := &orderStore{db: db, shard: shard, reqs: make(chan *commitReq, maxBatch), done: make(chan struct{})}
	s.pool.New = func() any { return &commitReq{done: make(chan struct{}, 1)} }
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOrders, bucketQueue, bucketIdem} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		s.queued.Store(int64(tx.Bucket(bucketQueue).Stats().KeyN))
		// Numbers handed out before a crash and never written are not reused.
		s.unsafeSeq.Store(tx.Bucket(bucketOrders).Sequence() + 1_000_000)
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise order store %s: %w", path, err)
	}
	go s.commitLoop()
	return s, nil
}

// orderID formats the public id of order number n.
func (s *orderStore) orderID(n uint64) string {
	return fmt.Sprintf("o%d-%d", s.shard, n)
}

func numKey(n uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k[:]
}

// lookupKey returns the order number stored for an idempotency key, if any.
func (s *orderStore) lookupKey(key string) (uint64, bool, error) {
	var n uint64
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketIdem).Get([]byte(key)); len(v) == 8 {
			n, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("look up idempotency key: %w", err)
	}
	return n, ok, nil
}

// accept makes rec durable and queued under idempotency key, returning its order number.
// If the key was already used, nothing is written and the existing number is returned with
// fresh false. It returns only after the transaction holding the order has been fsynced.
func (s *orderStore) accept(key string, rec *orderRecord) (n uint64, fresh bool, err error) {
	if s.unsafeAck {
		return s.acceptUnsafe(key, rec)
	}
	r := s.pool.Get().(*commitReq)
	r.key, r.rec, r.num, r.fresh, r.err = key, rec, 0, false, nil
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		s.pool.Put(r)
		return 0, false, errStoreClosed
	}
	s.reqs <- r
	s.mu.RUnlock()
	<-r.done
	n, fresh, err = r.num, r.fresh, r.err
	r.rec = nil
	s.pool.Put(r)
	return n, fresh, err
}

// acceptUnsafe answers at once with a number held in memory and writes the order
// unsafeWriteDelay later: the broken durability the game-day integrity audit must catch.
func (s *orderStore) acceptUnsafe(key string, rec *orderRecord) (uint64, bool, error) {
	n := s.unsafeSeq.Add(1)
	r := &commitReq{key: key, rec: rec, pre: n, done: make(chan struct{}, 1)}
	time.AfterFunc(unsafeWriteDelay, func() {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if !s.closed {
			s.reqs <- r
		}
	})
	return n, true, nil
}

// minCommitGap is the least time between two checkout commits. A commit (its page
// writes and two fdatasyncs) costs the same CPU for one order as for a hundred; at a
// storm's few hundred checkouts per second per shard, answering each as soon as the disk
// allows made batches of one or two, and the commits were a fifth of a shard's CPU. The
// committer waits out the gap, gathering what arrives meanwhile: a checkout waits at
// most this much longer, and at low load (one commit per gap or fewer) not at all.
const minCommitGap = 10 * time.Millisecond

// commitLoop is the single committer: it takes everything queued and commits it at once,
// at most once per minCommitGap.
func (s *orderStore) commitLoop() {
	defer close(s.done)
	batch := make([]*commitReq, 0, maxBatch)
	var last time.Time
	for first := range s.reqs {
		if wait := minCommitGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commit(batch)
		last = time.Now()
	}
}

// commit writes one batch in one transaction and wakes its callers after the fsync.
func (s *orderStore) commit(batch []*commitReq) {
	now := time.Now().UTC()
	fresh, preorder := 0, 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		orders, queue, idem := tx.Bucket(bucketOrders), tx.Bucket(bucketQueue), tx.Bucket(bucketIdem)
		fresh, preorder = 0, 0
		for _, r := range batch {
			r.fresh = false
			if v := idem.Get([]byte(r.key)); len(v) == 8 {
				r.num = binary.BigEndian.Uint64(v)
				continue
			}
			n := r.pre
			if n == 0 {
				var err error
				if n, err = orders.NextSequence(); err != nil {
					return fmt.Errorf("next order number: %w", err)
				}
			} else if n > orders.Sequence() {
				if err := orders.SetSequence(n); err != nil {
					return fmt.Errorf("order number: %w", err)
				}
			}
			r.num, r.fresh = n, true
			r.rec.ID = s.orderID(n)
			r.rec.Status = StatusProcessing
			r.rec.IdempotencyKey = r.key
			r.rec.AcceptedAt = now
			data, err := json.Marshal(r.rec)
			if err != nil {
				return fmt.Errorf("encode order %s: %w", r.rec.ID, err)
			}
			k := numKey(n)
			if err := orders.Put(k, data); err != nil {
				return fmt.Errorf("store order %s: %w", r.rec.ID, err)
			}
			if err := queue.Put(k, nil); err != nil {
				return fmt.Errorf("queue order %s: %w", r.rec.ID, err)
			}
			if err := idem.Put([]byte(r.key), k); err != nil {
				return fmt.Errorf("store idempotency key of order %s: %w", r.rec.ID, err)
			}
			fresh++
			if r.rec.Preorder {
				preorder++
			}
		}
		return nil
	})
	if err == nil {
		s.queued.Add(int64(fresh))
		s.accepted.Add(uint64(fresh))
		s.preorder.Add(uint64(preorder))
		s.batches.Add(1)
	} else {
		err = fmt.Errorf("commit %d checkouts: %w", len(batch), err)
	}
	for _, r := range batch {
		if err != nil {
			r.err, r.fresh = err, false
		}
		r.done <- struct{}{}
	}
}

// get reads order number n.
func (s *orderStore) get(n uint64) (orderRecord, bool, error) {
	var rec orderRecord
	var found bool
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOrders).Get(numKey(n))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &rec)
	})
	if err != nil {
		return rec, false, fmt.Errorf("read order %s: %w", s.orderID(n), err)
	}
	return rec, found, nil
}

// appendJSON appends order number n as stored (its JSON, as GET
// /v1/orders/{id} answers it: no decoding and re-encoding on the polled path).
func (s *orderStore) appendJSON(dst []byte, n uint64) ([]byte, bool, error) {
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketOrders).Get(numKey(n))
		found = v != nil
		dst = append(dst, v...) // v is only valid inside the transaction
		return nil
	})
	if err != nil {
		return dst, false, fmt.Errorf("read order %s: %w", s.orderID(n), err)
	}
	return dst, found, nil
}

// createNext turns up to max queued orders, oldest first, into created (or rejected)
// orders in one transaction (the status change and the removal from the queue commit
// together, so each order is created exactly once, also across crashes). It returns how many
// it took from the queue.
func (s *orderStore) createNext(max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	made, refused := 0, 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		made, refused = 0, 0
		orders, queue := tx.Bucket(bucketOrders), tx.Bucket(bucketQueue)
		var keys [][]byte
		c := queue.Cursor()
		for k, _ := c.First(); k != nil && len(keys) < max; k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		now := time.Now().UTC()
		for _, k := range keys {
			v := orders.Get(k)
			if v == nil {
				return fmt.Errorf("queued order %d has no record", binary.BigEndian.Uint64(k))
			}
			var rec orderRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode order %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if why := rec.check(); why != "" {
				rec.Status, rec.RejectedAt, rec.RejectReason = StatusRejected, &now, why
				refused++
			} else {
				rec.Status, rec.CreatedAt = StatusCreated, &now
			}
			data, err := json.Marshal(&rec)
			if err != nil {
				return fmt.Errorf("encode order %s: %w", rec.ID, err)
			}
			if err := orders.Put(k, data); err != nil {
				return fmt.Errorf("store order %s: %w", rec.ID, err)
			}
			if err := queue.Delete(k); err != nil {
				return fmt.Errorf("dequeue order %s: %w", rec.ID, err)
			}
			made++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("create queued orders: %w", err)
	}
	s.queued.Add(-int64(made))
	s.created.Add(uint64(made - refused))
	s.rejected.Add(uint64(refused))
	return made, nil
}

// close stops accepting, commits what is pending and closes the database.
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
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close order store: %w", err)
	}
	return nil
}
