package target

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// servers lists the HTTP servers a shard can run here; the serving tests run on each.
func servers() []string {
	if hasLoopServer {
		return []string{ServerLoop, ServerGoroutines}
	}
	return []string{ServerGoroutines}
}

// forEachServer runs fn as a subtest per server, each with its own shard.
func forEachServer(t *testing.T, cfg ShardConfig, fn func(t *testing.T, s *Shard)) {
	for _, srv := range servers() {
		t.Run(srv, func(t *testing.T) {
			c := cfg
			c.Server = srv
			fn(t, newTestShard(t, c))
		})
	}
}

// rawConn is a client connection that writes raw bytes and reads answers one by one.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, s *Shard) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) write(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read reads one answer (to a request with method) and its body.
func (r *rawConn) read(method string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	if err != nil {
		r.t.Fatalf("read answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// closed reports whether the server closed the connection (EOF within a second).
func (r *rawConn) closed() bool {
	_ = r.c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := r.br.ReadByte()
	return err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
}

func post(path, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, len(body))
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

func TestServingPipelinedInOrder(t *testing.T) {
	forEachServer(t, ShardConfig{}, func(t *testing.T, s *Shard) {
		cart := newCart(t, s)
		items := "/v1/carts/" + cart + "/items"
		r := dialRaw(t, s)
		// Three requests in one write; the checkout's answer waits for its fsync, and the
		// request behind it must still be answered after it.
		r.write(post(items, `{"sku":"a","qty":2}`) +
			post("/v1/carts/"+cart+"/checkout", checkoutBody, "Idempotency-Key: k1") +
			"GET /v1/carts/" + cart + " HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := r.read("POST")
		if resp.StatusCode != 200 || !strings.Contains(body, `"total_qty":2`) {
			t.Fatalf("first: %d %s", resp.StatusCode, body)
		}
		resp, body = r.read("POST")
		if resp.StatusCode != 202 || !strings.Contains(body, `"status":"processing"`) {
			t.Fatalf("second (checkout): %d %s", resp.StatusCode, body)
		}
		resp, body = r.read("GET")
		if resp.StatusCode != 200 || !strings.Contains(body, `"items":[]`) {
			t.Fatalf("third (the cart after its checkout): %d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("Server") != serverName || resp.Header.Get("Date") == "" || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("answer header: %v", resp.Header)
		}
	})
}

func TestServingPartialReads(t *testing.T) {
	forEachServer(t, ShardConfig{}, func(t *testing.T, s *Shard) {
		cart := newCart(t, s)
		r := dialRaw(t, s)
		req := post("/v1/carts/"+cart+"/items", `{"sku":"a","qty":3}`)
		// Byte by byte through the header, then the body in two pieces.
		head := strings.Index(req, "\r\n\r\n") + 4
		for i := 0; i < head; i += 7 {
			r.write(req[i:min(i+7, head)])
			time.Sleep(time.Millisecond)
		}
		r.write(req[head : head+5])
		time.Sleep(20 * time.Millisecond)
		r.write(req[head+5:])
		resp, body := r.read("POST")
		if resp.StatusCode != 200 || !strings.Contains(body, `"total_qty":3`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		// The connection stays open for the next request.
		r.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := r.read("GET"); resp.StatusCode != 200 {
			t.Fatalf("next request: %d", resp.StatusCode)
		}
	})
}

func TestServingChunkedAndContinue(t *testing.T) {
	forEachServer(t, ShardConfig{}, func(t *testing.T, s *Shard) {
		cart := newCart(t, s)
		r := dialRaw(t, s)
		r.write("POST /v1/carts/" + cart + "/items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"8\r\n{\"sku\":\"\r\n")
		time.Sleep(10 * time.Millisecond)
		r.write("b;ext=1\r\nb\",\"qty\":1}\r\n0\r\n\r\n")
		resp, body := r.read("POST")
		if resp.StatusCode != 200 || !strings.Contains(body, `"sku":"b"`) {
			t.Fatalf("chunked: %d %s", resp.StatusCode, body)
		}
		// Expect: 100-continue gets 100 Continue before the body is sent.
		b := `{"sku":"c","qty":1}`
		r.write(fmt.Sprintf("POST /v1/carts/%s/items HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", cart, len(b)))
		line, err := r.br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("want 100 Continue, got %q (%v)", line, err)
		}
		if l, _ := r.br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("100 Continue not followed by an empty line: %q", l)
		}
		r.write(b)
		resp, body = r.read("POST")
		if resp.StatusCode != 200 || !strings.Contains(body, `"sku":"c"`) {
			t.Fatalf("after 100 Continue: %d %s", resp.StatusCode, body)
		}
	})
}

func TestServingRefusesBadRequests(t *testing.T) {
	forEachServer(t, ShardConfig{}, func(t *testing.T, s *Shard) {
		cases := []struct {
			name, req string
			status    int
			msg       string
		}{
			{"body over the cap", fmt.Sprintf("POST /v1/carts HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", MaxBodySize+1), 413, "over the limit of 65536 bytes"},
			{"header over the cap", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", readBufferSize) + "\r\n\r\n", 431, "request headers are over the limit"},
			{"malformed", "GARBAGE\r\n\r\n", 400, "malformed HTTP request"},
			{"bad content length", "POST /v1/carts HTTP/1.1\r\nHost: x\r\nContent-Length: x1\r\n\r\n", 400, "malformed HTTP request"},
		}
		for _, tc := range cases {
			r := dialRaw(t, s)
			r.write(tc.req)
			resp, body := r.read("GET")
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.msg) {
				t.Fatalf("%s: %d %s, want %d with %q", tc.name, resp.StatusCode, body, tc.status, tc.msg)
			}
			if !r.closed() {
				t.Fatalf("%s: the connection stayed open after the error", tc.name)
			}
		}
	})
}

func TestServingConnectionHandling(t *testing.T) {
	forEachServer(t, ShardConfig{}, func(t *testing.T, s *Shard) {
		// Keep-alive by default, HEAD without a body.
		r := dialRaw(t, s)
		r.write("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := r.read("HEAD")
		if resp.StatusCode != 200 || body != "" || resp.ContentLength <= 0 {
			t.Fatalf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
		}
		if resp, body := r.read("GET"); resp.StatusCode != 200 || int64(len(body)) != resp.ContentLength {
			t.Fatalf("GET after HEAD: %d %q", resp.StatusCode, body)
		}
		// Connection: close is honoured and said.
		r.write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if resp, _ := r.read("GET"); !resp.Close {
			t.Fatal("answer to Connection: close does not say close")
		}
		if !r.closed() {
			t.Fatal("connection open after Connection: close")
		}
		// HTTP/1.0 closes unless asked to keep alive.
		r = dialRaw(t, s)
		r.write("GET /healthz HTTP/1.0\r\n\r\n")
		if resp, _ := r.read("GET"); resp.StatusCode != 200 || !r.closed() {
			t.Fatalf("HTTP/1.0: %d, want 200 and a close", resp.StatusCode)
		}
		r = dialRaw(t, s)
		r.write("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if resp, _ := r.read("GET"); resp.StatusCode != 200 || !strings.EqualFold(resp.Header.Get("Connection"), "keep-alive") {
			t.Fatalf("HTTP/1.0 keep-alive: %d %v", resp.StatusCode, resp.Header)
		}
		r.write("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if resp, _ := r.read("GET"); resp.StatusCode != 200 {
			t.Fatalf("second HTTP/1.0 keep-alive request: %d", resp.StatusCode)
		}
		if o := s.stats().open.Load(); o < 1 {
			t.Fatalf("open connections %d, want at least the one kept alive", o)
		}
	})
}

func TestServingChaosBehindDelay(t *testing.T) {
	forEachServer(t, ShardConfig{ControlToken: "secret"}, func(t *testing.T, s *Shard) {
		pushChaos(t, s, ChaosState{Latency: []LatencyRule{{PathPrefix: "/v1/inventory/", Fixed: Duration(150 * time.Millisecond)}}})
		r := dialRaw(t, s)
		start := time.Now()
		r.write("GET /v1/inventory/a HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := r.read("GET"); resp.StatusCode != 200 || !strings.Contains(body, `"sku":"a"`) {
			t.Fatalf("delayed: %d %s", resp.StatusCode, body)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("latency rule of 150ms: answered after %v", d)
		}
		if resp, body := r.read("GET"); resp.StatusCode != 200 || !strings.Contains(body, `"status":"ok"`) {
			t.Fatalf("request behind the delayed one: %d %s", resp.StatusCode, body)
		}
		// Other connections are not held meanwhile.
		r.write("GET /v1/inventory/a HTTP/1.1\r\nHost: x\r\n\r\n")
		start = time.Now()
		expect(t, call(t, s, "GET", "/healthz", ""), 200, "healthz on another connection")
		if d := time.Since(start); d > 140*time.Millisecond {
			t.Logf("healthz took %v while a delayed answer was pending (a loaded machine may be slow)", d)
		}
		r.read("GET")
		// Chaos errors still apply: inventory failed answers degraded.
		pushChaos(t, s, ChaosState{InventoryFailed: true})
		r.write("GET /v1/inventory/a HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := r.read("GET"); resp.StatusCode != 200 || !strings.Contains(body, `"degraded":true`) {
			t.Fatalf("inventory failed: %d %s", resp.StatusCode, body)
		}
	})
}

func TestServingGracefulClose(t *testing.T) {
	for _, srv := range servers() {
		t.Run(srv, func(t *testing.T) {
			s, err := StartShard(ShardConfig{Server: srv, DataDir: t.TempDir(), ControlToken: "secret", Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			pushChaos(t, s, ChaosState{Latency: []LatencyRule{{PathPrefix: "/v1/inventory/", Fixed: Duration(300 * time.Millisecond)}}})
			idle := dialRaw(t, s)
			idle.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			idle.read("GET")
			busy := dialRaw(t, s)
			busy.write("GET /v1/inventory/a HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(50 * time.Millisecond) // the request is in flight
			closed := make(chan error, 1)
			start := time.Now()
			go func() { closed <- s.Close() }()
			// The request in flight is answered (and told the connection closes).
			resp, body := busy.read("GET")
			if resp.StatusCode != 200 || !strings.Contains(body, `"sku":"a"`) {
				t.Fatalf("request in flight at Close: %d %s", resp.StatusCode, body)
			}
			if !busy.closed() || !idle.closed() {
				t.Fatal("connections open after Close")
			}
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Close took %v", d)
			}
			if o := s.stats().open.Load(); o != 0 {
				t.Fatalf("open connections after Close: %d", o)
			}
			if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
				t.Fatal("still accepting after Close")
			}
		})
	}
}

func TestServingSlowReader(t *testing.T) {
	if !hasLoopServer {
		t.Skip("event loops need Linux")
	}
	// The event loop's own write path (fasthttp's server writes with blocking calls).
	t.Run(ServerLoop, func(t *testing.T) {
		s := newTestShard(t, ShardConfig{Server: ServerLoop})
		r := dialRaw(t, s)
		// A receive buffer over loopback's MSS (64 KiB): a smaller one stalls TCP itself.
		_ = r.c.(*net.TCPConn).SetReadBuffer(128 << 10)
		// Far more answers than the socket buffers hold, asked for before any is read: the
		// server must keep what it could not write and go on once the client reads.
		const n = 60000
		var reqs strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&reqs, "GET /v1/inventory/sku-%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		go func() { _, _ = io.WriteString(r.c, reqs.String()) }()
		time.Sleep(200 * time.Millisecond)
		for i := 0; i < n; i++ {
			resp, body := r.read("GET")
			if want := fmt.Sprintf(`"sku":"sku-%d"`, i); resp.StatusCode != 200 || !strings.Contains(body, want) {
				t.Fatalf("answer %d: %d %s, want %s", i, resp.StatusCode, body, want)
			}
		}
	})
}
