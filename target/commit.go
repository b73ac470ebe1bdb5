package target

import (
	"fmt"
	"time"
)

// commitReq is one checkout waiting for the group commit.
type commitReq struct {
	key  string
	rec  *orderRecord
	done chan struct{}
	// pre is the order number already answered (unsafe ack-before-write mode); 0 otherwise.
	pre uint64
	// then, when set, gets the results on the committer (acceptAsync) instead of done.
	then func(n uint64, fresh bool, err error)
	// results
	num   uint64
	fresh bool
	err   error
	// jsonEnd and jsonLen place the order's JSON in the committer's write buffer.
	jsonEnd, jsonLen int
}

// unsafeWriteDelay is how long an order answered in unsafe ack-before-write mode waits in
// memory before it is written: a kill -9 in that window loses it.
const unsafeWriteDelay = time.Second

// maxBatch bounds the orders committed in one write.
const maxBatch = 4096

// accept makes rec durable and queued under idempotency key, returning its order number.
// If the key was already used, nothing is written and the existing number is returned with
// fresh false. It returns only after the write holding the order has been fdatasynced.
func (s *orderStore) accept(key string, rec *orderRecord) (n uint64, fresh bool, err error) {
	if s.unsafeAck {
		return s.acceptUnsafe(key, rec)
	}
	r, err := s.enqueue(key, rec, nil)
	if err != nil {
		return 0, false, err
	}
	<-r.done
	n, fresh, err = r.num, r.fresh, r.err
	r.rec = nil
	s.pool.Put(r)
	return n, fresh, err
}

// acceptAsync is accept for a caller that must not block (an event loop): then gets
// accept's results on the committer's goroutine once the order is durable, or at once
// when nothing is written (a closed store). It blocks only while maxBatch orders already
// wait for the committer. then must not block: it holds up the other orders of its commit.
func (s *orderStore) acceptAsync(key string, rec *orderRecord, then func(n uint64, fresh bool, err error)) {
	if s.unsafeAck {
		then(s.acceptUnsafe(key, rec))
		return
	}
	if _, err := s.enqueue(key, rec, then); err != nil {
		then(0, false, err)
	}
}

// enqueue hands an order to the committer (errStoreClosed once the store is closed).
func (s *orderStore) enqueue(key string, rec *orderRecord, then func(uint64, bool, error)) (*commitReq, error) {
	r := s.pool.Get().(*commitReq)
	r.key, r.rec, r.then, r.num, r.fresh, r.err = key, rec, then, 0, false, nil
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		r.rec, r.then = nil, nil
		s.pool.Put(r)
		return nil, errStoreClosed
	}
	s.reqs <- r
	return r, nil
}

// finish hands r's results to its caller: its callback, or accept waiting on done.
func (s *orderStore) finish(r *commitReq) {
	if r.then == nil {
		r.done <- struct{}{}
		return
	}
	then, n, fresh, err := r.then, r.num, r.fresh, r.err
	r.rec, r.then = nil, nil
	s.pool.Put(r)
	then(n, fresh, err)
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

// minCommitGap is the least time between two checkout commits. A commit (one write and
// one fdatasync) costs about the same CPU for one order as for a hundred, and on a VM far
// more than a request: its three disk writes (data, inode, cache flush) each exit to the
// hypervisor, and its wake-ups move the shard's goroutines between threads. At a storm's
// few hundred checkouts per second per shard, answering each as soon as the disk allowed
// made batches of one or two. The committer waits out the gap, gathering what arrives
// meanwhile: a checkout waits at most this much longer, and at low load (one commit per gap
// or fewer) not at all. 20 ms rather than 10 halves the commits of a busy shard: with
// workerTick 100 ms and the loops' checkouts, 30,000 agents of the default storm on 2 cores
// cost a median 64.8 µs of CPU a request instead of 70.9 (clean clones, 5 rounds;
// bench/RESULTS.md, session 11), and the checkout's p99 was 26–42 ms instead of 18–30, well
// inside a 100 ms patience.
const minCommitGap = 20 * time.Millisecond

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

// commit appends one batch's accepted records in one synced write, then publishes the
// orders (index, idempotency keys, queue) and wakes their callers.
func (s *orderStore) commit(batch []*commitReq) {
	now := time.Now().UTC()
	seq := s.seq
	b := s.wbuf[:0]
	clear(s.pending)
	for _, r := range batch {
		r.fresh, r.err = false, nil
		// The committer is the only writer of idem, so it reads it without the lock.
		if n, ok := s.idem[r.key]; ok {
			r.num = n
			continue
		}
		if n, ok := s.pending[r.key]; ok {
			r.num = n
			continue
		}
		n := r.pre
		if n == 0 {
			n = seq + 1
		}
		r.rec.ID = s.orderID(n)
		r.rec.Status = StatusProcessing
		r.rec.IdempotencyKey = r.key
		r.rec.AcceptedAt = now
		was := len(b)
		var start int
		b, start = beginOrderLogRecord(b, OrderAccepted, n, r.key)
		jsonStart := len(b)
		b = appendOrderJSON(b, r.rec)
		if size := len(b) - start - orderLogHeader; size > maxOrderLogRecord {
			// This checkout alone fails; its number is not used.
			r.err = fmt.Errorf("encode order %s: %d bytes, over the limit of %d", r.rec.ID, size, maxOrderLogRecord)
			b = b[:was]
			continue
		}
		b = endOrderLogRecord(b, start)
		seq = max(seq, n)
		r.num, r.fresh, r.jsonEnd, r.jsonLen = n, true, len(b), len(b)-jsonStart
		s.pending[r.key] = n
	}
	s.wbuf = b
	var off int64
	var err error
	if len(b) > 0 {
		off, err = s.appendDurable(b)
	}
	if err != nil {
		err = fmt.Errorf("commit %d checkouts: %w", len(batch), err)
		for _, r := range batch {
			r.err, r.fresh = err, false
			s.finish(r)
		}
		return
	}
	s.seq = seq
	fresh, preorder := 0, 0
	s.idx.Lock()
	for _, r := range batch {
		if !r.fresh {
			continue
		}
		s.idem[r.key] = r.num
		s.index[r.num] = orderLoc{off: off + int64(r.jsonEnd-r.jsonLen), n: uint32(r.jsonLen), reject: r.rec.check() != ""}
		s.queue = append(s.queue, r.num)
		fresh++
		if r.rec.Preorder {
			preorder++
		}
	}
	s.idx.Unlock()
	if len(b) > 0 {
		s.batches.Add(1)
	}
	s.queued.Add(int64(fresh))
	s.accepted.Add(uint64(fresh))
	s.preorder.Add(uint64(preorder))
	for _, r := range batch {
		s.finish(r)
	}
}
