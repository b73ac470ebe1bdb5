package target

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// answer is a decoded HTTP answer.
type answer struct {
	status int
	body   []byte
	json   map[string]any
}

func (a answer) str(key string) string {
	s, _ := a.json[key].(string)
	return s
}

var testClient = &http.Client{Timeout: 10 * time.Second}

// call sends one request to s and decodes the JSON answer; headers come in name, value pairs.
func call(t testing.TB, s *Shard, method, path, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	a := answer{status: resp.StatusCode, body: b}
	if len(b) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.json); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, b)
		}
	}
	return a
}

// expect fails the test unless a has status want.
func expect(t testing.TB, a answer, want int, what string) {
	t.Helper()
	if a.status != want {
		t.Fatalf("%s: status %d, want %d: %s", what, a.status, want, a.body)
	}
}

// expectError fails unless a is status want with an error message containing msg.
func expectError(t testing.TB, a answer, want int, msg string) {
	t.Helper()
	expect(t, a, want, msg)
	if e := a.str("error"); !strings.Contains(e, msg) {
		t.Fatalf("error %q does not contain %q", e, msg)
	}
}

func newCart(t testing.TB, s *Shard) string {
	t.Helper()
	a := call(t, s, "POST", "/v1/carts", `{"customer_id":"cust-1","region":"us-east"}`)
	expect(t, a, 201, "create cart")
	return a.str("cart_id")
}

func addItem(t testing.TB, s *Shard, cart, sku string, qty int) answer {
	t.Helper()
	return call(t, s, "POST", "/v1/carts/"+cart+"/items", fmt.Sprintf(`{"sku":%q,"qty":%d}`, sku, qty))
}

const checkoutBody = `{"destination":"DE","carrier":"dhl","speed":"standard"}`

func checkout(t testing.TB, s *Shard, cart, key string) answer {
	t.Helper()
	return call(t, s, "POST", "/v1/carts/"+cart+"/checkout", checkoutBody, "Idempotency-Key", key)
}

