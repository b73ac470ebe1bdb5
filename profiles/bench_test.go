package profiles

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

const benchSrc = `name: bench
target: http://127.0.0.1:8080
workload: {model: closed, stages: "0->10 in 1s"}
population: {skus: {count: 20000, popularity: zipf}}
flows:
  - name: f
    steps:
      - name: open_cart
        method: POST
        path: /v1/carts
        capture: {cart_id: $.cart_id}
      - name: add_to_cart
        method: POST
        path: /v1/carts/{{cart_id}}/items
        body: {sku: "{{sku}}", qty: "{{int 1 3}}", customer_id: "{{customer.id}}", region: "{{agent.region}}"}
        expect: {status: 200, json: {mode: [in_stock, preorder]}}
`

func benchStep(b *testing.B) (*Step, *Context) {
	p, err := Load("bench.yaml", []byte(benchSrc), "")
	if err != nil {
		b.Fatal(err)
	}
	c := newTestContext(p)
	c.Vars.Set(0, []byte("c-0012345678"))
	return p.Flows[0].Steps[1], c
}

// BenchmarkAppendRequest renders a typical add-to-cart request (path with a
// captured variable, JSON body with 4 variables, headers, Content-Length)
// into a reused buffer.
func BenchmarkAppendRequest(b *testing.B) {
	s, c := benchStep(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		c.StartExecution()
		buf = s.AppendRequest(buf[:0], "127.0.0.1:8080", c)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkRenderPathAndBody renders only the path and the JSON body
// templates of the same step.
func BenchmarkRenderPathAndBody(b *testing.B) {
	s, c := benchStep(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.tmpl.path.render(buf[:0], c, s.tmpl.pop)
		buf = s.tmpl.body.render(buf, c, s.tmpl.pop)
	}
}

// cartBody1KiB is a 1 KiB cart answer with cart_id after the items, so the
// capture scans most of it.
func cartBody1KiB() []byte {
	var items []string
	for i := 0; len(strings.Join(items, ",")) < 960; i++ {
		items = append(items, fmt.Sprintf(`{"sku":"sku-%05d","qty":%d,"price_cents":%d}`, i*37, i%3+1, 1999+i))
	}
	body := `{"items":[` + strings.Join(items, ",") + `],"mode":"in_stock","cart_id":"c-0012345678"}`
	return []byte(body)
}

// BenchmarkCaptureJSON1KiB captures cart_id from a 1 KiB JSON answer.
func BenchmarkCaptureJSON1KiB(b *testing.B) {
	p, err := Load("bench.yaml", []byte(benchSrc), "")
	if err != nil {
		b.Fatal(err)
	}
	s, c := p.Flows[0].Steps[0], newTestContext(p)
	body := cartBody1KiB()
	if len(body) < 1000 || len(body) > 1100 {
		b.Fatalf("body is %d bytes", len(body))
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Capture(body, nil, c); err != nil {
			b.Fatal(err)
		}
	}
	if v, _ := c.Vars.Get(0); string(v) != "c-0012345678" {
		b.Fatalf("captured %q", v)
	}
}

// BenchmarkCheck1KiB checks status and one JSON field of a 1 KiB answer.
func BenchmarkCheck1KiB(b *testing.B) {
	s, _ := benchStep(b)
	body := cartBody1KiB()
	b.ReportAllocs()
	for b.Loop() {
		if ok, f := s.Check(200, body); !ok {
			b.Fatal(f)
		}
	}
}

// BenchmarkLoadAllBuiltins loads and validates every built-in profile.
func BenchmarkLoadAllBuiltins(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		for _, bi := range Builtins() {
			if _, err := Builtin(bi.Name); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBaselineNaiveRequest builds the same request the obvious way
// (fmt for the path, encoding/json for a map body, string concatenation for
// the head): the comparison point for BenchmarkAppendRequest.
func BenchmarkBaselineNaiveRequest(b *testing.B) {
	_, c := benchStep(b)
	cart, _ := c.Vars.Get(0)
	pop := &Population{skus: 20000, customers: 10000, customerCol: -1}
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		path := fmt.Sprintf("/v1/carts/%s/items", cart)
		body, _ := json.Marshal(map[string]any{
			"sku":         string(pop.AppendSKU(nil, c.Rand.IntN(20000))),
			"qty":         1 + c.Rand.IntN(3),
			"customer_id": string(pop.AppendCustomerID(nil, c.Customer)),
			"region":      c.Region,
		})
		head := "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: agentstorm\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
		out = append(append(out[:0], head...), body...)
	}
	_ = out
}
