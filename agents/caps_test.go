package agents

import (
	"context"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/report"
)

// TestAnswerCaps: an answer over the body or header cap is recorded in its
// own class (body_too_large, header_too_large), with the cap and the flag
// that raises it among the failures; a raised cap reads the same answer.
func TestAnswerCaps(t *testing.T) {
	bigBody := strings.Repeat("b", 300<<10)
	bigHeader := strings.Repeat("h", 20<<10)
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/body":
			ctx.SetBodyString(bigBody)
		case "/header":
			ctx.Response.Header.Set("X-Big", bigHeader)
			ctx.SetBodyString("ok")
		}
	})
	for _, c := range []struct {
		name, path         string
		maxBody, maxHeader int
		want               report.Outcome
		failure            string
	}{
		{"body over", "/body", 256 << 10, 0, report.BodyTooLarge, "body over the 256 KiB cap (--max-body-size)"},
		{"body raised", "/body", 512 << 10, 0, report.OK, ""},
		{"header over", "/header", 0, 16 << 10, report.HeaderTooLarge, "header over the 16 KiB cap (--max-header-size)"},
		{"header raised", "/header", 0, 32 << 10, report.OK, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			prof := load(t, "target: http://127.0.0.1:1\nworkload:\n  model: closed\n  stages: \"0->2 in 0s, hold 400ms\"\n  think: 50ms\n"+
				"flows:\n  - name: f\n    steps:\n      - {name: get, method: GET, path: "+c.path+"}\n")
			sum, s, err := runSwarm(t, context.Background(), prof, Config{BaseURL: base, MaxBodySize: c.maxBody, MaxHeaderSize: c.maxHeader})
			if err != nil {
				t.Fatal(err)
			}
			all := sum.Overall
			if all.Count == 0 || all.Counts[c.want] != all.Count {
				t.Fatalf("counts %v, want every request %s", all.Counts, c.want)
			}
			found := c.failure == ""
			for _, f := range s.Failures() {
				found = found || f.Kind == c.failure
			}
			if !found {
				t.Errorf("failures %+v lack %q", s.Failures(), c.failure)
			}
		})
	}
}