func TestHappyPath(t *testing.T) {
	s := newTestShard(t, ShardConfig{ID: 3, Region: "eu-west", StockPerSKU: 10, OrderRate: 1000})

	h := call(t, s, "GET", "/healthz", "")
	expect(t, h, 200, "healthz")
	if h.str("status") != "ok" || h.json["shard"] != 3.0 || h.str("region") != "eu-west" {
		t.Fatalf("healthz: %s", h.body)
	}

	c := call(t, s, "POST", "/v1/carts", `{"customer_id":"alice","region":"eu-west"}`)
	expect(t, c, 201, "create cart")
	cart := c.str("cart_id")
	if !strings.HasPrefix(cart, "c3-") || c.json["shard"] != 3.0 {
		t.Fatalf("cart id %q / shard %v: want c3-... on shard 3", cart, c.json["shard"])
	}

	a := addItem(t, s, cart, "sku-1", 4)
	expect(t, a, 200, "add sku-1")
	if a.str("mode") != "in_stock" || a.json["total_qty"] != 4.0 {
		t.Fatalf("add sku-1: %s", a.body)
	}
	a = addItem(t, s, cart, "sku-2", 2)
	expect(t, a, 200, "add sku-2")
	a = addItem(t, s, cart, "sku-1", 1)
	if a.json["total_qty"] != 7.0 || len(a.json["items"].([]any)) != 2 {
		t.Fatalf("add sku-1 again: %s", a.body)
	}

	inv := call(t, s, "GET", "/v1/inventory/sku-1", "")
	expect(t, inv, 200, "inventory")
	if inv.json["available"] != 5.0 || inv.json["degraded"] != false {
		t.Fatalf("inventory after reserving 5 of 10: %s", inv.body)
	}

	r := call(t, s, "DELETE", "/v1/carts/"+cart+"/items/sku-2", "")
	expect(t, r, 200, "remove")
	if r.json["total_qty"] != 5.0 || len(r.json["items"].([]any)) != 1 {
		t.Fatalf("remove: %s", r.body)
	}
	if got := call(t, s, "GET", "/v1/inventory/sku-2", "").json["available"]; got != 10.0 {
		t.Fatalf("removing an item must give its stock back: available %v, want 10", got)
	}
	g := call(t, s, "GET", "/v1/carts/"+cart, "")
	expect(t, g, 200, "get cart")
	if g.json["total_qty"] != 5.0 {
		t.Fatalf("get cart: %s", g.body)
	}

	q := call(t, s, "POST", "/v1/shipping/quotes",
		`{"cart_id":"`+cart+`","destinations":["IE","JP","94105"],"carriers":["ups","dhl"],"speeds":["economy","express","overnight"]}`)
	expect(t, q, 200, "quotes")
	quotes := q.json["quotes"].([]any)
	if len(quotes) != 3*2*3 {
		t.Fatalf("quotes: %d, want 18 (every permutation)", len(quotes))
	}
	first := quotes[0].(map[string]any)
	if first["destination"] != "IE" || first["carrier"] != "ups" || first["speed"] != "economy" {
		t.Fatalf("first quote: %v", first)
	}
	// The rate model: faster costs more, farther costs more and takes no less time.
	price := func(i int) float64 { return quotes[i].(map[string]any)["price_cents"].(float64) }
	eta := func(i int) float64 { return quotes[i].(map[string]any)["eta_days"].(float64) }
	if !(price(0) < price(1) && price(1) < price(2)) {
		t.Fatalf("economy < express < overnight prices: %v %v %v", price(0), price(1), price(2))
	}
	if !(price(0) < price(6)) || eta(0) > eta(6) {
		t.Fatalf("IE from eu-west must be cheaper and no slower than JP: %v", q.body)
	}
	q2 := call(t, s, "POST", "/v1/shipping/quotes",
		`{"cart_id":"`+cart+`","destinations":["IE","JP","94105"],"carriers":["ups","dhl"],"speeds":["economy","express","overnight"]}`)
	if !bytes.Equal(q.body, q2.body) {
		t.Fatalf("quotes are not deterministic:\n%s\n%s", q.body, q2.body)
	}
	all := call(t, s, "POST", "/v1/shipping/quotes", `{"cart_id":"`+cart+`","destinations":["US"]}`)
	if n := len(all.json["quotes"].([]any)); n != len(carrierNames)*len(speedNames) {
		t.Fatalf("carriers and speeds default to all: %d quotes", n)
	}

	co := checkout(t, s, cart, "key-1")
	expect(t, co, 202, "checkout")
	order := co.str("order_id")
	if !strings.HasPrefix(order, "o3-") || co.str("status") != "processing" {
		t.Fatalf("checkout: %s", co.body)
	}
	if g := call(t, s, "GET", "/v1/carts/"+cart, ""); g.json["total_qty"] != 0.0 {
		t.Fatalf("checkout moves the items into the order; cart still has %s", g.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		o := call(t, s, "GET", "/v1/orders/"+order, "")
		expect(t, o, 200, "order status")
		if o.str("status") == "created" {
			if o.str("destination") != "DE" || len(o.json["items"].([]any)) != 1 {
				t.Fatalf("order: %s", o.body)
			}
			break
		}
		if o.str("status") != "processing" || time.Now().After(deadline) {
			t.Fatalf("order never created: %s", o.body)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The worker counts an order once its transaction has returned, a moment
	// after readers can see it: wait for the count.
	m := call(t, s, "GET", "/metrics", "")
	for wait := time.Now().Add(2 * time.Second); !strings.Contains(string(m.body), "orders_created_total{region=\"eu-west\",shard=\"3\"} 1") && time.Now().Before(wait); {
		time.Sleep(5 * time.Millisecond)
		m = call(t, s, "GET", "/metrics", "")
	}
	expect(t, m, 200, "metrics")
	for _, want := range []string{
		`agentstorm_target_requests_total{code="2xx",region="eu-west",route="add_item",shard="3"} 3`,
		`agentstorm_target_orders_created_total{region="eu-west",shard="3"} 1`,
		`agentstorm_target_orders_accepted_total{region="eu-west",shard="3"} 1`,
		`agentstorm_target_orders_preorder_total{region="eu-west",shard="3"} 0`,
		`agentstorm_target_order_queue_depth{region="eu-west",shard="3"} 0`,
		`agentstorm_target_inventory_failed{region="eu-west",shard="3"} 0`,
		`agentstorm_target_orders_paused{region="eu-west",shard="3"} 0`,
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestBadInput(t *testing.T) {
	s := newTestShard(t, ShardConfig{ControlToken: "tok"})
	cart := newCart(t, s)
	items := "/v1/carts/" + cart + "/items"
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		msg                      string
	}{
		{"malformed JSON", "POST", items, `{"sku":"a","qty":1`, nil, 400, "malformed JSON"},
		{"not an object", "POST", items, `[1,2]`, nil, 400, "must be a JSON object"},
		{"empty body", "POST", items, ``, nil, 400, "empty body"},
		{"unknown field", "POST", items, `{"sku":"a","qty":1,"price":3}`, nil, 400, `unknown field "price"`},
		{"duplicate field", "POST", items, `{"sku":"a","qty":1,"qty":2}`, nil, 400, `duplicate field "qty"`},
		{"missing qty", "POST", items, `{"sku":"a"}`, nil, 400, `missing field "qty"`},
		{"missing sku", "POST", items, `{"qty":1}`, nil, 400, `missing field "sku"`},
		{"qty too big", "POST", items, `{"sku":"a","qty":100}`, nil, 400, "between 1 and 99, got 100"},
		{"qty zero", "POST", items, `{"sku":"a","qty":0}`, nil, 400, "between 1 and 99, got 0"},
		{"qty fraction", "POST", items, `{"sku":"a","qty":1.5}`, nil, 400, `"qty" must be an integer`},
		{"qty string", "POST", items, `{"sku":"a","qty":"1"}`, nil, 400, `"qty" must be an integer`},
		{"sku type", "POST", items, `{"sku":7,"qty":1}`, nil, 400, `"sku" must be a string`},
		{"sku chars", "POST", items, `{"sku":"a b","qty":1}`, nil, 400, `"sku" must be 1..64`},
		{"unknown cart", "POST", "/v1/carts/c0-999/items", `{"sku":"a","qty":1}`, nil, 404, `unknown cart "c0-999"`},
		{"misrouted cart", "POST", "/v1/carts/c7-1/items", `{"sku":"a","qty":1}`, nil, 404, "belongs to shard 7"},
		{"garbage cart id", "POST", "/v1/carts/zzz/items", `{"sku":"a","qty":1}`, nil, 404, `unknown cart "zzz"`},
		{"wrong method", "GET", items, ``, nil, 405, "method GET not allowed"},
		{"wrong method carts", "PUT", "/v1/carts", ``, nil, 405, "use POST"},
		{"no route", "GET", "/nope", ``, nil, 404, "no route for GET /nope"},
		{"create cart missing region", "POST", "/v1/carts", `{"customer_id":"x"}`, nil, 400, `missing field "region"`},
		{"create cart empty id", "POST", "/v1/carts", `{"customer_id":"","region":"x"}`, nil, 400, `"customer_id": must not be empty`},
		{"unknown order", "GET", "/v1/orders/o0-12345", ``, nil, 404, `unknown order "o0-12345"`},
		{"misrouted order", "GET", "/v1/orders/o2-1", ``, nil, 404, "belongs to shard 2"},
		{"bad inventory sku", "GET", "/v1/inventory/a%20b", ``, nil, 400, "must be 1..64"},
		{"remove absent", "DELETE", items + "/nothere", ``, nil, 404, `sku "nothere" is not in cart`},
		{"checkout no key", "POST", "/v1/carts/" + cart + "/checkout", checkoutBody, nil, 400, "missing Idempotency-Key"},
		{"checkout empty cart", "POST", "/v1/carts/" + cart + "/checkout", checkoutBody, []string{"Idempotency-Key", "k"}, 409, "is empty"},
		{"checkout bad carrier", "POST", "/v1/carts/" + cart + "/checkout", `{"destination":"DE","carrier":"owl","speed":"standard"}`, []string{"Idempotency-Key", "k"}, 400, `carrier "owl" is not known`},
		{"checkout bad destination", "POST", "/v1/carts/" + cart + "/checkout", `{"destination":"XX","carrier":"ups","speed":"standard"}`, []string{"Idempotency-Key", "k"}, 400, `destination "XX" is not a known destination`},
		{"checkout missing speed", "POST", "/v1/carts/" + cart + "/checkout", `{"destination":"DE","carrier":"ups"}`, []string{"Idempotency-Key", "k"}, 400, `missing field "speed"`},
		{"quotes no destinations", "POST", "/v1/shipping/quotes", `{"cart_id":"` + cart + `","destinations":[]}`, nil, 400, `"destinations" must not be empty`},
		{"quotes bad speed", "POST", "/v1/shipping/quotes", `{"cart_id":"` + cart + `","destinations":["US"],"speeds":["warp"]}`, nil, 400, `speeds[0] "warp" is not known`},
		{"quotes unknown cart", "POST", "/v1/shipping/quotes", `{"cart_id":"c0-5","destinations":["US"]}`, nil, 404, "unknown cart"},
		{"chaos no token", "POST", "/internal/chaos", `{}`, nil, 401, "bearer token"},
		{"chaos wrong token", "POST", "/internal/chaos", `{}`, []string{"Authorization", "Bearer nope"}, 401, "bearer token"},
		{"chaos bad body", "POST", "/internal/chaos", `{"inventory_failed":true,"x":1}`, []string{"Authorization", "Bearer tok"}, 400, `unknown field "x"`},
		{"chaos bad duration", "POST", "/internal/chaos", `{"latency":[{"fixed":"soon"}]}`, []string{"Authorization", "Bearer tok"}, 400, `duration "soon"`},
		{"chaos negative", "POST", "/internal/chaos", `{"latency":[{"fixed":"-1s"}]}`, []string{"Authorization", "Bearer tok"}, 400, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := call(t, s, tc.method, tc.path, tc.body, tc.headers...)
			expectError(t, a, tc.status, tc.msg)
		})
	}
	// The shard still works after all that.
	expect(t, addItem(t, s, cart, "ok", 1), 200, "add after bad input")
}

func TestChaosDisabledWithoutToken(t *testing.T) {
	s := newTestShard(t, ShardConfig{})
	expectError(t, call(t, s, "POST", "/internal/chaos", `{}`, "Authorization", "Bearer "), 404, "disabled")
}

func TestIdempotentCheckout(t *testing.T) {
	s := newTestShard(t, ShardConfig{OrderRate: 1})
	cart := newCart(t, s)
	expect(t, addItem(t, s, cart, "sku-1", 2), 200, "add")
	first := checkout(t, s, cart, "same-key")
	expect(t, first, 202, "checkout")
	// The retry (even after adding more to the cart) returns the same order and leaves the
	// new items in the cart.
	expect(t, addItem(t, s, cart, "sku-2", 1), 200, "add after checkout")
	again := checkout(t, s, cart, "same-key")
	expect(t, again, 202, "retried checkout")
	if again.str("order_id") != first.str("order_id") || again.json["replayed"] != true {
		t.Fatalf("retry: %s, first: %s", again.body, first.body)
	}
	if g := call(t, s, "GET", "/v1/carts/"+cart, ""); g.json["total_qty"] != 1.0 {
		t.Fatalf("a replayed checkout must not take the cart's items: %s", g.body)
	}
	other := checkout(t, s, cart, "other-key")
	expect(t, other, 202, "second checkout")
	if other.str("order_id") == first.str("order_id") {
		t.Fatal("a different key must make a different order")
	}

	// A key reused for another cart, or for the same cart with other shipping choices, is
	// refused (422) rather than replaying the first order; the cart keeps its items.
	cart3 := newCart(t, s)
	expect(t, addItem(t, s, cart3, "sku-1", 1), 200, "add")
	reused := checkout(t, s, cart3, "same-key")
	expectError(t, reused, 422, "already used for order "+first.str("order_id"))
	if g := call(t, s, "GET", "/v1/carts/"+cart3, ""); g.json["total_qty"] != 1.0 {
		t.Fatalf("a refused checkout must leave the cart's items: %s", g.body)
	}
	otherSpeed := call(t, s, "POST", "/v1/carts/"+cart+"/checkout", `{"destination":"DE","carrier":"dhl","speed":"express"}`, "Idempotency-Key", "same-key")
	expectError(t, otherSpeed, 422, "this request differs")
	ok3 := checkout(t, s, cart3, "key-3")
	expect(t, ok3, 202, "checkout with a new key")

	// Concurrent checkouts with one key make one order.
	cart2 := newCart(t, s)
	expect(t, addItem(t, s, cart2, "sku-1", 1), 200, "add")
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := checkout(t, s, cart2, "race-key")
			if a.status == 202 {
				ids[i] = a.str("order_id")
			}
		}()
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("concurrent retries got different orders: %v", ids)
		}
	}
	if got := s.store.accepted.Load(); got != 4 {
		t.Fatalf("orders accepted: %d, want 4", got)
	}
}

