package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/agentstorm/agentstorm/internal/testpki"
)

// ownShopProfile is README's "Storm your own shop" in one: ${SHOP_URL}, a
// secret key, a login on an auth host that sets a session cookie, a
// mutual-TLS store host answering gzip, and a 302 after checkout.
const ownShopProfile = `name: own-shop
target:
  url: ${SHOP_URL}
  tls: {ca_file: ca.pem, client_cert: agent.pem, client_key: agent.key, server_name: shop.internal, min_version: "1.3"}
targets: {auth: "${AUTH_URL}"}
compression: gzip
workload:
  model: closed
  stages: "0->2 in 0s, hold 30s"
  think: 20ms
flows:
  - name: buyer
    steps:
      - {name: login, target: auth, method: POST, path: /login, body: {user: "{{customer.id}}"}}
      - name: cart
        path: /cart
        headers: {Authorization: "Bearer ${secret:SHOP_KEY}"}
        capture: {cart_id: $.cart_id}
        expect: {status: 200}
      - name: checkout
        method: POST
        path: "/carts/{{cart_id}}/checkout"
        headers: {Authorization: "Bearer ${secret:SHOP_KEY}"}
        body: {pay: card}
        capture: {order_id: $.order_id}
        expect: {status: 200}
`

// ownShop is the store host: every request needs the key and the session
// cookie the auth host set; answers are gzipped when asked; a checkout
// answers 302 to its order.
type ownShop struct {
	carts, orders, bad atomic.Int64
}

func (o *ownShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("sid")
	if r.Header.Get("Authorization") != "Bearer "+shopSecret || err != nil || c.Value == "" {
		o.bad.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var body string
	switch {
	case r.URL.Path == "/cart":
		body = fmt.Sprintf(`{"cart_id":"c-%d"}`, o.carts.Add(1))
	case strings.HasSuffix(r.URL.Path, "/checkout") && r.Method == http.MethodPost:
		http.Redirect(w, r, "/orders/o-"+strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/carts/c-"), "/checkout"), http.StatusFound)
		return
	case strings.HasPrefix(r.URL.Path, "/orders/") && r.Method == http.MethodGet:
		o.orders.Add(1)
		body = fmt.Sprintf(`{"order_id":%q}`, strings.TrimPrefix(r.URL.Path, "/orders/"))
	default:
		o.bad.Add(1)
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		io.WriteString(w, body)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	io.WriteString(zw, body)
	zw.Close()
}

// TestStormYourOwnShop runs ownShopProfile end to end, in one process and
// in two workers, and finds the secret in no output.
func TestStormYourOwnShop(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1") // workers are this test binary
	pdir := t.TempDir()
	serverCA, clientCA := testpki.NewCA(t, "staging CA"), testpki.NewCA(t, "partner CA")
	testpki.WriteFile(t, pdir, "ca.pem", serverCA.PEM)
	cert, key := clientCA.Issue(t, "agentstorm", true)
	testpki.WriteFile(t, pdir, "agent.pem", cert)
	testpki.WriteFile(t, pdir, "agent.key", key)
	prof := testpki.WriteFile(t, pdir, "shop.yaml", []byte(ownShopProfile))

	shop := &ownShop{}
	store := httptest.NewUnstartedServer(shop)
	store.TLS = testpki.MutualTLS(t, serverCA, clientCA, "shop.internal")
	store.Config.ErrorLog = log.New(io.Discard, "", 0)
	store.StartTLS()
	defer store.Close()
	var logins atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: fmt.Sprint("s", logins.Add(1)), Path: "/", HttpOnly: true})
	}))
	defer auth.Close()

	t.Setenv("SHOP_KEY", shopSecret)
	for _, workers := range []string{"1", "2"} {
		dir := t.TempDir()
		args := []string{"--profile", prof, "-e", "SHOP_URL=" + store.URL, "-e", "AUTH_URL=" + auth.URL, "--duration", "2s", "--agents", "2", "--workers", workers}
		for _, kind := range []string{"json", "junit", "markdown", "html", "hgrm", "text", "hlog"} {
			args = append(args, "--out", kind+"="+filepath.Join(dir, "run."+kind))
		}
		code, out, errOut := runIt(t, nil, args...)
		if code != exitOK {
			t.Fatalf("workers %s: exit %d\nstdout:\n%s\nstderr:\n%s", workers, code, out, errOut)
		}
		if shop.bad.Load() != 0 || shop.orders.Load() < 5 || logins.Load() < 5 {
			t.Fatalf("workers %s: %d bad requests at the store, %d orders, %d logins", workers, shop.bad.Load(), shop.orders.Load(), logins.Load())
		}
		var rep struct {
			Redirects int64
			Overall   struct{ Requests, Errors int64 }
		}
		b, err := os.ReadFile(filepath.Join(dir, "run.json"))
		if err == nil {
			err = json.Unmarshal(b, &rep)
		}
		if err != nil || rep.Overall.Errors != 0 || rep.Redirects == 0 || rep.Overall.Requests < 15 {
			t.Fatalf("workers %s: run.json %+v, %v", workers, rep, err)
		}
		if !strings.Contains(out, "Connections opened by host: auth ") || !strings.Contains(out, "Redirects followed: ") {
			t.Errorf("workers %s: no per-host connections or redirects in the summary:\n%s", workers, out)
		}
		noSecretIn(t, "workers "+workers+": stdout", out, dir)
		noSecretIn(t, "workers "+workers+": stderr", errOut, "")
	}
}
