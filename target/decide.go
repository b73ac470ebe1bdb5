package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// createNext turns up to max queued orders, oldest first, into created (or rejected)
// orders: their decided records are written in one synced write before the queue lets go of
// them, and a replay queues only orders without one, so each order is decided exactly once,
// also across crashes. It returns how many it took from the queue.
func (s *orderStore) createNext(max int) (int, error) {
	if max <= 0 {
		return 0, nil
	}
	s.workMu.Lock()
	defer s.workMu.Unlock()
	// Only createNext takes from the queue's head, so what it reads here stays there.
	s.idx.RLock()
	nums := append([]uint64(nil), s.queue[s.qhead:s.qhead+min(max, len(s.queue)-s.qhead)]...)
	locs := make([]orderLoc, len(nums))
	for i, n := range nums {
		locs[i] = s.index[n]
	}
	s.idx.RUnlock()
	if len(nums) == 0 {
		return 0, nil
	}
	now := time.Now().UTC()
	refused := 0
	b := s.workBuf[:0]
	ends := make([]int, len(nums)) // where each decided JSON ends in b
	span, spanOff, err := s.readSpan(nums, locs)
	if err != nil {
		return 0, fmt.Errorf("create queued orders: %w", err)
	}
	var data []byte
	for i, n := range nums {
		var (
			start    int
			rejected bool
			err      error
		)
		if span != nil {
			data = span[locs[i].off-spanOff:][:locs[i].n]
		} else if data, err = s.readJSON(data[:0], n, locs[i]); err != nil {
			return 0, fmt.Errorf("create queued orders: %w", err)
		}
		b, start = beginOrderLogRecord(b, OrderDecided, n, "")
		jsonStart := len(b)
		if b, rejected, err = s.decideOrder(b, data, n, locs[i].reject, now); err != nil {
			return 0, fmt.Errorf("create queued orders: %w", err)
		}
		if rejected {
			refused++
		}
		b = endOrderLogRecord(b, start)
		ends[i] = len(b)
		locs[i] = orderLoc{n: uint32(len(b) - jsonStart), decided: true}
	}
	s.workBuf = b
	off, err := s.appendDurable(b)
	if err != nil {
		return 0, fmt.Errorf("create queued orders: %w", err)
	}
	s.idx.Lock()
	for i, n := range nums {
		locs[i].off = off + int64(ends[i]) - int64(locs[i].n)
		s.index[n] = locs[i]
	}
	s.qhead += len(nums)
	if s.qhead >= 1024 && 2*s.qhead >= len(s.queue) {
		s.queue = s.queue[:copy(s.queue, s.queue[s.qhead:])]
		s.qhead = 0
	}
	s.idx.Unlock()
	s.queued.Add(-int64(len(nums)))
	s.created.Add(uint64(len(nums) - refused))
	s.rejected.Add(uint64(refused))
	return len(nums), nil
}

// maxSpanRead bounds the bytes createNext reads in one pread to get at the orders it decides.
const maxSpanRead = 4 << 20

// readSpan reads the stretch of the log holding the orders at locs in one piece (from the
// log's tail, or with one pread), when it is at most maxSpanRead and not mostly other records
// (queued orders lie close together in the log: one read instead of one per order). It
// returns nil when they are too far apart.
func (s *orderStore) readSpan(nums []uint64, locs []orderLoc) ([]byte, int64, error) {
	lo, hi, total := locs[0].off, int64(0), int64(0)
	for _, l := range locs {
		lo, hi, total = min(lo, l.off), max(hi, l.off+int64(l.n)), total+int64(l.n)
	}
	if hi-lo > maxSpanRead || hi-lo > 4*total {
		return nil, 0, nil
	}
	if b, ok := s.tail.read(nil, lo, int(hi-lo)); ok {
		return b, lo, nil
	}
	b := make([]byte, hi-lo)
	if _, err := s.f.ReadAt(b, lo); err != nil {
		return nil, 0, fmt.Errorf("read orders %s to %s from %s at offset %d: %w", s.orderID(nums[0]), s.orderID(nums[len(nums)-1]), s.path, lo, err)
	}
	return b, lo, nil
}

// decideOrder appends to dst the JSON of order number n once the worker decided it at now,
// given its accepted JSON: created, or rejected (with the reason) when it breaks the worker's
// rules, which reject says (see orderRecord.check). It reports whether it rejected.
//
// A created order, the common case, is spliced from the accepted JSON: its status is replaced
// and created_at appended, which is exactly what encoding/json writes for the decided record
// (created_at follows accepted_at, the last field of an accepted order). Decoding and encoding
// every order again was most of the order store's CPU. Anything not in that shape takes the
// decode and encode path.
func (s *orderStore) decideOrder(dst, accepted []byte, n uint64, reject bool, now time.Time) ([]byte, bool, error) {
	if !reject {
		var pre [64]byte
		head := s.appendJSONHead(pre[:0], n, StatusProcessing)
		if rest, ok := bytes.CutPrefix(accepted, head); ok && len(rest) > 0 && rest[len(rest)-1] == '}' && bytes.HasPrefix(rest, []byte(",")) {
			dst = s.appendJSONHead(dst, n, StatusCreated)
			dst = append(dst, rest[:len(rest)-1]...)
			dst = append(dst, `,"created_at":"`...)
			dst = now.AppendFormat(dst, time.RFC3339Nano)
			return append(dst, `"}`...), false, nil
		}
	}
	var rec orderRecord
	if err := json.Unmarshal(accepted, &rec); err != nil {
		return dst, false, fmt.Errorf("decode order %s: %w", s.orderID(n), err)
	}
	rejected := false
	if why := rec.check(); why != "" {
		rec.Status, rec.RejectedAt, rec.RejectReason = StatusRejected, &now, why
		rejected = true
	} else {
		rec.Status, rec.CreatedAt = StatusCreated, &now
	}
	return appendOrderJSON(dst, &rec), rejected, nil
}

// appendJSONHead appends the start of order n's JSON as encoding/json writes it with status:
// `{"order_id":"o<shard>-<n>","status":"<status>"`.
func (s *orderStore) appendJSONHead(dst []byte, n uint64, status string) []byte {
	dst = append(dst, `{"order_id":"`...)
	dst = append(dst, s.idPrefix...)
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, `","status":"`...)
	dst = append(dst, status...)
	return append(dst, '"')
}