func TestStockRunsOutToPreorder(t *testing.T) {
	s := newTestShard(t, ShardConfig{StockPerSKU: 5})
	cart := newCart(t, s)
	if a := addItem(t, s, cart, "hot", 5); a.str("mode") != "in_stock" {
		t.Fatalf("first 5 are in stock: %s", a.body)
	}
	a := addItem(t, s, cart, "hot", 1)
	expect(t, a, 200, "add beyond stock")
	if a.str("mode") != "preorder" {
		t.Fatalf("beyond stock must be preorder: %s", a.body)
	}
	item := a.json["items"].([]any)[0].(map[string]any)
	if item["qty"] != 6.0 || item["preorder_qty"] != 1.0 {
		t.Fatalf("item: %v", item)
	}
	inv := call(t, s, "GET", "/v1/inventory/hot", "")
	if inv.json["available"] != 0.0 || inv.str("mode") != "preorder" {
		t.Fatalf("inventory: %s", inv.body)
	}
	co := checkout(t, s, cart, "k")
	expect(t, co, 202, "checkout with preorder")
	if co.json["preorder"] != true {
		t.Fatalf("checkout: %s", co.body)
	}
	m := call(t, s, "GET", "/metrics", "")
	if !regexp.MustCompile(`(?m)^agentstorm_target_orders_preorder_total\{[^}]*\} 1$`).Match(m.body) {
		t.Errorf("the pre-ordered order is not counted:\n%s", m.body)
	}
}

