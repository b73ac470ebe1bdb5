// Command barefast is a bare fasthttp server for throughput comparisons: it
// answers every request 200 with a tiny JSON body and nothing else, so a
// benchmark measures the load generator, not the server. GET /__count answers
// the number of other requests served so far (plain text), so a script can
// count the requests of a measurement window the same way for every tool.
//
//	go run ./bench/barefast -listen 127.0.0.1:18080
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/bench/internal/clock"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18080", "host:port to listen on (port 0 picks one)")
	delay := flag.Duration("delay", 0, "sleep this long before answering")
	flag.Parse()
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "barefast: listen %s: %v\n", *listen, err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %s\n", ln.Addr())
	body := []byte(`{"ok":true}`)
	var served atomic.Int64
	s := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == "/__count" {
				ctx.SetBodyString(strconv.FormatInt(served.Load(), 10))
				return
			}
			served.Add(1)
			if *delay > 0 {
				// Precise: time.Sleep overshoots by up to a millisecond.
				clock.Sleep(*delay)
			}
			ctx.SetContentType("application/json")
			ctx.SetBody(body)
		},
		Concurrency: 1 << 20,
	}
	if err := s.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "barefast: serve: %v\n", err)
		os.Exit(1)
	}
}
