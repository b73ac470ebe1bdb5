package agents

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/profiles"
)

// BenchmarkCookieJarPerRequest is the cookie jar's own work for one
// request of a session that holds a cookie: store the answer's Set-Cookie
// and put the Cookie header into the next request (no network).
func BenchmarkCookieJarPerRequest(b *testing.B) {
	a := &agent{s: &Swarm{prof: &profiles.Profile{}}, ep: &endpoint{host: "shop.example"}}
	var resp fasthttp.Response
	resp.Header.Set("Set-Cookie", "sid=3f2a9c61e0b84d57; Path=/; HttpOnly")
	req := []byte("POST /v1/carts/c1-42/items HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 2\r\n\r\n{}")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		a.takeCookies(&resp.Header, req)
		buf = a.appendCookies(append(buf[:0], req...))
	}
	if len(buf) == len(req) {
		b.Fatal("no Cookie header added")
	}
}

// BenchmarkDecodeGzipPerAnswer is the decoding of one small gzipped JSON
// answer before its checks (no network); "identity" is an answer without
// Content-Encoding.
func BenchmarkDecodeGzipPerAnswer(b *testing.B) {
	body := []byte(`{"cart_id":"c1-42","mode":"in_stock","items":3}`)
	for _, coding := range []string{"gzip", "identity"} {
		b.Run(coding, func(b *testing.B) {
			var resp fasthttp.Response
			if coding == "gzip" {
				resp.Header.Set("Content-Encoding", "gzip")
				resp.SetBody(fasthttp.AppendGzipBytes(nil, body))
			} else {
				resp.SetBody(body)
			}
			b.ReportAllocs()
			for b.Loop() {
				if got, err := answerBody(&resp, DefaultMaxBodySize); err != nil || len(got) != len(body) {
					b.Fatalf("decoded %q, %v", got, err)
				}
			}
		})
	}
}