func pushChaos(t *testing.T, s *Shard, c ChaosState) {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	a := call(t, s, "POST", "/internal/chaos", string(b), "Authorization", "Bearer "+s.cfg.ControlToken)
	expect(t, a, 204, "push chaos")
}

func TestChaosInventoryFailed(t *testing.T) {
	s := newTestShard(t, ShardConfig{ControlToken: "secret"})
	cart := newCart(t, s)
	pushChaos(t, s, ChaosState{InventoryFailed: true})
	a := addItem(t, s, cart, "sku-1", 3)
	expect(t, a, 200, "add with inventory failed")
	if a.str("mode") != "preorder" {
		t.Fatalf("mode: %s", a.body)
	}
	inv := call(t, s, "GET", "/v1/inventory/sku-1", "")
	expect(t, inv, 200, "inventory while failed")
	if inv.json["available"] != 0.0 || inv.json["degraded"] != true {
		t.Fatalf("inventory while failed: %s", inv.body)
	}
	expect(t, checkout(t, s, cart, "k1"), 202, "checkout of a preorder")
	got := call(t, s, "GET", "/internal/chaos", "", "Authorization", "Bearer secret")
	expect(t, got, 200, "get chaos")
	if got.json["inventory_failed"] != true {
		t.Fatalf("chaos state: %s", got.body)
	}
	if m := call(t, s, "GET", "/metrics", ""); !strings.Contains(string(m.body), "agentstorm_target_inventory_failed{region=\"us-east\",shard=\"0\"} 1") {
		t.Fatal("metrics do not show inventory_failed 1")
	}
	pushChaos(t, s, ChaosState{})
	if a := addItem(t, s, cart, "sku-1", 1); a.str("mode") != "in_stock" {
		t.Fatalf("after restore: %s", a.body)
	}
}

