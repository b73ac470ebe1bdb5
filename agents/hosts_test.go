package agents

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// hostServer counts a host's requests and the connections they came on.
type hostServer struct {
	mu    sync.Mutex
	conns map[uint64]bool
	reqs  atomic.Int64
	h     fasthttp.RequestHandler
}

func (hs *hostServer) handle(ctx *fasthttp.RequestCtx) {
	hs.mu.Lock()
	hs.conns[ctx.ConnID()] = true
	hs.mu.Unlock()
	hs.reqs.Add(1)
	hs.h(ctx)
}

const hostsProfile = `
target: http://127.0.0.1:1
targets: {auth: AUTH}
workload:
  model: closed
  stages: "0->2 in 0s, hold 600ms"
  think: 5ms
flows:
  - name: f
    steps:
      - {name: login, target: auth, method: POST, path: /login, body: {user: u}}
      - {name: cart, path: /shop/cart, expect: {status: 200}}
`

// TestSeveralHosts logs in on an auth host (which sets the session cookie)
// and shops on the store host with it: each step goes to its host, each
// agent opens one connection per host, counted per host.
func TestSeveralHosts(t *testing.T) {
	ss := &sessionServer{}
	auth := &hostServer{conns: map[uint64]bool{}, h: ss.handle}
	shop := &hostServer{conns: map[uint64]bool{}, h: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/login" {
			ctx.SetStatusCode(404) // logins go to the auth host only
			return
		}
		ss.handle(ctx)
	}}
	authURL, shopURL := serve(t, auth.handle), serve(t, shop.handle)
	prof := load(t, strings.Replace(hostsProfile, "AUTH", authURL, 1))
	sum, s, err := runSwarm(t, context.Background(), prof, Config{BaseURL: shopURL})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Errors != 0 || ss.logins.Load() < 5 || ss.carts.Load() < 5 || ss.refused.Load() != 0 {
		t.Fatalf("counts %v: %d logins, %d carts, %d refused", sum.Overall.Counts, ss.logins.Load(), ss.carts.Load(), ss.refused.Load())
	}
	if auth.reqs.Load() != ss.logins.Load() || shop.reqs.Load() != ss.carts.Load() {
		t.Fatalf("auth host %d requests for %d logins, store host %d for %d carts", auth.reqs.Load(), ss.logins.Load(), shop.reqs.Load(), ss.carts.Load())
	}
	st := s.Stats()
	auth.mu.Lock()
	shop.mu.Lock()
	defer auth.mu.Unlock()
	defer shop.mu.Unlock()
	if len(auth.conns) != 2 || len(shop.conns) != 2 || st.HostConnections["auth"] != 2 || st.HostConnections["target"] != 2 {
		t.Fatalf("2 agents, one kept-alive connection per host each: auth saw %d, store %d; counted %v", len(auth.conns), len(shop.conns), st.HostConnections)
	}
}

// TestPlainProfileStaysOnLoops: a profile without targets:, https or
// anything else the goroutine transport is for runs on the event loops.
func TestPlainProfileStaysOnLoops(t *testing.T) {
	if !hasPoller {
		t.Skip("no poller on this system")
	}
	for _, src := range []string{errorProfile, "compression: gzip\n" + errorProfile, sessionProfile} {
		s, _ := newSwarm(t, load(t, src), Config{BaseURL: "http://127.0.0.1:1"})
		if a := newAgent(s, 0); a.goTransport() || a.g != nil || a.hosts != nil {
			t.Fatalf("a plain profile's agent is on the goroutine transport:\n%s", src)
		}
	}
}
