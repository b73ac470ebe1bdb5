package target

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

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
	data, err := json.Marshal(&rec)
	if err != nil {
		return dst, false, fmt.Errorf("encode order %s: %w", rec.ID, err)
	}
	return append(dst, data...), rejected, nil
}

// appendJSONHead appends the start of order n's JSON as encoding/json writes it with status:
// `{"order_id":"o<shard>-<n>","status":"<status>"`.
func (s *orderStore) appendJSONHead(dst []byte, n uint64, status string) []byte {
	dst = append(dst, `{"order_id":"o`...)
	dst = strconv.AppendInt(dst, int64(s.shard), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, `","status":"`...)
	dst = append(dst, status...)
	return append(dst, '"')
}
