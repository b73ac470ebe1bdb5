package target

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestOrderJSONAsEncodingJSON: for records of every shape appendOrderJSON writes what
// json.Marshal writes when the strings are plain, and JSON that decodes to the same record
// whatever the strings hold.
func TestOrderJSONAsEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 22, 15, 4, 123456000, time.UTC)
	later := at.Add(1500 * time.Millisecond)
	base := orderRecord{ID: "o3-17", Status: StatusProcessing, CartID: "c3-99", Items: []orderItem{{SKU: "sku-1", Qty: 2}, {SKU: "sku-2", Qty: 1, PreorderQty: 1}},
		Destination: "JP", Carrier: "ups", Speed: "express", ShippingCents: 2255, Preorder: true, IdempotencyKey: "k-1", AcceptedAt: at}
	created, rejected, noItems, emptyItems, zeroNanos := base, base, base, base, base
	created.Status, created.CreatedAt = StatusCreated, &later
	rejected.Status, rejected.RejectedAt, rejected.RejectReason = StatusRejected, &later, "501 units of sku-1 exceed the limit of 500 per order"
	noItems.Items = nil
	emptyItems.Items = []orderItem{}
	zeroNanos.AcceptedAt = at.Truncate(time.Second)
	for name, rec := range map[string]orderRecord{"accepted": base, "created": created, "rejected": rejected, "nil items": noItems, "no items": emptyItems, "whole second": zeroNanos} {
		want, err := json.Marshal(&rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOrderJSON([]byte("x"), &rec); string(got) != "x"+string(want) {
			t.Errorf("%s:\n got %s\nwant x%s", name, got, want)
		}
	}

	// Any strings (keys and cart ids come from requests): the same record after decoding.
	rng := rand.New(rand.NewPCG(3, 4))
	str := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = []byte("a\"\\\n\t\x00\x1f<>&\xe2\x80\xa8\xff\xc3\xa9")[rng.IntN(16)]
		}
		return string(b)
	}
	for i := 0; i < 2000; i++ {
		rec := base
		rec.CartID, rec.IdempotencyKey, rec.Destination = str(), str(), str()
		rec.Items = []orderItem{{SKU: str(), Qty: rng.Int64N(1000) - 1, PreorderQty: rng.Int64()}}
		if i%2 == 1 {
			rec.RejectedAt, rec.RejectReason = &later, str()
		}
		var viaUs, viaJSON orderRecord
		ours := appendOrderJSON(nil, &rec)
		theirs, _ := json.Marshal(&rec)
		if err := json.Unmarshal(ours, &viaUs); err != nil {
			t.Fatalf("%q does not decode: %v", ours, err)
		}
		if err := json.Unmarshal(theirs, &viaJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(viaUs, viaJSON) {
			t.Fatalf("%q decodes to\n%+v, json.Marshal's %q to\n%+v", ours, viaUs, theirs, viaJSON)
		}
	}
}
