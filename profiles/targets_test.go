package profiles

import (
	"strings"
	"testing"
)

func TestNamedTargets(t *testing.T) {
	src := "targets:\n  shop: http://127.0.0.1:8/\n  auth: {url: https://127.0.0.1:9, tls: {server_name: auth.internal}}\n" +
		strings.Replace(validSrc, "        path: /x\n", "        path: /x\n        target: shop\n", 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []NamedTarget{{Name: "auth", URL: "https://127.0.0.1:9", TLS: TLS{ServerName: "auth.internal"}}, {Name: "shop", URL: "http://127.0.0.1:8"}}
	if len(p.Targets) != 2 || p.Targets[0] != want[0] || p.Targets[1] != want[1] {
		t.Fatalf("targets %+v", p.Targets)
	}
	if a, b := p.Flows[0].Steps[0], p.Flows[0].Steps[1]; a.TargetID != 2 || b.TargetID != 0 {
		t.Fatalf("step targets %d, %d; want 2 (shop), 0", a.TargetID, b.TargetID)
	}
	bad := "targets: {shop: http://127.0.0.1:8}\n" + strings.Replace(validSrc, "        path: /x\n", "        path: /x\n        target: shpo\n", 1)
	wantErr(t, loadErrs(t, bad), at(t, "t.yaml", bad, "shpo", 1), `target "shpo" is not in targets:`, `did you mean "shop"`)
	bad = "targets: {shop: ftp://x}\n" + validSrc
	wantErr(t, loadErrs(t, bad), "t.yaml:1:17:", "targets.shop", "not a base URL")
}
