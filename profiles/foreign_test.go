package profiles

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// foreignAPI is a small shop of a different shape than the bundled target:
// sessions instead of carts, "lines" with nested product codes, orders
// created with 201 and a Location header.
type foreignAPI struct {
	mu     sync.Mutex
	lines  map[string]int
	orders map[string]string // Idempotency-Key -> order path
	errs   []string
}

func (f *foreignAPI) fail(w http.ResponseWriter, format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
}

func (f *foreignAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/v2/sessions":
		var in struct {
			User   string `json:"user"`
			Market string `json:"market"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(in.User, "cust-") || in.Market == "" {
			f.fail(w, "session body %+v: %v", in, err)
			return
		}
		w.Header().Set("X-Session", "sess-"+in.User)
		fmt.Fprintf(w, `{"data":{"session":{"token":"tok-%s"}}}`, in.User)
	case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/api/v2/basket/tok-") && strings.HasSuffix(r.URL.Path, "/lines"):
		var in struct {
			Product struct{ Code string } `json:"product"`
			Count   int                   `json:"count"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Count < 1 || in.Count > 2 || !strings.HasPrefix(in.Product.Code, "sku-") {
			f.fail(w, "line body %+v: %v", in, err)
			return
		}
		if r.Header.Get("X-Session") == "" || r.URL.Query().Get("currency") != "EUR" {
			f.fail(w, "line headers/query: %v %v", r.Header, r.URL.RawQuery)
			return
		}
		f.mu.Lock()
		f.lines[r.URL.Path]++
		n := f.lines[r.URL.Path]
		f.mu.Unlock()
		fmt.Fprintf(w, `{"lines":%d,"state":"accepted"}`, n)
	case r.Method == "POST" && r.URL.Path == "/api/v2/orders":
		key := r.Header.Get("Idempotency-Key")
		if len(key) != 36 {
			f.fail(w, "order without key")
			return
		}
		f.mu.Lock()
		loc, ok := f.orders[key]
		if !ok {
			loc = fmt.Sprintf("/api/v2/orders/o-%d", len(f.orders)+1)
			f.orders[key] = loc
		}
		f.mu.Unlock()
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"ok":true}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/v2/orders/o-"):
		fmt.Fprint(w, `{"order":{"state":"done"}}`)
	default:
		f.fail(w, "unexpected %s %s", r.Method, r.URL)
	}
}

const foreignFlows = `flows:
  - name: foreign
    steps:
      - name: open_cart
        method: POST
        path: /api/v2/sessions
        body: {user: "{{customer.id}}", market: "{{agent.region}}"}
        capture:
          token: $.data.session.token
          sess: {header: X-Session}
        expect: {status: 200}
      - name: add_to_cart
        method: PUT
        path: /api/v2/basket/{{token}}/lines?currency=EUR
        headers: {X-Session: "{{sess}}"}
        repeat: 2
        body: {product: {code: "{{sku}}"}, count: "{{int 1 2}}"}
        expect: {status: 200, json: {state: accepted}}
      - name: checkout
        method: POST
        path: /api/v2/orders
        headers: {Idempotency-Key: "{{uuid}}"}
        body: {token: "{{token}}"}
        capture: {order: {header: Location}}
        expect: {status: 201, body: ok}
      - name: order_status
        method: GET
        path: "{{order}}"
        expect: {status: 200, json: {order.state: done}}
`

// copyBuiltin takes a built-in, points it at base and replaces its flows.
func copyBuiltin(t *testing.T, name, base, flows string) string {
	t.Helper()
	src, err := BuiltinSource(name)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "target: bundled", "target: "+base, 1)
	i := strings.Index(s, "\nflows:")
	j := strings.Index(s, "\nbudgets:")
	if i < 0 || j < i {
		t.Fatal("built-in has no flows/budgets section")
	}
	return s[:i+1] + flows + s[j:]
}

