package finish

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// summary returns a summary of a short run on one step: 100 answers of
// 5..104 ms, one error.
func summary(t *testing.T) *report.Summary {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart"}, Model: report.ModelOpen, Start: start})
	for i := 0; i < 100; i++ {
		rec.Record(0, 0, 0, time.Duration(5+i)*time.Millisecond, report.OK, 0)
	}
	rec.Record(0, 0, 0, 0, report.BadStatus, 0)
	rec.Release(rec.Rotate(start.Add(2 * time.Second)))
	return rec.Summary(2 * time.Second)
}

func budgets(t *testing.T, s *report.Summary, exprs ...string) []*budget.Budget {
	t.Helper()
	bs, err := budget.ParseAll(exprs, nil, budget.Options{Steps: s.Steps, Regions: s.Regions})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func TestFinishExitCodes(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "no-such-dir", "x.json")
	for _, c := range []struct {
		name    string
		exprs   []string
		outs    []Spec
		usage   error
		failed  error
		intr    string
		code    int
		inErr   []string
		notText bool
	}{
		{name: "ok", exprs: []string{"p99 < 1s"}, code: ExitOK},
		{name: "missed", exprs: []string{"p99 < 1ms", "errors < 10%"}, code: ExitBudgetMissed, inErr: []string{"agentstorm test: budget missed: p99 < 1ms: actual"}},
		{name: "output failed", exprs: []string{"p99 < 1s"}, outs: []Spec{{"json", blocked}}, code: ExitFailed, inErr: []string{"agentstorm test: --out json=" + blocked}},
		{name: "missed before output failed", exprs: []string{"p99 < 1ms"}, outs: []Spec{{"json", blocked}}, code: ExitBudgetMissed, inErr: []string{"--out json=", "budget missed"}},
		{name: "run failed before missed", exprs: []string{"p99 < 1ms"}, failed: errors.New("the run failed: boom"), code: ExitFailed, inErr: []string{"agentstorm test: the run failed: boom"}},
		{name: "usage first", exprs: []string{"p99 < 1ms"}, usage: errors.New("bad budget"), failed: errors.New("boom"), code: ExitUsage, inErr: []string{"agentstorm test: bad budget"}},
		{name: "interrupted before missed", exprs: []string{"p99 < 1ms"}, intr: "interrupted after 3s", code: ExitInterrupted, inErr: []string{"agentstorm test: the run was interrupted: interrupted after 3s"}},
		{name: "failed before interrupted", exprs: []string{"p99 < 1s"}, intr: "interrupted after 3s", failed: errors.New("the run failed: boom"), code: ExitFailed, inErr: []string{"the run failed: boom"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := summary(t)
			var out, errOut bytes.Buffer
			r := Run{Command: "test", Stdout: &out, Stderr: &errOut, Summary: s, Budgets: budgets(t, s, c.exprs...),
				Outputs: SummaryOutputs(append(c.outs, Spec{"text", filepath.Join(dir, c.name+".txt")})), Usage: c.usage, Failed: c.failed, Interrupted: c.intr}
			if code := r.Finish(); code != c.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, c.code, errOut.String())
			}
			for _, w := range c.inErr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if len(s.Budgets) != len(c.exprs) {
				t.Errorf("summary holds %d verdicts, want %d", len(s.Budgets), len(c.exprs))
			}
			// Every output is written whatever the verdict.
			b, err := os.ReadFile(filepath.Join(dir, c.name+".txt"))
			if err != nil || !strings.Contains(out.String(), "Wrote text: ") || !bytes.Contains(out.Bytes(), b) {
				t.Errorf("text output (%v) not written or not the summary printed", err)
			}
		})
	}
}

func TestFinishMarksAborts(t *testing.T) {
	s := summary(t)
	bs := budgets(t, s, "p99 < 1s abort", "errors < 50%")
	var out, errOut bytes.Buffer
	r := Run{Command: "report", Stdout: &out, Stderr: &errOut, Summary: s, Budgets: bs, Quiet: true,
		Aborts: []*report.Abort{nil, {Expr: "p99 < 1s abort", At: 3 * time.Second, Actual: 1500}}}
	if code := r.Finish(); code != ExitBudgetMissed {
		t.Fatalf("exit %d, want %d", code, ExitBudgetMissed)
	}
	if v := s.Budgets[0]; v.Met || !v.Aborted || v.AbortedAt != 3*time.Second || v.AbortActual != 1500 {
		t.Errorf("aborted budget's verdict %+v", v)
	}
	if !s.Budgets[1].Met {
		t.Errorf("the other budget is marked too: %+v", s.Budgets[1])
	}
	if s.Aborted == nil || s.Aborted.Expr != bs[0].Expr || s.Aborted.Source != bs[0].Source || s.Aborted.Actual != 1500 || s.Aborted.At != 3*time.Second {
		t.Errorf("summary's abort %+v", s.Aborted)
	}
	if out.Len() != 0 {
		t.Errorf("quiet run printed %q", out.String())
	}
}

func TestParseSpecs(t *testing.T) {
	dir := t.TempDir()
	specs, err := ParseSpecs([]string{"md=" + dir + "/a.md", "HLOG=" + dir + "/a.hlog"}, true)
	if err != nil || len(specs) != 2 || specs[0].Kind != "markdown" || specs[1].Kind != "hlog" {
		t.Fatalf("specs %v, %v", specs, err)
	}
	if o, ok := Find(specs, "hlog"); !ok || o.Path != dir+"/a.hlog" {
		t.Errorf("Find hlog = %v %v", o, ok)
	}
	for in, want := range map[string]string{
		"hlog=" + dir + "/x":       "unknown kind \"hlog\"",
		"pdf=" + dir + "/x":        "unknown kind \"pdf\"",
		"json":                     "want KIND=PATH",
		"json=" + dir + "/no/x.js": "does not exist",
	} {
		if _, err := ParseSpecs([]string{in}, false); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSpecs(%q) = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseSpecs([]string{"json=" + dir + "/x", "text=" + dir + "/x"}, false); err == nil || !strings.Contains(err.Error(), "written twice") {
		t.Errorf("same path twice: %v", err)
	}
	if _, err := ParseSpecs([]string{"hlog=" + dir + "/x", "hlog=" + dir + "/y"}, true); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("two hlogs: %v", err)
	}
}

// TestFinishNoAnswerIsFailed: a run whose every request failed without an
// answer (here all reset) is failed, exit 1, whatever its budgets say, and
// the summary carries why for every output.
func TestFinishNoAnswerIsFailed(t *testing.T) {
	rec := report.NewRecorder(report.Options{Steps: []string{"a"}, Model: report.ModelOpen})
	for i := 0; i < 50; i++ {
		rec.Record(0, 0, 0, 0, report.ConnReset, 0)
	}
	s := rec.Summary(time.Second)
	var out, errOut bytes.Buffer
	r := Run{Command: "test", Stdout: &out, Stderr: &errOut, Summary: s, Budgets: budgets(t, s, "errors < 100%")}
	if code := r.Finish(); code != ExitFailed {
		t.Fatalf("exit %d, want %d", code, ExitFailed)
	}
	if s.Status() != report.StatusFailed || !strings.Contains(s.Failed, "50 conn_reset") {
		t.Errorf("status %q, failed %q", s.Status(), s.Failed)
	}
}
