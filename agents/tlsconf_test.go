package agents

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/internal/testpki"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// mtlsServer starts an https server on loopback whose certificate, issued by
// serverCA, names only shop.internal, and which requires a client
// certificate issued by clientCA.
func mtlsServer(t *testing.T, serverCA, clientCA *testpki.CA) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.TLS = testpki.MutualTLS(t, serverCA, clientCA, "shop.internal")
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestTargetTLS storms a mutual-TLS server with the profile's target.tls:
// its CA, a client certificate, the server name its certificate names and
// TLS 1.3. Without the client certificate, with one from a CA the server
// does not know, or without the server's CA, every request is a TLS
// outcome.
func TestTargetTLS(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := testpki.NewCA(t, "server CA"), testpki.NewCA(t, "client CA"), testpki.NewCA(t, "stranger CA")
	srv := mtlsServer(t, serverCA, clientCA)
	testpki.WriteFile(t, dir, "ca.pem", serverCA.PEM)
	c, k := clientCA.Issue(t, "agent", true)
	testpki.WriteFile(t, dir, "client.pem", c)
	testpki.WriteFile(t, dir, "client.key", k)
	c, k = otherCA.Issue(t, "agent", true)
	testpki.WriteFile(t, dir, "stranger.pem", c)
	testpki.WriteFile(t, dir, "stranger.key", k)

	profile := func(tlsBlock string) *profiles.Profile {
		src := strings.Replace(errorProfile, "target: http://127.0.0.1:1", "target:\n  url: "+srv.URL+"\n  tls: "+tlsBlock, 1)
		p, err := profiles.Load("test.yaml", []byte(src), dir)
		if err != nil {
			t.Fatalf("profile: %v", err)
		}
		return p
	}
	good := `{ca_file: ca.pem, client_cert: client.pem, client_key: client.key, server_name: shop.internal, min_version: "1.3"}`
	sum, _, err := runSwarm(t, context.Background(), profile(good), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Overall.Count < 5 || sum.Overall.Errors != 0 {
		t.Fatalf("mutual TLS with the right CA and client certificate: %d requests, counts %v", sum.Overall.Count, sum.Overall.Counts)
	}

	refused := map[string]struct {
		block string
		cfg   Config
	}{
		"no client certificate":                {`{ca_file: ca.pem, server_name: shop.internal}`, Config{}},
		"stranger's client certificate":        {`{ca_file: ca.pem, client_cert: stranger.pem, client_key: stranger.key, server_name: shop.internal}`, Config{}},
		"unknown server CA":                    {`{client_cert: client.pem, client_key: client.key, server_name: shop.internal}`, Config{}},
		"wrong server name":                    {`{ca_file: ca.pem, client_cert: client.pem, client_key: client.key}`, Config{}},
		"flag replaces the client certificate": {good, Config{TLS: profiles.TLS{ClientCert: filepath.Join(dir, "stranger.pem"), ClientKey: filepath.Join(dir, "stranger.key")}}},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			sum, _, _ := runSwarm(t, context.Background(), profile(tc.block), tc.cfg)
			if n := sum.Overall.Counts[report.TLS]; n == 0 || n != sum.Overall.Count {
				t.Fatalf("want only TLS outcomes, got %v", sum.Overall.Counts)
			}
		})
	}

	// The flags alone, over a profile without target.tls.
	p := load(t, errorProfile)
	cfg := Config{BaseURL: srv.URL, TLS: profiles.TLS{CAFile: filepath.Join(dir, "ca.pem"), ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey: filepath.Join(dir, "client.key"), ServerName: "shop.internal"}}
	if sum, _, err = runSwarm(t, context.Background(), p, cfg); err != nil || sum.Overall.Errors != 0 || sum.Overall.Count < 5 {
		t.Fatalf("mutual TLS from Config.TLS: err %v, counts %v", err, sum.Overall.Counts)
	}
}
