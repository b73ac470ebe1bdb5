package target

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// FuzzDecodeAddItem: any body either decodes to a valid SKU and an in-range qty that agree
// with encoding/json, or is refused with a 400 message; never a panic.
func FuzzDecodeAddItem(f *testing.F) {
	for _, s := range []string{`{"sku":"a","qty":1}`, `{"sku":"sku-42","qty":99}`, `{"qty":3,"sku":"x"}`,
		`{"sku":"a","qty":1.0}`, `{"sku":"\u0061","qty":1e1}`, `{"sku":"a","qty":-1}`, `[]`, `{`, ``,
		`{"sku":"a","qty":1,"qty":1}`, `{"sku":null,"qty":1}`, `  {"sku":"a","qty":2}  `} {
		f.Add([]byte(s))
	}
	var d decoder
	f.Fuzz(func(t *testing.T, body []byte) {
		sku, qty, rerr := d.decodeAddItem(body)
		if rerr != nil {
			if rerr.status != 400 || rerr.msg == "" {
				t.Fatalf("error %d %q", rerr.status, rerr.msg)
			}
			return
		}
		if !validSKU(sku) || qty < minQty || qty > maxQty {
			t.Fatalf("accepted sku %q qty %d", sku, qty)
		}
		var ref struct {
			SKU string `json:"sku"`
			Qty int64  `json:"qty"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ref); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", body, err)
		}
		if ref.SKU != string(sku) || ref.Qty != qty {
			t.Fatalf("%q: got %q %d, encoding/json says %q %d", body, sku, qty, ref.SKU, ref.Qty)
		}
	})
}

// FuzzDecodeCheckoutAndQuotes: the other bodies decode to validated values or a 400.
func FuzzDecodeCheckoutAndQuotes(f *testing.F) {
	for _, s := range []string{checkoutBody, `{"destination":"10001","carrier":"ups","speed":"express"}`,
		`{"cart_id":"c0-1","destinations":["US","JP"]}`, `{"cart_id":"c0-1","destinations":["US"],"carriers":["dhl"],"speeds":["overnight"]}`,
		`{"customer_id":"a","region":"b"}`, `{"destination":"de"}`, `{"cart_id":"x","destinations":[1]}`} {
		f.Add([]byte(s))
	}
	var d decoder
	f.Fuzz(func(t *testing.T, body []byte) {
		if c, rerr := d.decodeCheckout(body); rerr == nil {
			if _, ok := destinationPoint(c.destination); !ok || !slices.Contains(carrierNames, c.carrier) || !slices.Contains(speedNames, c.speed) {
				t.Fatalf("checkout accepted %+v", c)
			}
		} else if rerr.status != 400 || rerr.msg == "" {
			t.Fatalf("checkout error %d %q", rerr.status, rerr.msg)
		}
		if q, rerr := d.decodeQuotes(body); rerr == nil {
			if len(q.destinations) == 0 || len(q.destinations) > maxListLen || q.cartID == "" {
				t.Fatalf("quotes accepted %+v", q)
			}
			for _, dest := range q.destinations {
				rateQuote("us-east", 1000, dest, q.carriers[0], q.speeds[0]) // must not panic
			}
		} else if rerr.status != 400 || rerr.msg == "" {
			t.Fatalf("quotes error %d %q", rerr.status, rerr.msg)
		}
		if c, rerr := d.decodeCreateCart(body); rerr == nil {
			if !utf8.ValidString(c.customerID) || c.customerID == "" || c.region == "" {
				t.Fatalf("create cart accepted %+v", c)
			}
		}
	})
}

// FuzzAppendJSONString: the encoder always yields a JSON string that decodes back to the
// input (with invalid UTF-8 replaced).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\x00\x1f\x7f", "é日本", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); utf8.ValidString(s) && back != want {
			t.Fatalf("%q round-tripped to %q", s, back)
		}
	})
}

// FuzzHandler drives the whole handler with arbitrary methods, paths, headers and bodies:
// it never panics, never answers 5xx, and every answer with a body is a JSON object (or the
// Prometheus text of /metrics).
func FuzzHandler(f *testing.F) {
	s := newTestShard(f, ShardConfig{ControlToken: "tok", StockPerSKU: 3})
	cart := inProcessCart(f, s)
	for _, c := range [][4]string{
		{"POST", "/v1/carts/" + cart + "/items", `{"sku":"a","qty":2}`, ""},
		{"POST", "/v1/carts/" + cart + "/checkout", checkoutBody, "k1"},
		{"DELETE", "/v1/carts/" + cart + "/items/a", "", ""},
		{"GET", "/v1/inventory/a", "", ""},
		{"POST", "/v1/shipping/quotes", `{"cart_id":"` + cart + `","destinations":["US"]}`, ""},
		{"GET", "/v1/orders/o0-1", "", ""},
		{"POST", "/v1/carts", `{"customer_id":"a","region":"b"}`, ""},
		{"POST", "/internal/chaos", `{"inventory_failed":true}`, ""},
		{"GET", "/v1/carts/c0-", "", ""},
	} {
		f.Add(c[0], c[1], c[2], c[3])
	}
	f.Fuzz(func(t *testing.T, method, path, body, key string) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(path)
		ctx.Request.SetBodyString(body)
		if key != "" {
			ctx.Request.Header.Set("Idempotency-Key", key)
		}
		s.handle(&ctx)
		st := ctx.Response.StatusCode()
		if st >= 500 {
			t.Fatalf("%s %q %q: status %d %s", method, path, body, st, ctx.Response.Body())
		}
		if b := ctx.Response.Body(); len(b) > 0 && string(ctx.Path()) != "/metrics" {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %q: answer is not a JSON object: %v: %s", method, path, err, b)
			}
			if st >= 400 {
				if e, _ := m["error"].(string); e == "" {
					t.Fatalf("%s %q: error answer without message: %s", method, path, b)
				}
			}
		}
	})
}