func TestChaosLatency(t *testing.T) {
	s := newTestShard(t, ShardConfig{ControlToken: "secret", ExtraRTT: 20 * time.Millisecond})
	timed := func(path string) time.Duration {
		start := time.Now()
		expect(t, call(t, s, "GET", path, ""), 200, path)
		return time.Since(start)
	}
	if d := timed("/healthz"); d < 20*time.Millisecond {
		t.Fatalf("ExtraRTT 20ms: healthz took %v", d)
	}
	pushChaos(t, s, ChaosState{Latency: []LatencyRule{
		{PathPrefix: "/v1/inventory/", Fixed: Duration(150 * time.Millisecond), Jitter: Duration(50 * time.Millisecond)},
	}})
	if d := timed("/v1/inventory/a"); d < 170*time.Millisecond {
		t.Fatalf("rule 150ms + RTT 20ms: inventory took %v", d)
	}
	// Rules are pushed whole: an empty state clears them.
	pushChaos(t, s, ChaosState{})
	if d := timed("/v1/inventory/a"); d > 150*time.Millisecond {
		t.Logf("after clearing (a loaded machine may be slow): %v", d)
	}
	if n := len(s.Chaos().Latency); n != 0 {
		t.Fatalf("latency rules after clearing: %d", n)
	}
}

