package profiles

import (
	"strings"
	"testing"
)

func TestCompressionHeader(t *testing.T) {
	src := "compression: [gzip, br]\n" + strings.Replace(validSrc, "        path: /y/{{id}}\n",
		"        path: /y/{{id}}\n        headers: {accept-encoding: zstd}\n", 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	var c Context
	c.Vars = p.NewVars()
	a, b := p.Flows[0].Steps[0], p.Flows[0].Steps[1]
	if req := string(a.AppendRequest(nil, "h", &c)); !strings.Contains(req, "\r\nAccept-Encoding: gzip, br\r\n") {
		t.Errorf("profile's compression: %q", req)
	}
	if req := string(b.AppendRequest(nil, "h", &c)); strings.Count(strings.ToLower(req), "accept-encoding") != 1 {
		t.Errorf("a step's own Accept-Encoding is kept alone: %q", req)
	}
	les := loadErrs(t, "compression: gzp\n"+validSrc)
	wantErr(t, les, "t.yaml:1:14:", `"gzp" is not a coding`, `did you mean "gzip"`)
}

func TestCookiesKey(t *testing.T) {
	p, err := Load("t.yaml", []byte("cookies: false\n"+validSrc), "")
	if err != nil || !p.NoCookies {
		t.Fatalf("cookies: false: %v, NoCookies %v", err, p != nil && p.NoCookies)
	}
	if p, err = Load("t.yaml", []byte(validSrc), ""); err != nil || p.NoCookies {
		t.Fatalf("default: cookies on; got NoCookies %v, %v", p != nil && p.NoCookies, err)
	}
	wantErr(t, loadErrs(t, "cookies: off\n"+validSrc), "t.yaml:1:10:", "cookies: expected true or false")
}
