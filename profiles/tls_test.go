package profiles

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
)

func TestTargetTLSLoads(t *testing.T) {
	src := strings.Replace(validSrc, "target: http://127.0.0.1:9", "target:\n  url: https://127.0.0.1:9/\n  tls: {server_name: shop.internal, min_version: \"1.3\"}", 1)
	p, err := Load("t.yaml", []byte(src), "/profiles")
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.BaseURL != "https://127.0.0.1:9" || p.Target.TLS != (TLS{ServerName: "shop.internal", MinVersion: "1.3"}) {
		t.Fatalf("target %+v", p.Target)
	}
	c, err := p.Target.TLS.Config("127.0.0.1", false)
	if err != nil || c.ServerName != "shop.internal" || c.MinVersion != tls.VersionTLS13 {
		t.Fatalf("config %+v, %v", c, err)
	}
	// A region map under regions:, beside tls:.
	src = strings.Replace(validSrc, "target: http://127.0.0.1:9", "target:\n  regions: {eu: https://eu.example}\n  tls: {min_version: \"1.2\"}", 1)
	src = strings.Replace(src, "  skus: 10", "  skus: 10\n  regions: {eu: 1}", 1)
	if p, err = Load("t.yaml", []byte(src), ""); err != nil {
		t.Fatal(err)
	}
	if p.Target.Regions["eu"] != "https://eu.example" {
		t.Fatalf("regions: %+v", p.Target)
	}
	// Flags replace field by field.
	if o := (TLS{CAFile: "a", ServerName: "s"}).Over(TLS{CAFile: "b"}); o != (TLS{CAFile: "b", ServerName: "s"}) {
		t.Fatalf("Over: %+v", o)
	}
}

func TestErrorTargetTLS(t *testing.T) {
	for _, tc := range []struct{ tls, marker, want string }{
		{`{min_version: "1.4"}`, `"1.4"`, `expected 1.0, 1.1, 1.2 or 1.3`},
		{`{client_cert: c.pem}`, `{client_cert`, `needs both client_cert and client_key`},
		{`{ca_file: missing.pem}`, `{ca_file`, `CA file: open ` + filepath.Join("DIR", "missing.pem")},
		{`{cafile: x}`, `cafile`, `unknown key "cafile"`},
	} {
		src := strings.Replace(validSrc, "target: http://127.0.0.1:9", "target:\n  url: https://127.0.0.1:9\n  tls: "+tc.tls, 1)
		dir := t.TempDir()
		_, err := Load("t.yaml", []byte(src), dir)
		if err == nil {
			t.Fatalf("%s loaded", tc.tls)
		}
		want := strings.Replace(tc.want, "DIR", dir, 1)
		if !strings.HasPrefix(err.Error(), at(t, "t.yaml", src, tc.marker, 1)) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q at %s", tc.tls, err, want, at(t, "t.yaml", src, tc.marker, 1))
		}
	}
}
