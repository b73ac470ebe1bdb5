package profiles

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func mustBuiltin(t testing.TB, name string) *Profile {
	t.Helper()
	p, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parseBoth parses raw with net/http and fasthttp and returns the body.
func parseBoth(t *testing.T, raw []byte) (*http.Request, []byte) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("net/http cannot parse %q: %v", raw, err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	var fr fasthttp.Request
	br := bufio.NewReader(bytes.NewReader(raw))
	if err := fr.Read(br); err != nil {
		t.Fatalf("fasthttp cannot parse %q: %v", raw, err)
	}
	if !bytes.Equal(fr.Body(), body) || string(fr.Header.Method()) != req.Method || string(fr.RequestURI()) != req.RequestURI {
		t.Errorf("parsers disagree on %q", raw)
	}
	if br.Buffered() != 0 {
		t.Errorf("%d bytes left after the request", br.Buffered())
	}
	return req, body
}

func TestAppendRequestIsValidHTTP(t *testing.T) {
	for _, name := range []string{"smoke", "agent-storm", "flash-drop", "pricing-error", "legacy-browse"} {
		p := mustBuiltin(t, name)
		c := newTestContext(p)
		for _, v := range p.VarNames {
			c.Vars.Set(p.vars(v), []byte("v-"+v))
		}
		for _, f := range p.Flows {
			for _, s := range f.Steps {
				for perm := 0; perm < s.Permutations; perm++ {
					c.Perm = perm
					c.StartExecution()
					raw := s.AppendRequest(nil, "shop.test:8080", c)
					req, body := parseBoth(t, raw)
					if req.Method != s.Method || req.Host != "shop.test:8080" || req.UserAgent() != "agentstorm" || req.Proto != "HTTP/1.1" {
						t.Errorf("%s/%s: bad request line or headers: %q", name, s.Name, raw)
					}
					if len(body) > 0 {
						if req.Header.Get("Content-Type") != "application/json" || !json.Valid(body) {
							t.Errorf("%s/%s: body is not JSON: %q", name, s.Name, body)
						}
					}
					if s.Name == "checkout" && len(req.Header.Get("Idempotency-Key")) != 36 {
						t.Errorf("%s/%s: no Idempotency-Key: %q", name, s.Name, raw)
					}
				}
			}
		}
	}
}

// vars returns the slot of a variable (test helper).
func (p *Profile) vars(name string) int {
	for i, n := range p.VarNames {
		if n == name {
			return i
		}
	}
	return -1
}

func TestIdempotencyKeyReusedOnRetry(t *testing.T) {
	p := mustBuiltin(t, "agent-storm")
	s := p.Flow("buyer").Steps[4]
	c := newTestContext(p)
	c.Vars.Set(p.vars("cart_id"), []byte("c1"))
	key := func() string {
		req, _ := parseBoth(t, s.AppendRequest(nil, "h", c))
		return req.Header.Get("Idempotency-Key")
	}
	c.StartExecution()
	k1 := key()
	if k2 := key(); k2 != k1 || string(c.IdempotencyKey()) != k1 {
		t.Errorf("retry changed the key: %s then %s", k1, k2)
	}
	c.StartExecution()
	if k3 := key(); k3 == k1 {
		t.Errorf("a new execution kept the key %s", k1)
	}
}

func TestSetVariablesOncePerExecution(t *testing.T) {
	p := mustBuiltin(t, "smoke")
	add, remove := p.Flows[0].Steps[1], p.Flows[0].Steps[2]
	c := newTestContext(p)
	c.Vars.Set(p.vars("cart_id"), []byte("c1"))
	c.StartExecution()
	_, body := parseBoth(t, add.AppendRequest(nil, "h", c))
	var b struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}
	if err := json.Unmarshal(body, &b); err != nil || !strings.HasPrefix(b.SKU, "sku-") || b.Qty < 1 || b.Qty > 3 {
		t.Fatalf("body %s: %v", body, err)
	}
	for i := 0; i < 5; i++ { // retries render the same item
		_, again := parseBoth(t, add.AppendRequest(nil, "h", c))
		var b2 struct{ SKU string }
		json.Unmarshal(again, &b2)
		if b2.SKU != b.SKU {
			t.Fatalf("retry changed the set: item %s then %s", b.SKU, b2.SKU)
		}
	}
	c.StartExecution()
	req, _ := parseBoth(t, remove.AppendRequest(nil, "h", c))
	if req.URL.Path != "/v1/carts/c1/items/"+b.SKU {
		t.Errorf("remove path %s, want the added item %s", req.URL.Path, b.SKU)
	}
}

