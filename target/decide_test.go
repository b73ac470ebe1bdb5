package target

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestDecideOrderMatchesEncoding checks that the spliced JSON of a created order is byte for
// byte what encoding/json writes for the decided record, and that rejection and orders of
// another shape take the decoding path (and decode to the record encoding/json writes).
func TestDecideOrderMatchesEncoding(t *testing.T) {
	s := &orderStore{shard: 3}
	now := time.Date(2026, 12, 7, 6, 0, 0, 123456789, time.UTC)
	accepted := func(n uint64, qty int64) (*orderRecord, []byte) {
		rec := &orderRecord{
			ID: s.orderID(n), Status: StatusProcessing, CartID: "c3-9",
			Items:       []orderItem{{SKU: "a<b>&c", Qty: qty, PreorderQty: 1}, {SKU: "z", Qty: 2}},
			Destination: "US", Carrier: "ups", Speed: "standard", ShippingCents: 1299, Preorder: true,
			IdempotencyKey: `k"\é`, AcceptedAt: now.Add(-time.Second),
		}
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return rec, data
	}

	rec, data := accepted(1234567, 5)
	got, rejected, err := s.decideOrder([]byte("prefix"), data, 1234567, false, now)
	rec.Status, rec.CreatedAt = StatusCreated, &now
	want, _ := json.Marshal(rec)
	if err != nil || rejected || string(got) != "prefix"+string(want) {
		t.Fatalf("created:\n got %s (rejected %v, %v)\nwant prefix%s", got, rejected, err, want)
	}

	rec, data = accepted(8, MaxUnitsPerSKUPerOrder+1)
	got, rejected, err = s.decideOrder(nil, data, 8, true, now)
	rec.Status, rec.RejectedAt, rec.RejectReason = StatusRejected, &now, rec.check()
	want, _ = json.Marshal(rec)
	if err != nil || !rejected || !sameOrder(got, want) {
		t.Fatalf("rejected:\n got %s (rejected %v, %v)\nwant %s", got, rejected, err, want)
	}

	// Another shard's head does not match the splice: decoded, still right.
	rec, data = accepted(8, 1)
	s.shard = 4
	got, _, err = s.decideOrder(nil, data, 8, false, now)
	rec.Status, rec.CreatedAt = StatusCreated, &now
	want, _ = json.Marshal(rec)
	if err != nil || !sameOrder(got, want) {
		t.Fatalf("fallback:\n got %s (%v)\nwant %s", got, err, want)
	}

	if _, _, err := s.decideOrder(nil, []byte("{broken"), 8, false, now); err == nil {
		t.Fatal("broken JSON decided without an error")
	}
}

// sameOrder reports whether two JSON orders decode to the same record.
func sameOrder(a, b []byte) bool {
	var ra, rb orderRecord
	return json.Unmarshal(a, &ra) == nil && json.Unmarshal(b, &rb) == nil && reflect.DeepEqual(ra, rb)
}
