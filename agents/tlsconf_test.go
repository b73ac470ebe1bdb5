package agents

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate for dnsName (a server) or for a client,
// and returns its certificate and key PEM.
func (ca *testCA) issue(t *testing.T, dnsName string, client bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		tmpl.DNSNames = []string{dnsName}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// mtlsServer starts an https server on loopback whose certificate, issued by
// serverCA, names only shop.internal, and which requires a client
// certificate issued by clientCA.
func mtlsServer(t *testing.T, serverCA, clientCA *testCA) *httptest.Server {
	t.Helper()
	certPEM, keyPEM := serverCA.issue(t, "shop.internal", false)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
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
	serverCA, clientCA, otherCA := newTestCA(t, "server CA"), newTestCA(t, "client CA"), newTestCA(t, "stranger CA")
	srv := mtlsServer(t, serverCA, clientCA)
	writeFile(t, dir, "ca.pem", serverCA.pem)
	c, k := clientCA.issue(t, "agent", true)
	writeFile(t, dir, "client.pem", c)
	writeFile(t, dir, "client.key", k)
	c, k = otherCA.issue(t, "agent", true)
	writeFile(t, dir, "stranger.pem", c)
	writeFile(t, dir, "stranger.key", k)

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
