package target

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// doJSON sends one request with fasthttp and returns the status and body.
func doJSON(addr, method, path, body, key string) (int, string, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + addr + path)
	req.SetBodyString(body)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil {
		return 0, "", err
	}
	return resp.StatusCode(), string(resp.Body()), nil
}

func field(body, name string) string {
	i := strings.Index(body, `"`+name+`":"`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(name)+4:]
	return rest[:strings.IndexByte(rest, '"')]
}

// TestKill9MidBurst kills a shard process with SIGKILL while checkouts pour in, restarts it
// on the same data, and checks that every order answered 202 survived, that retries of the
// unanswered checkouts do not duplicate anything, and that every order gets created, each
// once.
func TestKill9MidBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills shard processes")
	}
	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--order-rate", "5000"}
	addr, cmd := startChild(t, exec.Command(os.Args[0], args...), 0)

	const workers, perWorker = 32, 40
	carts := make([]string, workers)
	for w := range carts {
		st, body, err := doJSON(addr, "POST", "/v1/carts", `{"customer_id":"k","region":"us-east"}`, "")
		if err != nil || st != 201 {
			t.Fatalf("create cart: %d %v", st, err)
		}
		carts[w] = field(body, "cart_id")
	}
	var mu sync.Mutex
	acked := map[string]string{} // idempotency key -> order id answered 202
	var tried atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				if st, _, err := doJSON(addr, "POST", "/v1/carts/"+carts[w]+"/items", `{"sku":"s","qty":1}`, ""); err != nil || st != 200 {
					return
				}
				tried.Add(1)
				st, body, err := doJSON(addr, "POST", "/v1/carts/"+carts[w]+"/checkout", checkoutBody, key)
				if err != nil {
					return // the shard is gone
				}
				if st == 202 {
					mu.Lock()
					acked[key] = field(body, "order_id")
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good part of the burst has been answered.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= workers*perWorker/3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	_ = cmd.Wait()
	if len(acked) == 0 {
		t.Fatal("no checkout was answered before the kill")
	}

	addr2, _ := startChild(t, exec.Command(os.Args[0], args...), 0)
	// Every acknowledged order is there.
	for key, id := range acked {
		st, body, err := doJSON(addr2, "GET", "/v1/orders/"+id, "", "")
		if err != nil || st != 200 || field(body, "idempotency_key") != key {
			t.Fatalf("acknowledged order %s (key %s) after kill -9: %d %s %v", id, key, st, body, err)
		}
	}
	// Retrying every attempted checkout on its own cart (as clients whose answer was lost
	// would; carts live in memory, so the cart itself is gone) never makes a second order for
	// a key: a stored key gets its order back, an unstored one 404 for the cart.
	keys := map[string]bool{}
	maxNum := 0
	for w := 0; w < workers; w++ {
		for i := 0; i < perWorker; i++ {
			key := fmt.Sprintf("w%d-%d", w, i)
			st, body, err := doJSON(addr2, "POST", "/v1/carts/"+carts[w]+"/checkout", checkoutBody, key)
			if err != nil || (st != 202 && st != 404) {
				t.Fatalf("retry %s: %d %s %v", key, st, body, err)
			}
			want, ok := acked[key]
			if ok && st != 202 {
				t.Fatalf("retry of acknowledged key %s: %d %s, want 202 %s", key, st, body, want)
			}
			if st != 202 {
				continue
			}
			id := field(body, "order_id")
			if ok && id != want {
				t.Fatalf("retry of acknowledged key %s got %s, want %s", key, id, want)
			}
			keys[key] = true
			var n int
			fmt.Sscanf(id, "o0-%d", &n)
			maxNum = max(maxNum, n)
		}
	}
	// Order numbers are dense from 1: one order per key, nothing duplicated.
	if maxNum != len(keys) {
		t.Fatalf("%d keys made orders up to o0-%d: duplicates or gaps", len(keys), maxNum)
	}
	// The worker creates every order, each once.
	deadline = time.Now().Add(15 * time.Second)
	for n := 1; n <= maxNum; n++ {
		for {
			st, body, err := doJSON(addr2, "GET", fmt.Sprintf("/v1/orders/o0-%d", n), "", "")
			if err == nil && st == 200 && field(body, "status") == "created" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order o0-%d not created: %d %s %v", n, st, body, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The log holds each order's acceptance and its decision once, across the kill (the
	// worker was deciding orders when it came).
	seen := map[[2]uint64]bool{}
	if _, err := ReadOrderLog(filepath.Join(dir, OrderLogName), func(r OrderLogRecord) error {
		k := [2]uint64{uint64(r.Kind), r.Number}
		if seen[k] {
			return fmt.Errorf("order o0-%d has two %q records", r.Number, r.Kind)
		}
		seen[k] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for n := uint64(1); n <= uint64(maxNum); n++ {
		if !seen[[2]uint64{uint64(OrderAccepted), n}] || !seen[[2]uint64{uint64(OrderDecided), n}] {
			t.Fatalf("order o0-%d: accepted %v, decided %v in the log", n, seen[[2]uint64{uint64(OrderAccepted), n}], seen[[2]uint64{uint64(OrderDecided), n}])
		}
	}
	t.Logf("%d of %d attempted checkouts acknowledged before kill -9; %d orders after retries", len(acked), tried.Load(), maxNum)
}
