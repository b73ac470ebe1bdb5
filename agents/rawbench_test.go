package agents

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRawClosedLoop measures the bare transport (dial, pooled buffers,
// exchange) in a closed loop of 256 connections with no think time against
// the server at $AGENTSTORM_BENCH_TARGET (e.g. bench/barefast in another
// process) for $AGENTSTORM_BENCH_SECONDS (default 5). Run with -benchtime=1x;
// bench/swarm-vs-wrk.sh compares it with wrk in the same run.
func BenchmarkRawClosedLoop(b *testing.B) {
	target := os.Getenv("AGENTSTORM_BENCH_TARGET")
	if target == "" {
		b.Skip("AGENTSTORM_BENCH_TARGET not set")
	}
	secs := 5 * time.Second
	if s := os.Getenv("AGENTSTORM_BENCH_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			b.Fatalf("AGENTSTORM_BENCH_SECONDS: %v", err)
		}
		secs = d
	}
	ep, err := parseEndpoint(target, false)
	if err != nil {
		b.Fatal(err)
	}
	const conns = 256
	d := newDialer(5*time.Second, conns, nil)
	pool := newBufPool(readBufSize, maxPooledBufs)
	body := `{"sku":"sku-1","qty":1}`
	req := []byte("POST /cart/items HTTP/1.1\r\nHost: " + ep.host + "\r\nContent-Type: application/json\r\nContent-Length: " +
		itoa(len(body)) + "\r\n\r\n" + body)
	var total, errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), secs)
	defer cancel()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			c, err := d.dial(ctx, ep, id)
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			tc := &trackedConn{}
			tc.reset(c)
			n := int64(0)
			for ctx.Err() == nil {
				cb := pool.get()
				cb.w = append(cb.w[:0], req...)
				_, err := exchange(tc, cb, cb.w, time.Now().Add(5*time.Second), 300*time.Millisecond, DefaultMaxBodySize, DefaultMaxHeaderSize)
				ok := err == nil && cb.resp.StatusCode() == 200
				pool.put(cb)
				if !ok {
					errs.Add(1)
					return
				}
				n++
			}
			total.Add(n)
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() - ru0.Utime.Nano() + ru1.Stime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(total.Load())/el.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(total.Load()), "cpu-us/req")
	b.ReportMetric(float64(errs.Load()), "errors")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