func TestWorkerRateAndPause(t *testing.T) {
	s := newTestShard(t, ShardConfig{ControlToken: "secret", OrderRate: 40})
	pushChaos(t, s, ChaosState{OrdersPaused: true})
	const n = 20
	for i := 0; i < n; i++ {
		cart := newCart(t, s)
		expect(t, addItem(t, s, cart, "sku", 1), 200, "add")
		expect(t, checkout(t, s, cart, fmt.Sprintf("k%d", i)), 202, "checkout")
	}
	time.Sleep(150 * time.Millisecond)
	if c := s.store.created.Load(); c != 0 {
		t.Fatalf("paused worker created %d orders", c)
	}
	if q := s.store.queued.Load(); q != n {
		t.Fatalf("queue depth %d, want %d", q, n)
	}
	start := time.Now()
	pushChaos(t, s, ChaosState{})
	deadline := start.Add(10 * time.Second)
	for s.store.created.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("created %d of %d in 10s at 40/s", s.store.created.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	// 20 orders at 40/s with a burst of 4: about 0.4 s. Bounded loosely for a busy machine.
	if took < 300*time.Millisecond {
		t.Fatalf("20 orders at 40/s took only %v: the rate is not held", took)
	}
	if q := s.store.queued.Load(); q != 0 {
		t.Fatalf("queue depth %d after all created", q)
	}
}

func TestDurableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := ShardConfig{DataDir: dir, OrderRate: 2000, ControlToken: "t", Logf: t.Logf}
	s1, err := StartShard(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s1.SetChaos(ChaosState{OrdersPaused: true})
	const n = 50
	ids := make([]string, n)
	carts := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cart := newCart(t, s1)
			carts[i] = cart
			addItem(t, s1, cart, "sku", 1)
			a := checkout(t, s1, cart, fmt.Sprintf("key-%d", i))
			if a.status == 202 {
				ids[i] = a.str("order_id")
			}
		}()
	}
	wg.Wait()
	t0 := time.Now()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("close s1: %v", time.Since(t0))
	// Reopen on the same data: every accepted order is there, queued, and is created once.
	s2, err := StartShard(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if q := s2.store.queued.Load(); q != n {
		t.Fatalf("queue after restart: %d, want %d", q, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s2.store.created.Load() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	seen := map[string]bool{}
	for i, id := range ids {
		if id == "" {
			t.Fatalf("checkout %d was not accepted", i)
		}
		if seen[id] {
			t.Fatalf("order id %s given twice", id)
		}
		seen[id] = true
		o := call(t, s2, "GET", "/v1/orders/"+id, "")
		expect(t, o, 200, "order after restart")
		if o.str("status") != "created" || o.str("idempotency_key") != fmt.Sprintf("key-%d", i) {
			t.Fatalf("order %s: %s", id, o.body)
		}
	}
	// A retry of an old checkout after the restart is still recognised, though its cart
	// (kept in memory) is gone.
	if a := checkout(t, s2, carts[7], "key-7"); a.str("order_id") != ids[7] {
		t.Fatalf("retry after restart: %s, want %s", a.body, ids[7])
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// A third start finds nothing left to create: each order was created exactly once.
	s3, err := StartShard(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	time.Sleep(50 * time.Millisecond)
	if q, c := s3.store.queued.Load(), s3.store.created.Load(); q != 0 || c != 0 {
		t.Fatalf("third start: queued %d, created %d; want 0, 0", q, c)
	}
	// New orders continue the numbering.
	cart := newCart(t, s3)
	addItem(t, s3, cart, "sku", 1)
	if id := checkout(t, s3, cart, "new").str("order_id"); seen[id] {
		t.Fatalf("new order reused id %s", id)
	}
}

func TestCloseRightAfterStart(t *testing.T) {
	for i := 0; i < 20; i++ {
		s, err := StartShard(ShardConfig{DataDir: t.TempDir(), Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close right after StartShard hung")
		}
	}
}

func TestWorkerRejectsOverPurchaseLimit(t *testing.T) {
	s := newTestShard(t, ShardConfig{OrderRate: 1000, StockPerSKU: 10})
	cart := newCart(t, s)
	for added := 0; added <= MaxUnitsPerSKUPerOrder; added += 99 {
		expect(t, addItem(t, s, cart, "drop", 99), 200, "add")
	}
	big := checkout(t, s, cart, "big")
	expect(t, big, 202, "checkout over the limit is accepted, then judged by the worker")
	small := newCart(t, s)
	expect(t, addItem(t, s, small, "drop", 2), 200, "add")
	ok := checkout(t, s, small, "small")
	deadline := time.Now().Add(5 * time.Second)
	for s.store.queued.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	o := call(t, s, "GET", "/v1/orders/"+big.str("order_id"), "")
	if o.str("status") != "rejected" || !strings.Contains(o.str("reject_reason"), "exceed the limit of 500") {
		t.Fatalf("order over the limit: %s", o.body)
	}
	if o := call(t, s, "GET", "/v1/orders/"+ok.str("order_id"), ""); o.str("status") != "created" {
		t.Fatalf("order within the limit: %s", o.body)
	}
	if r, c := s.store.rejected.Load(), s.store.created.Load(); r != 1 || c != 1 {
		t.Fatalf("rejected %d created %d, want 1 and 1", r, c)
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := newTestShard(t, ShardConfig{})
	cart := newCart(t, s)
	// Only the headers and a little of the body are sent: the shard must refuse on the
	// declared length alone (a client writing all of it may see the connection reset).
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "POST /v1/carts/%s/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"sku\":\"", cart, MaxBodySize+1)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(body), "over the limit of 65536 bytes") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// Exactly at the limit is fine (and a bad body then gets its own message).
	a := call(t, s, "POST", "/v1/carts/"+cart+"/items", `{"sku":"`+strings.Repeat("a", MaxBodySize-22)+`","qty":1}`)
	expectError(t, a, 400, `"sku" must be 1..64`)
}
