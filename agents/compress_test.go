package agents

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/report"
)

// codingServer answers {"sku":"s-7","mode":"in_stock"} encoded with the
// first coding the request accepts, and counts the answers by coding;
// /item/s-7 needs the sku captured from a decoded answer; /bad claims gzip
// and sends plain text.
type codingServer struct {
	mu  sync.Mutex
	got map[string]int
}

func (cs *codingServer) handle(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if path == "/bad" {
		ctx.Response.Header.Set("Content-Encoding", "gzip")
		ctx.SetBodyString(`{"mode":"in_stock"}`)
		return
	}
	if path != "/item" && path != "/item/s-7" {
		ctx.SetStatusCode(404)
		return
	}
	body := []byte(`{"sku":"s-7","mode":"in_stock","pad":"` + strings.Repeat("abc", 100) + `"}`)
	coding, _, _ := strings.Cut(string(ctx.Request.Header.Peek("Accept-Encoding")), ",")
	switch coding {
	case "gzip":
		body = fasthttp.AppendGzipBytes(nil, body)
	case "br":
		body = fasthttp.AppendBrotliBytes(nil, body)
	case "deflate":
		body = fasthttp.AppendDeflateBytes(nil, body)
	case "":
	default:
		ctx.SetStatusCode(406)
		return
	}
	if coding != "" {
		ctx.Response.Header.Set("Content-Encoding", coding)
	}
	cs.mu.Lock()
	cs.got[path+" "+coding]++
	cs.mu.Unlock()
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

const codingProfile = `
target: http://127.0.0.1:1
compression: gzip
workload:
  model: closed
  stages: "0->2 in 0s, hold 500ms"
flows:
  - name: f
    steps:
      - {name: gz, path: /item, capture: {item: $.sku}, expect: {status: 200, json: {mode: [in_stock]}}}
      - {name: br, path: "/item/{{item}}", compression: [br, gzip], expect: {status: 200, json: {mode: [in_stock]}}}
      - {name: deflate, path: /item, compression: deflate, expect: {json: {sku: [s-7]}}}
      - {name: plain, path: /item, compression: none, expect: {json: {sku: [s-7]}}}
`

// TestCompression asks for gzip (the profile's), br and deflate (steps'
// own) and nothing, and checks and captures on the decoded bodies; an
// answer that does not decode is a failed expectation.
func TestCompression(t *testing.T) {
	cs := &codingServer{got: map[string]int{}}
	url := serve(t, cs.handle)
	sum, _, err := runSwarm(t, context.Background(), load(t, codingProfile), Config{BaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Errors != 0 || sum.Overall.Count < 20 {
		t.Fatalf("counts %v, failures %v", sum.Overall.Counts, sum.Failures)
	}
	cs.mu.Lock()
	for _, k := range []string{"/item gzip", "/item/s-7 br", "/item deflate", "/item "} {
		if cs.got[k] == 0 {
			t.Errorf("no answer %q; got %v", k, cs.got)
		}
	}
	cs.mu.Unlock()
	// The body cap applies to the decoded body: the gzipped answer fits
	// in 200 bytes, decoded it does not.
	sum, _, _ = runSwarm(t, context.Background(), load(t, codingProfile), Config{BaseURL: url, MaxBodySize: 200})
	if n := sum.PerStep[0].Counts[report.BodyTooLarge]; n == 0 || n != sum.PerStep[0].Count {
		t.Fatalf("decoded over the body cap: counts %v", sum.PerStep[0].Counts)
	}
	bad := strings.Replace(codingProfile, "path: /item, capture", "path: /bad, capture", 1)
	sum, _, _ = runSwarm(t, context.Background(), load(t, bad), Config{BaseURL: url})
	if n := sum.PerStep[0].Counts[report.ExpectFailed]; n == 0 || n != sum.PerStep[0].Count {
		t.Fatalf("an answer that does not decode: counts %v", sum.PerStep[0].Counts)
	}
}
