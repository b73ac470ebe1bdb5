package target

import (
	"encoding/json"
	"testing"
	"time"
)

func TestCartCacheDropsAbandonedCartsAndReleasesStock(t *testing.T) {
	inv := newInventory(100)
	cs := newCartStore(cartParts) // one cart per partition per generation
	e := inv.entry([]byte("sku"))
	old := cs.create("a", "r")
	if !e.reserve(10) {
		t.Fatal("reserve")
	}
	old.items = append(old.items, cartItem{e: e, qty: 12, reserved: 10})
	if cs.get(old.num) != old {
		t.Fatal("fresh cart not found")
	}
	// Fill old's partition for two more generations without touching old.
	made := 0
	for made < 2 {
		c := cs.create("b", "r")
		if c.num%cartParts == old.num%cartParts {
			made++
		}
	}
	if cs.get(old.num) != nil {
		t.Fatal("a cart untouched for two generations is still cached")
	}
	if a := e.available.Load(); a != 100 {
		t.Fatalf("stock after dropping the cart: %d, want 100 (its 10 reserved units back)", a)
	}
	// A cart used in time survives a rotation: it moves to the current generation.
	kept := cs.create("c", "r")
	for made = 0; made < 1; {
		if c := cs.create("d", "r"); c.num%cartParts == kept.num%cartParts {
			made++
		}
	}
	if cs.get(kept.num) != kept {
		t.Fatal("cart in the previous generation not found")
	}
	for made = 0; made < 1; {
		if c := cs.create("d", "r"); c.num%cartParts == kept.num%cartParts {
			made++
		}
	}
	if cs.get(kept.num) != kept {
		t.Fatal("a cart touched in the previous generation was dropped")
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(LatencyRule{PathPrefix: "/v1/", Fixed: Duration(150 * time.Millisecond), Jitter: Duration(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"path_prefix":"/v1/","fixed":"150ms","jitter":"2s"}` {
		t.Fatalf("marshal: %s", b)
	}
	var r LatencyRule
	if err := json.Unmarshal([]byte(`{"fixed":"1.5s","jitter":1000000}`), &r); err != nil {
		t.Fatal(err)
	}
	if time.Duration(r.Fixed) != 1500*time.Millisecond || time.Duration(r.Jitter) != time.Millisecond {
		t.Fatalf("unmarshal: %+v", r)
	}
	for _, bad := range []string{`{"fixed":"fast"}`, `{"fixed":1.5}`, `{"fixed":true}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if err := (ChaosState{Latency: []LatencyRule{{PathPrefix: "v1"}}}).Validate(); err == nil {
		t.Error("a path prefix without / must be refused")
	}
	if err := (ChaosState{Latency: []LatencyRule{{Fixed: Duration(2 * time.Minute)}}}).Validate(); err == nil {
		t.Error("a delay over a minute must be refused")
	}
}

func TestRateModel(t *testing.T) {
	// Tokyo ships to JP in zone 1 and to the US East coast far away.
	jp := rateQuote("ap-tokyo", 1000, "JP", "ups", "standard")
	us := rateQuote("ap-tokyo", 1000, "10001", "ups", "standard")
	if jp.zone != 1 || us.zone < 6 || jp.priceCents >= us.priceCents || jp.etaDays > us.etaDays {
		t.Fatalf("JP %+v, US %+v", jp, us)
	}
	heavy := rateQuote("ap-tokyo", 9000, "JP", "ups", "standard")
	if heavy.priceCents <= jp.priceCents {
		t.Fatalf("9 kg costs no more than 1 kg: %d vs %d", heavy.priceCents, jp.priceCents)
	}
	if a, b := rateQuote("us-east", 1234, "de", "dhl", "express"), rateQuote("us-east", 1234, "DE", "dhl", "express"); a.priceCents != b.priceCents {
		t.Fatal("country codes are case-insensitive")
	}
}
