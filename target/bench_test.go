package target

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// newBenchShard starts a shard for a benchmark or test and closes it at cleanup.
func newTestShard(tb testing.TB, cfg ShardConfig) *Shard {
	tb.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if cfg.Region == "" {
		cfg.Region = "us-east"
	}
	if cfg.Logf == nil {
		cfg.Logf = tb.Logf
	}
	s, err := StartShard(cfg)
	if err != nil {
		tb.Fatalf("StartShard: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// inProcessCart opens a cart by calling the handler directly and returns its id.
func inProcessCart(tb testing.TB, s *Shard) string {
	tb.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/carts")
	ctx.Request.SetBodyString(`{"customer_id":"bench","region":"us-east"}`)
	s.handle(&ctx)
	if ctx.Response.StatusCode() != 201 {
		tb.Fatalf("create cart: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	body := string(ctx.Response.Body())
	i := strings.Index(body, `"cart_id":"`) + len(`"cart_id":"`)
	return body[i : i+strings.IndexByte(body[i:], '"')]
}

// BenchmarkAddToCartHandler calls the add-to-cart handler in-process with a reused
// RequestCtx: the hot path, which must stay under 2 µs and allocate nothing.
func BenchmarkAddToCartHandler(b *testing.B) {
	s := newTestShard(b, ShardConfig{StockPerSKU: 1 << 40})
	id := inProcessCart(b, s)
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetRequestURI("/v1/carts/" + id + "/items")
	ctx.Request.SetBodyString(`{"sku":"sku-42","qty":1}`)
	s.handle(&ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ctx.Response.Reset()
		s.handle(&ctx)
	}
	b.StopTimer()
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("add to cart: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// BenchmarkAddToCartHandlerParallel is the same hot path from all cores, each goroutine on
// its own cart.
func BenchmarkAddToCartHandlerParallel(b *testing.B) {
	s := newTestShard(b, ShardConfig{StockPerSKU: 1 << 40})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := inProcessCart(b, s)
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/v1/carts/" + id + "/items")
		ctx.Request.SetBodyString(`{"sku":"sku-42","qty":1}`)
		for pb.Next() {
			ctx.Response.Reset()
			s.handle(&ctx)
		}
	})
}

// BenchmarkCheckoutBurst measures durable checkouts per second on one shard: 256
// goroutines each open a cart, add an item and check out over loopback HTTP; every 202 comes
// after the group commit's fsync. It reports orders/s and the process's CPU time (client
// included) per order.
func BenchmarkCheckoutBurst(b *testing.B) {
	s := newTestShard(b, ShardConfig{StockPerSKU: 1 << 40, OrderRate: 1})
	const conc = 256
	client := &fasthttp.HostClient{Addr: s.Addr(), MaxConns: conc}
	// Carts and keys (random UUIDs, as agents send) are prepared outside the timed part: one
	// per checkout.
	keys := uuidKeys(b.N)
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = inProcessCart(b, s)
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI("/v1/carts/" + ids[i] + "/items")
		ctx.Request.SetBodyString(`{"sku":"sku-1","qty":1}`)
		s.handle(&ctx)
	}
	cpu0 := processCPU(b)
	b.ResetTimer()
	failed := concurrently(len(ids), conc, func(i int) bool {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + s.Addr() + "/v1/carts/" + ids[i] + "/checkout")
		req.Header.Set("Idempotency-Key", keys[i])
		req.SetBodyString(`{"destination":"US","carrier":"ups","speed":"standard"}`)
		return client.Do(req, resp) == nil && resp.StatusCode() == 202
	})
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	if failed > 0 {
		b.Fatalf("%d of %d checkouts failed", failed, b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/order")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
	b.ReportMetric(float64(b.N)/float64(s.store.batches.Load()), "orders/fsync")
}

// BenchmarkOrderStore measures the order store alone at a storm's checkout pattern: 256
// goroutines accept orders under random UUID Idempotency-Keys (group commit, fdatasync before
// each accept returns). In "accept" the worker is paused, as in a storm, where checkouts come
// far faster than the worker's 100 orders/s; in "accept+decide" it decides every order as
// well (its rate set so high that nothing stays queued). It reports the process's CPU time
// (user + system, getrusage) per order and orders per synced checkout write.
func BenchmarkOrderStore(b *testing.B) {
	b.Run("accept", func(b *testing.B) { benchOrderStore(b, true) })
	b.Run("accept+decide", func(b *testing.B) { benchOrderStore(b, false) })
}

func benchOrderStore(b *testing.B, paused bool) {
	s := newTestShard(b, ShardConfig{StockPerSKU: 1 << 40, OrderRate: 1e6})
	s.SetChaos(ChaosState{OrdersPaused: paused})
	const conc = 256
	keys := uuidKeys(b.N)
	cpu0 := processCPU(b)
	b.ResetTimer()
	failed := concurrently(len(keys), conc, func(i int) bool {
		rec := &orderRecord{
			CartID:      fmt.Sprintf("c0-%d", i),
			Items:       []orderItem{{SKU: "sku-42", Qty: 1}, {SKU: "sku-7", Qty: 2, PreorderQty: 1}},
			Destination: "US", Carrier: "ups", Speed: "standard", ShippingCents: 1299, Preorder: true,
		}
		_, fresh, err := s.store.accept(keys[i], rec)
		return err == nil && fresh
	})
	deadline := time.Now().Add(10 * time.Second)
	for !paused && s.store.queued.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	if failed > 0 {
		b.Fatalf("%d of %d orders failed", failed, b.N)
	}
	if q := s.store.queued.Load(); !paused && q > 0 {
		b.Fatalf("%d orders still queued 10 s after the last was accepted", q)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/order")
	b.ReportMetric(float64(b.N)/float64(s.store.batches.Load()), "orders/fsync")
}

// concurrently calls do(i) for every i in [0, n) from conc goroutines and returns how many
// calls reported failure.
func concurrently(n, conc int, do func(i int) bool) int64 {
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if !do(i) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return failed.Load()
}

// uuidKeys returns n Idempotency-Keys shaped like random (version 4) UUIDs, from a fixed seed.
func uuidKeys(n int) []string {
	keys := make([]string, n)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", rnd.Uint32(), rnd.Uint32()&0xffff, rnd.Uint32()&0xfff, rnd.Uint32()&0x3fff|0x8000, rnd.Uint64()&0xffffffffffff)
	}
	return keys
}

// processCPU returns the CPU time (user + system) the process has used so far.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
