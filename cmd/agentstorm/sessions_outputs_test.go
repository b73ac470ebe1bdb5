package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// slowCartServer answers add-to-cart after 150 ms and checkout at once, on
// loopback until the test ends.
func slowCartServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if strings.HasPrefix(string(ctx.Path()), "/cart") {
			time.Sleep(150 * time.Millisecond)
		}
		ctx.SetStatusCode(200)
		ctx.SetBodyString(`{}`)
	}}
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Shutdown(); <-done })
	return "http://" + ln.Addr().String()
}

// TestRunSessionOutputs runs agents with 100 ms patience against an
// add-to-cart that answers in 150 ms: every session is abandoned there,
// slow, before the sale; the JSON, markdown, JUnit and HTML outputs and
// the hlog re-rendered by `report` all say so with the same counts.
func TestRunSessionOutputs(t *testing.T) {
	base := slowCartServer(t)
	prof := writeProfile(t, `name: impatient
patience: 100ms
workload:
  model: closed
  stages: "0->4 in 0s, hold 30s"
  think: 10ms
flows:
  - name: buyer
    steps:
      - {name: add_to_cart, method: POST, path: /cart, body: {a: 1}}
      - {name: checkout, method: POST, path: /checkout, body: {a: 1}, sale: true}
`)
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	code, out, errOut := runIt(t, nil, "--profile", prof, "--target", base, "--duration", "2s",
		"--out", "json="+path("run.json"), "--out", "md="+path("run.md"), "--out", "junit="+path("run.xml"),
		"--out", "html="+path("run.html"), "--out", "hlog="+path("run.hlog"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	j := readJSONFile[sessionsOut](t, path("run.json"))
	o := j.Overall.Sessions
	if o == nil || o.Ended < 10 || o.Abandoned != o.Ended || o.AbandonedBy.Slow != o.Abandoned || o.Lost != o.Abandoned || o.Sales != 0 || o.Share != 1 {
		t.Fatalf("overall sessions %+v: want every one abandoned at add_to_cart, slow, its sale lost", o)
	}
	if a := j.Steps[0].Sessions; a == nil || a.Abandoned != o.Abandoned || j.Steps[1].Sessions.Ended != 0 {
		t.Errorf("per step: %+v, %+v", a, j.Steps[1].Sessions)
	}
	var perSecond int64
	for _, p := range j.Series {
		if p.Sessions != nil {
			perSecond += p.Sessions.Abandoned
		}
	}
	if perSecond != o.Abandoned {
		t.Errorf("the seconds add up to %d abandoned, the run %d", perSecond, o.Abandoned)
	}
	n := strconv.FormatInt(o.Abandoned, 10)
	read := func(name string) string {
		b, err := os.ReadFile(path(name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if md := read("run.md"); !strings.Contains(md, "**Agents skipped you: 100.0% of "+commas(int(o.Ended))+" sessions abandoned (slow add_to_cart 100.0%)") ||
		!strings.Contains(md, "| add_to_cart | "+commas(int(o.Abandoned))+" | 100.00% | "+commas(int(o.Abandoned))+" | 0 | 0 |") {
		t.Errorf("markdown:\n%s", md)
	}
	if x := read("run.xml"); !strings.Contains(x, `<property name="sessions_abandoned" value="`+n+`">`) || !strings.Contains(x, "abandoned at add_to_cart: 100.00%") {
		t.Errorf("junit:\n%s", x)
	}
	if h := read("run.html"); !strings.Contains(h, `<table id="sessions-steps">`) || !strings.Contains(h, `"abandoned":[`) {
		t.Errorf("the html report lacks the sessions table or the abandonment chart's data")
	}
	var o2, e2 runBuffer
	if code := runCLI(t.Context(), &cliEnv{stdout: &o2, stderr: &e2}, []string{"report", path("run.hlog"), "--out", "json=" + path("again.json")}); code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, e2.String())
	}
	if again := readJSONFile[sessionsOut](t, path("again.json")).Overall.Sessions; again == nil || *again != *o {
		t.Errorf("re-rendered from the hlog: %+v, the run said %+v", again, o)
	}
}

// sessionsOut is the part of the JSON summary with session outcomes.
type sessionsOut struct {
	Overall struct {
		Sessions *sessionFigures `json:"sessions"`
	} `json:"overall"`
	Steps []struct {
		Sessions *sessionFigures `json:"sessions"`
	} `json:"steps"`
	Series []struct {
		Sessions *sessionFigures `json:"sessions"`
	} `json:"series"`
}

type sessionFigures struct {
	Ended, Completed, Abandoned, Failed, Sales int64
	AbandonedBy                                struct{ Slow, Error, Timeout int64 } `json:"abandoned_by"`
	Share                                      float64                              `json:"abandoned_share"`
	Lost                                       int64                                `json:"lost_sales"`
}