func TestCopiedBuiltinAgainstForeignAPI(t *testing.T) {
	api := &foreignAPI{lines: map[string]int{}, orders: map[string]string{}}
	srv := httptest.NewServer(api) // listens on 127.0.0.1
	defer srv.Close()
	src := copyBuiltin(t, "smoke", srv.URL, foreignFlows)
	p, err := Load("foreign.yaml", []byte(src), "")
	if err != nil {
		t.Fatalf("copied profile does not load:\n%v", err)
	}
	if p.Target.URLFor("eu-west") != srv.URL {
		t.Fatalf("target = %+v", p.Target)
	}
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(srv.URL, "http://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	host := strings.TrimPrefix(srv.URL, "http://")
	var resp fasthttp.Response
	var buf []byte
	c := newTestContext(p)
	send := func(s *Step) {
		t.Helper()
		buf = s.AppendRequest(buf[:0], host, c)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(buf); err != nil {
			t.Fatal(err)
		}
		resp.Reset()
		if err := resp.Read(br); err != nil {
			t.Fatalf("%s: reading the answer: %v", s.Name, err)
		}
		if ok, failure := s.Check(resp.StatusCode(), resp.Body()); !ok {
			t.Fatalf("%s: check failed (%s): %d %s", s.Name, failure, resp.StatusCode(), resp.Body())
		}
		peek := func(name string) []byte { return resp.Header.Peek(name) }
		if err := s.Capture(resp.Body(), peek, c); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	for session := 0; session < 3; session++ {
		c.Session, c.Customer = session, 10+session
		c.Vars.Reset()
		for _, s := range p.Flows[0].Steps {
			for it := 0; it < s.Repeat.Count(c.Rand); it++ {
				c.Iteration = it
				c.StartExecution()
				send(s)
				if s.Name == "checkout" {
					send(s) // a retry: same Idempotency-Key, same order
				}
			}
		}
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.errs) > 0 {
		t.Errorf("the server saw bad requests: %v", api.errs)
	}
	if len(api.orders) != 3 {
		t.Errorf("%d orders created, want 3 (retries must reuse the key)", len(api.orders))
	}
	for path, n := range api.lines {
		if n != 2 {
			t.Errorf("%s got %d lines, want 2", path, n)
		}
	}
	// A wrong answer is caught by Check.
	if ok, f := p.Flows[0].Steps[3].Check(200, []byte(`{"order":{"state":"pending"}}`)); ok || f != "json:order.state" {
		t.Errorf("Check on a pending order = %v %s", ok, f)
	}
}

func TestCopiedBuiltinWrongEditGivesPreciseErrors(t *testing.T) {
	src := copyBuiltin(t, "smoke", "http://127.0.0.1:1", foreignFlows)
	bad := strings.Replace(src, "/api/v2/basket/{{token}}/lines", "/api/v2/basket/{{tokn}}/lines", 1)
	bad = strings.Replace(bad, "        expect: {status: 201, body: ok}", "        expekt: {status: 201, body: ok}", 1)
	bad = strings.Replace(bad, `count: "{{int 1 2}}"`, `count: "{{int 1 two}}"`, 1)
	bad = strings.Replace(bad, "target: http://127.0.0.1:1", "target: 127.0.0.1:1", 1)
	_, err := Load("mine.yaml", []byte(bad), "")
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("err = %v", err)
	}
	wantErr(t, les, at(t, "mine.yaml", bad, "tokn", 1), `unknown variable "tokn"`, `did you mean "token"?`)
	wantErr(t, les, at(t, "mine.yaml", bad, "expekt", 1), `unknown key "expekt" in step`, `did you mean "expect"?`)
	wantErr(t, les, at(t, "mine.yaml", bad, "int 1 two", 1), "bounds must be integers")
	wantErr(t, les, at(t, "mine.yaml", bad, "127.0.0.1:1", 1), "is not a base URL", "http://")
	if len(les) != 4 {
		t.Errorf("want 4 errors, got:\n%v", les)
	}
}