func TestPermutationsEachAndSingle(t *testing.T) {
	p := mustBuiltin(t, "smoke")
	q := stepNamed(p.Flows[0], "shipping_quote")
	if q.Name != "shipping_quote" || q.Permutations != 4 {
		t.Fatalf("step %s has %d permutations, want 4", q.Name, q.Permutations)
	}
	c := newTestContext(p)
	seen := map[string]bool{}
	for i := 0; i < q.Permutations; i++ {
		c.Perm = i
		c.StartExecution()
		_, body := parseBoth(t, q.AppendRequest(nil, "h", c))
		var b struct{ Destinations, Speeds []string }
		json.Unmarshal(body, &b)
		seen[b.Destinations[0]+"/"+b.Speeds[0]] = true
	}
	for _, k := range []string{"10001/standard", "10001/express", "JP/standard", "JP/express"} {
		if !seen[k] {
			t.Errorf("combination %s never sent; saw %v", k, seen)
		}
	}
	as := mustBuiltin(t, "agent-storm")
	single := as.Flow("buyer").Steps[3]
	if single.Permutations != 1 {
		t.Fatalf("single mode has %d permutations", single.Permutations)
	}
	_, body := parseBoth(t, single.AppendRequest(nil, "h", newTestContext(as)))
	var b struct{ Destinations, Carriers, Speeds []string }
	if err := json.Unmarshal(body, &b); err != nil || len(b.Destinations)*len(b.Carriers)*len(b.Speeds) != 12 {
		t.Errorf("single body %s: %v", body, err)
	}
}

