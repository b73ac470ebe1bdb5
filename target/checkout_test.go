package target

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCheckoutWaitsForItsCommit holds the order log's writer while a checkout is in
// flight: no answer may go out before the order's write, the shard's other requests are
// answered meanwhile, and a failed write is a 503 that gives the items back to the cart
// and lets go of the Idempotency-Key. Both servers: the event loops wait for the commit
// without a goroutine (startCheckout), fasthttp's server on the connection's goroutine.
func TestCheckoutWaitsForItsCommit(t *testing.T) {
	for _, server := range []string{ServerLoop, ServerGoroutines} {
		t.Run(server, func(t *testing.T) {
			if server == ServerLoop && !hasLoopServer {
				t.Skip("no event-loop server on this system")
			}
			s := newTestShard(t, ShardConfig{Server: server, Loops: 1, OrderRate: 1})
			cart := newCart(t, s)
			expect(t, addItem(t, s, cart, "sku-1", 2), 200, "add")

			s.store.wmu.Lock()
			type result struct {
				status int
				body   string
				err    error
			}
			got := make(chan result, 1)
			go func() {
				req, err := http.NewRequest("POST", s.URL()+"/v1/carts/"+cart+"/checkout", strings.NewReader(checkoutBody))
				if err != nil {
					got <- result{err: err}
					return
				}
				req.Header.Set("Idempotency-Key", "held-key")
				resp, err := testClient.Do(req)
				if err != nil {
					got <- result{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				got <- result{resp.StatusCode, string(b), err}
			}()
			// The checkout waits for its commit once the cart is empty (its items moved into
			// the order).
			deadline := time.Now().Add(5 * time.Second)
			for call(t, s, "GET", "/v1/carts/"+cart, "").json["total_qty"] != 0.0 {
				if time.Now().After(deadline) {
					s.store.wmu.Unlock()
					t.Fatal("the checkout never took the cart's items")
				}
				time.Sleep(5 * time.Millisecond)
			}
			other := newCart(t, s) // answered while the checkout waits
			select {
			case r := <-got:
				s.store.wmu.Unlock()
				t.Fatalf("answered before its order was written: %d %s (err %v)", r.status, r.body, r.err)
			case <-time.After(100 * time.Millisecond):
			}
			s.store.failed = errors.New("disk unplugged")
			s.store.wmu.Unlock()

			r := <-got
			if r.err != nil || r.status != 503 || !strings.Contains(r.body, "disk unplugged") {
				t.Fatalf("checkout whose write failed: %d %s (err %v), want 503 naming the failure", r.status, r.body, r.err)
			}
			if g := call(t, s, "GET", "/v1/carts/"+cart, ""); g.json["total_qty"] != 2.0 {
				t.Fatalf("a failed checkout must give the items back: %s", g.body)
			}
			s.store.wmu.Lock()
			s.store.failed = nil
			s.store.wmu.Unlock()
			expect(t, checkout(t, s, cart, "held-key"), 202, "the same key once the log writes again")
			expect(t, addItem(t, s, other, "sku-2", 1), 200, "add to the cart opened meanwhile")
		})
	}
}
