package agents

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// checkoutServer answers POST /checkout, after 20ms, with a 302 to the
// order, which answers (after another 20ms) with the order id, but only to
// a GET without a body; GET /loop redirects to itself.
type checkoutServer struct {
	checkouts, orders, badHop, loops atomic.Int64
}

func (cs *checkoutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/checkout" && r.Method == http.MethodPost:
		n := cs.checkouts.Add(1)
		time.Sleep(20 * time.Millisecond)
		http.Redirect(w, r, fmt.Sprintf("/orders/o-%d?src=checkout", n), http.StatusFound)
	case strings.HasPrefix(r.URL.Path, "/orders/"):
		if r.Method != http.MethodGet || r.ContentLength > 0 || r.URL.Query().Get("src") != "checkout" || r.Header.Get("X-Shop") != "s1" {
			cs.badHop.Add(1)
		}
		cs.orders.Add(1)
		time.Sleep(20 * time.Millisecond)
		fmt.Fprintf(w, `{"order_id":%q}`, strings.TrimPrefix(r.URL.Path, "/orders/"))
	case r.URL.Path == "/loop":
		cs.loops.Add(1)
		http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
	default:
		http.NotFound(w, r)
	}
}

const checkoutProfile = `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->2 in 0s, hold 700ms"
flows:
  - name: f
    steps:
      - name: checkout
        method: POST
        path: /checkout
        headers: {X-Shop: s1}
        body: {cart: c1}
        capture: {order: $.order_id}
        expect: {status: 200}
`

// TestRedirectAfterCheckout follows a checkout's 302 to the order (a GET,
// the step's headers kept, the body dropped), captures from the order and
// records one request per checkout, timed over both hops; on the event
// loops and on the goroutine transport (https).
func TestRedirectAfterCheckout(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		cs := &checkoutServer{}
		var srv *httptest.Server
		if tlsOn {
			srv = httptest.NewTLSServer(cs)
		} else {
			srv = httptest.NewServer(cs)
		}
		sum, _, err := runSwarm(t, context.Background(), load(t, checkoutProfile), Config{BaseURL: srv.URL, Insecure: tlsOn})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		st := sum.PerStep[0]
		if st.Count < 10 || st.Errors != 0 || cs.badHop.Load() != 0 {
			t.Fatalf("tls=%v: %d checkouts recorded, counts %v, %d bad hops", tlsOn, st.Count, st.Counts, cs.badHop.Load())
		}
		if sum.Redirects != cs.orders.Load() || sum.Redirects < st.Count || sum.Redirects > st.Count+2 {
			t.Fatalf("tls=%v: %d redirects counted, %d orders served, %d checkouts recorded", tlsOn, sum.Redirects, cs.orders.Load(), st.Count)
		}
		if p50 := st.Histogram.ValueAtQuantile(50); p50 < (40 * time.Millisecond).Microseconds() {
			t.Fatalf("tls=%v: checkout p50 %dµs; both hops take 40ms", tlsOn, p50)
		}
	}
}

// TestRedirectLimit stops at the step's redirects: the last 3xx is the
// answer; redirects: 0 follows none.
func TestRedirectLimit(t *testing.T) {
	for _, limit := range []int{0, 2} {
		cs := &checkoutServer{}
		srv := httptest.NewServer(cs)
		src := strings.Replace(strings.Replace(checkoutProfile, "path: /checkout", "path: /loop", 1), "method: POST", fmt.Sprintf("method: GET\n        redirects: %d", limit), 1)
		src = strings.Replace(src, "        capture: {order: $.order_id}\n", "", 1)
		src = strings.Replace(src, "expect: {status: 200}", "expect: {status: 307}", 1)
		sum, _, err := runSwarm(t, context.Background(), load(t, src), Config{BaseURL: srv.URL})
		srv.Close()
		if err != nil {
			t.Fatal(err)
		}
		st := sum.PerStep[0]
		if st.Count < 10 || st.Counts[report.OK] != st.Count {
			t.Fatalf("redirects %d: counts %v", limit, st.Counts)
		}
		if want := int64(limit) * st.Count; sum.Redirects < want || sum.Redirects > want+2*int64(limit) || cs.loops.Load() < st.Count*int64(limit+1) {
			t.Fatalf("redirects %d: %d followed for %d requests, %d served", limit, sum.Redirects, st.Count, cs.loops.Load())
		}
	}
}
