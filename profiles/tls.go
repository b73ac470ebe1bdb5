package profiles

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// TLS is how the swarm speaks TLS to a target: a CA file to trust instead of
// the system roots, a client certificate and key (mutual TLS), the server
// name to send and verify instead of the URL's host, and the lowest
// protocol version to accept. Empty fields keep the defaults (system roots,
// no client certificate, the URL's host, TLS 1.2). File paths in a profile
// are relative to the profile's directory.
type TLS struct {
	CAFile     string
	ClientCert string
	ClientKey  string
	ServerName string
	MinVersion string // "1.0", "1.1", "1.2" or "1.3"
}

// tlsKeys are the keys of a target's tls: block.
var tlsKeys = []string{"ca_file", "client_cert", "client_key", "server_name", "min_version"}

// IsZero reports whether t changes nothing.
func (t TLS) IsZero() bool { return t == TLS{} }

// Over returns t with every field set in o replacing t's (command-line
// flags over a profile's target.tls).
func (t TLS) Over(o TLS) TLS {
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&t.CAFile, o.CAFile}, {&t.ClientCert, o.ClientCert}, {&t.ClientKey, o.ClientKey},
		{&t.ServerName, o.ServerName}, {&t.MinVersion, o.MinVersion},
	} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return t
}

// ParseTLSVersion maps "1.0".."1.3" to crypto/tls's version constant.
func ParseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.0":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2", "":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("TLS version %q: expected 1.0, 1.1, 1.2 or 1.3", s)
}

// Config builds the client configuration for a target whose URL names
// host: it reads the CA file and the client key pair. insecure skips
// verification of the server's certificate (the client certificate is
// still sent).
func (t TLS) Config(host string, insecure bool) (*tls.Config, error) {
	min, err := ParseTLSVersion(t.MinVersion)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{ServerName: host, InsecureSkipVerify: insecure, MinVersion: min}
	if t.ServerName != "" {
		c.ServerName = t.ServerName
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", t.CAFile)
		}
	}
	switch {
	case t.ClientCert != "" && t.ClientKey != "":
		pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{pair}
	case t.ClientCert != "" || t.ClientKey != "":
		return nil, fmt.Errorf("client certificate: give both the certificate and its key")
	}
	return c, nil
}

// tls reads a target's tls: block into t.
func (l *loader) tls(n *yaml.Node, t *TLS) {
	f := l.fields(n, "target tls", tlsKeys)
	path := func(key string, dst *string) {
		if v := f[key]; v != nil {
			if s, ok := l.str(v, "target.tls."+key); ok {
				if !filepath.IsAbs(s) && l.dir != "" {
					s = filepath.Join(l.dir, s)
				}
				*dst = s
			}
		}
	}
	path("ca_file", &t.CAFile)
	path("client_cert", &t.ClientCert)
	path("client_key", &t.ClientKey)
	if v := f["server_name"]; v != nil {
		t.ServerName, _ = l.str(v, "target.tls.server_name")
	}
	if v := f["min_version"]; v != nil {
		if s, ok := l.str(v, "target.tls.min_version"); ok {
			if _, err := ParseTLSVersion(s); err != nil {
				l.errf(v, "e.g. min_version: \"1.3\"", "target.tls.min_version: %v", err)
			} else {
				t.MinVersion = s
			}
		}
	}
	if (t.ClientCert == "") != (t.ClientKey == "") {
		l.errf(n, "add client_cert: and client_key: together", "target.tls: a client certificate needs both client_cert and client_key")
		return
	}
	if _, err := t.Config("", false); err != nil {
		l.errf(n, "", "target.tls: %v", err)
	}
}
