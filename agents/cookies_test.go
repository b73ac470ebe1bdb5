package agents

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// sessionServer logs in (POST /login sets a session cookie, HttpOnly, on
// path /shop) and serves GET /shop/cart only to a request that sends it;
// GET /other counts requests that send the cookie where its path does not
// match.
type sessionServer struct {
	logins, carts, refused, leaked atomic.Int64
}

func (ss *sessionServer) handle(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/login":
		n := ss.logins.Add(1)
		var c fasthttp.Cookie
		c.SetKey("sid")
		c.SetValue("s" + strings.Repeat("x", int(n%3)))
		c.SetPath("/shop")
		c.SetHTTPOnly(true)
		ctx.Response.Header.SetCookie(&c)
		c.SetKey("gone") // an expired cookie is not kept
		c.SetValue("1")
		c.SetMaxAge(-1)
		ctx.Response.Header.SetCookie(&c)
		ctx.SetBodyString(`{"ok":true}`)
	case "/shop/cart":
		if len(ctx.Request.Header.Cookie("sid")) == 0 || len(ctx.Request.Header.Cookie("gone")) != 0 {
			ss.refused.Add(1)
			ctx.SetStatusCode(401)
			return
		}
		ss.carts.Add(1)
		ctx.SetBodyString(`{"items":[]}`)
	case "/other":
		if len(ctx.Request.Header.Cookie("sid")) != 0 {
			ss.leaked.Add(1)
		}
	}
}

const sessionProfile = `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->3 in 0s, hold 600ms"
  think: 5ms
flows:
  - name: f
    steps:
      - {name: other, path: /other}
      - {name: login, method: POST, path: /login, body: {user: u}}
      - {name: cart, path: /shop/cart, expect: {status: 200}}
      - {name: other2, path: /other}
`

// TestCookieJar logs in (the answer sets a session cookie) and opens the
// cart, which needs it; with cookies: false the cart refuses every time.
func TestCookieJar(t *testing.T) {
	for _, off := range []bool{false, true} {
		ss := &sessionServer{}
		url := serve(t, ss.handle)
		src := sessionProfile
		if off {
			src = "cookies: false\n" + src
		}
		sum, _, err := runSwarm(t, context.Background(), load(t, src), Config{BaseURL: url})
		if err != nil {
			t.Fatal(err)
		}
		if ss.logins.Load() < 3 {
			t.Fatalf("cookies off=%v: %d logins, counts %v", off, ss.logins.Load(), sum.Overall.Counts)
		}
		if off {
			if ss.carts.Load() != 0 || ss.refused.Load() == 0 {
				t.Fatalf("cookies: false: %d carts served with a cookie, %d refused", ss.carts.Load(), ss.refused.Load())
			}
			continue
		}
		if ss.refused.Load() != 0 || ss.carts.Load() == 0 || ss.leaked.Load() != 0 {
			t.Fatalf("cookies on: %d carts, %d refused (no session cookie, or an expired one sent), %d sent the cookie outside its path",
				ss.carts.Load(), ss.refused.Load(), ss.leaked.Load())
		}
	}
}

// TestCookiesJoinTheStepsOwnHeader: the jar's cookies go into a step's own
// Cookie header (one Cookie header per request), or a new one after the
// request line.
func TestCookiesJoinTheStepsOwnHeader(t *testing.T) {
	a := &agent{s: &Swarm{prof: load(t, errorProfile)}, ep: &endpoint{host: "shop.example"}}
	var resp fasthttp.Response
	resp.Header.Set("Set-Cookie", "sid=s1; Path=/")
	a.takeCookies(&resp.Header, []byte("POST /login HTTP/1.1\r\nHost: shop.example\r\n\r\n"))
	for req, want := range map[string]string{
		"GET /cart HTTP/1.1\r\nHost: shop.example\r\nCookie: ab=b\r\nX: y\r\n\r\n":     "GET /cart HTTP/1.1\r\nHost: shop.example\r\nCookie: ab=b; sid=s1\r\nX: y\r\n\r\n",
		"GET /cart HTTP/1.1\r\nHost: shop.example\r\n\r\n":                             "GET /cart HTTP/1.1\r\nCookie: sid=s1\r\nHost: shop.example\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 9\r\n\r\nCookie: x": "POST /c HTTP/1.1\r\nCookie: sid=s1\r\nHost: shop.example\r\nContent-Length: 9\r\n\r\nCookie: x",
	} {
		if got := string(a.appendCookies([]byte(req))); got != want {
			t.Errorf("%q:\ngot  %q\nwant %q", req, got, want)
		}
	}
}