func TestEscaping(t *testing.T) {
	src := strings.Replace(validSrc, "path: /y/{{id}}", `path: /y/{{id}}?q={{id}}
        headers: {X-Id: "{{id}}"}
        body: {s: "{{id}}", n: "{{int 7 7}}", lit: "a\"b", list: [1, true, null, 2.5]}`, 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestContext(p)
	c.Vars.Set(0, []byte("a b/\"c\"\r\nX-Evil: 1"))
	raw := p.Flows[0].Steps[1].AppendRequest(nil, "h", c)
	req, body := parseBoth(t, raw)
	if req.URL.Query().Get("q") != "a b/\"c\"\r\nX-Evil: 1" || req.URL.Path != "/y/a b/\"c\"\r\nX-Evil: 1" {
		t.Errorf("path/query not escaped as one component: %q", req.RequestURI)
	}
	if req.Header.Get("X-Evil") != "" || req.Header.Get("X-Id") == "" {
		t.Errorf("header injection: %q", raw)
	}
	var b map[string]any
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if b["s"] != "a b/\"c\"\r\nX-Evil: 1" || b["n"] != 7.0 || b["lit"] != `a"b` {
		t.Errorf("body = %v", b)
	}
	// A path that is one captured variable keeps its slashes and query.
	src = strings.Replace(validSrc, "path: /y/{{id}}", "path: \"{{id}}\"", 1)
	p, err = Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	c = newTestContext(p)
	c.Vars.Set(0, []byte("/v1/orders/o 1?x=1"))
	c.PathPrefix = "/api"
	req, _ = parseBoth(t, p.Flows[0].Steps[1].AppendRequest(nil, "h", c))
	if req.RequestURI != "/api/v1/orders/o%201?x=1" {
		t.Errorf("request URI %q", req.RequestURI)
	}
}

func TestCaptureAndCheck(t *testing.T) {
	src := strings.Replace(validSrc, "capture: {id: $.id}", `capture: {id: "$.data.items[1].id", loc: {header: Location}}
        expect: {status: [201, 202], json: {state: [ok, fine], "data.n": 3, flag: true}, body: items}`, 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Flows[0].Steps[0]
	c := newTestContext(p)
	body := []byte(`{"state":"fine","flag":true,"data":{"n":3,"items":[{"id":"x"},{"id":"it\"2"}]}}`)
	hdr := func(name string) []byte {
		if name == "Location" {
			return []byte("/o/1")
		}
		return nil
	}
	if ok, f := s.Check(202, body); !ok {
		t.Errorf("Check failed: %s", f)
	}
	if err := s.Capture(body, hdr, c); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Vars.Get(p.vars("id")); !ok || string(v) != `it"2` {
		t.Errorf("id = %q", v)
	}
	if v, _ := c.Vars.Get(p.vars("loc")); string(v) != "/o/1" {
		t.Errorf("loc = %q", v)
	}
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{200, string(body), "status"},
		{201, `{"state":"bad","flag":true,"data":{"n":3},"items":1}`, "json:state"},
		{201, `{"state":"ok","flag":true,"data":{"n":4},"items":1}`, "json:data.n"},
		{201, `{"state":"ok","flag":true,"data":{"n":3.5},"items":1}`, "json:data.n"},
		{201, `{"state":"ok","flag":false,"data":{"n":3},"items":1}`, "json:flag"},
		{201, `{"state":"ok","flag":true,"data":{"n":3}}`, "body"},
	} {
		if ok, f := s.Check(tc.status, []byte(tc.body)); ok || f != tc.want {
			t.Errorf("Check(%d, %s) = %v %q, want %q", tc.status, tc.body, ok, f, tc.want)
		}
	}
	if err := s.Capture([]byte(`{}`), hdr, c); err == nil || !strings.Contains(err.Error(), "capture id") {
		t.Errorf("missing capture error = %v", err)
	}
	for _, n := range []string{`3.0`, `"3"`} { // numerically, and as text
		if ok, f := s.Check(201, []byte(`{"state":"ok","flag":true,"data":{"n":`+n+`},"items":1}`)); !ok {
			t.Errorf("n=%s should match 3: %s", n, f)
		}
	}
	// Default expectation: any 2xx.
	if ok, _ := p.Flows[0].Steps[1].Check(204, nil); !ok {
		t.Error("204 should pass by default")
	}
	if ok, _ := p.Flows[0].Steps[1].Check(404, nil); ok {
		t.Error("404 should fail by default")
	}
}

func TestAppendRequestZeroAllocs(t *testing.T) {
	p := mustBuiltin(t, "smoke")
	c := newTestContext(p)
	c.Vars.Set(p.vars("cart_id"), []byte("c-123"))
	steps := p.Flows[0].Steps
	buf := make([]byte, 0, 4096)
	for _, s := range steps {
		c.StartExecution()
		buf = s.AppendRequest(buf[:0], "h", c)
	}
	allocs := testing.AllocsPerRun(200, func() {
		for _, s := range steps {
			c.StartExecution()
			buf = s.AppendRequest(buf[:0], "127.0.0.1:8080", c)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendRequest allocates %v times per flow", allocs)
	}
}

func TestPopulationDraws(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fd := mustBuiltin(t, "flash-drop").Population
	hot := 0
	const n = 20000
	for i := 0; i < n; i++ {
		if string(fd.AppendSKU(nil, fd.PickSKU(r))) == "sku-00042" {
			hot++
		}
	}
	if share := float64(hot) / n; share < 0.88 || share > 0.92 {
		t.Errorf("hot SKU share %.3f, want ~0.9", share)
	}
	as := mustBuiltin(t, "agent-storm").Population
	counts := map[string]int{}
	first := 0
	for i := 0; i < n; i++ {
		_, reg := as.PickRegion(r)
		counts[reg]++
		if as.PickSKU(r) == 0 {
			first++
		}
	}
	// Weights 4:3:2:1.
	if c := counts["us-east"]; c < 7500 || c > 8500 {
		t.Errorf("us-east drawn %d of %d, want ~8000", c, n)
	}
	if c := counts["ap-tokyo"]; c < 1600 || c > 2400 {
		t.Errorf("ap-tokyo drawn %d of %d, want ~2000", c, n)
	}
	// Zipf: the top SKU is far above uniform (1/20000).
	if first < 500 {
		t.Errorf("zipf head drawn %d of %d times", first, n)
	}
	if as.Customer(7) != as.Customer(7+as.Customers()) || string(as.AppendCustomerID(nil, 0)) != "cust-1" {
		t.Error("customers are not stable per agent")
	}
	if z := string(as.AppendZone(nil, 3)); z != "DE" {
		t.Errorf("zone of address 3 = %s", z)
	}
}

func TestThinkAndLevel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	u := Think{Kind: ThinkUniform, Min: time.Second, Max: 3 * time.Second}
	e := Think{Kind: ThinkExponential, Mean: 2 * time.Second}
	var su, se time.Duration
	for i := 0; i < 10000; i++ {
		d := u.Sample(r)
		if d < time.Second || d > 3*time.Second {
			t.Fatalf("uniform sample %v out of range", d)
		}
		su += d
		se += e.Sample(r)
	}
	if m := su / 10000; m < 1900*time.Millisecond || m > 2100*time.Millisecond {
		t.Errorf("uniform mean %v", m)
	}
	if m := se / 10000; m < 1800*time.Millisecond || m > 2200*time.Millisecond {
		t.Errorf("exponential mean %v", m)
	}
	if (Think{}).Sample(r) != 0 || (Think{Kind: ThinkConstant, Min: time.Second}).Sample(r) != time.Second {
		t.Error("none/constant wrong")
	}
	w := Workload{Stages: []Stage{{6 * time.Second, 600}, {10 * time.Second, 600}, {0, 100}, {5 * time.Second, 0}}}
	for _, tc := range []struct {
		t    time.Duration
		want float64
	}{{-time.Second, 0}, {0, 0}, {time.Second, 100}, {7 * time.Second, 600}, {16 * time.Second, 100}, {18500 * time.Millisecond, 50}, {time.Hour, 0}} {
		if got := w.LevelAt(tc.t); got != tc.want {
			t.Errorf("LevelAt(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	if w.Duration() != 21*time.Second || w.Peak() != 600 {
		t.Errorf("Duration %v Peak %d", w.Duration(), w.Peak())
	}
}

func TestUnset(t *testing.T) {
	p := mustBuiltin(t, "smoke")
	c := newTestContext(p)
	open, add, remove := p.Flows[0].Steps[0], p.Flows[0].Steps[1], p.Flows[0].Steps[2]
	if open.Unset(c) != "" {
		t.Errorf("open_cart reads nothing, Unset = %q", open.Unset(c))
	}
	if got := add.Unset(c); got != "cart_id" {
		t.Errorf("add_to_cart before the capture: Unset = %q, want cart_id", got)
	}
	c.Vars.Set(p.vars("cart_id"), []byte("c1"))
	if got := add.Unset(c); got != "" { // item is its own set:
		t.Errorf("add_to_cart: Unset = %q", got)
	}
	if got := remove.Unset(c); got != "item" {
		t.Errorf("remove_item before add: Unset = %q, want item", got)
	}
	if testing.AllocsPerRun(100, func() { remove.Unset(c) }) != 0 {
		t.Error("Unset allocates")
	}
}

// TestConcurrentAgents renders, checks and captures from many goroutines
// sharing one Profile (run with -race): only the Context is per agent.
func TestConcurrentAgents(t *testing.T) {
	p := mustBuiltin(t, "agent-storm")
	done := make(chan bool)
	for g := 0; g < 8; g++ {
		go func(g int) {
			defer func() { done <- true }()
			c := newTestContext(p)
			c.Rand = rand.New(rand.NewPCG(uint64(g), 1))
			buf := make([]byte, 0, 1024)
			for i := 0; i < 200; i++ {
				f := p.PickFlow(c.Rand)
				c.Vars.Reset()
				for _, s := range f.Steps {
					c.StartExecution()
					buf = s.AppendRequest(buf[:0], "h", c)
					s.Check(200, []byte(`{"cart_id":"c","order_id":"o","mode":"in_stock"}`))
					_ = s.Capture([]byte(`{"cart_id":"c","order_id":"o"}`), nil, c)
				}
			}
		}(g)
	}
	for g := 0; g < 8; g++ {
		<-done
	}
}

func TestPickFlowByWeight(t *testing.T) {
	p := mustBuiltin(t, "agent-storm") // buyer 7, abandoner 3
	r := rand.New(rand.NewPCG(7, 7))
	buyers := 0
	for i := 0; i < 10000; i++ {
		if p.PickFlow(r).Name == "buyer" {
			buyers++
		}
	}
	if buyers < 6700 || buyers > 7300 {
		t.Errorf("buyer picked %d of 10000, want ~7000", buyers)
	}
}

// A generator with arguments in a path holds spaces inside {{ }}: the
// literal parts are checked, the rendered value is escaped.
func TestGeneratorWithArgumentsInPath(t *testing.T) {
	src := strings.Replace(validSrc, "path: /y/{{id}}", `path: "/y/{{int 3 3}}/{{pick a b}}?n={{int 1 9}}"`, 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := parseBoth(t, p.Flows[0].Steps[1].AppendRequest(nil, "h", newTestContext(p)))
	if !strings.HasPrefix(req.URL.Path, "/y/3/") || req.URL.Query().Get("n") == "" {
		t.Errorf("request URI %q", req.RequestURI)
	}
	bad := strings.Replace(validSrc, "path: /y/{{id}}", `path: "/y /{{int 1 9}}"`, 1)
	if _, err := Load("t.yaml", []byte(bad), ""); err == nil || !strings.Contains(err.Error(), "expected no spaces") {
		t.Errorf("a space outside the template was accepted: %v", err)
	}
}
