package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// at returns "file:line:col" of the first occurrence of marker in src (the
// nth occurrence when n > 1).
func at(t *testing.T, file, src, marker string, n int) string {
	t.Helper()
	off := -1
	for i := 0; i < n; i++ {
		j := strings.Index(src[off+1:], marker)
		if j < 0 {
			t.Fatalf("marker %q (#%d) not in source", marker, n)
		}
		off += 1 + j
	}
	line := strings.Count(src[:off], "\n") + 1
	col := off - strings.LastIndex(src[:off], "\n")
	return fmt.Sprintf("%s:%d:%d:", file, line, col)
}

// loadErrs loads src and returns its errors, failing when it loads.
func loadErrs(t *testing.T, src string) LoadErrors {
	t.Helper()
	p, err := Load("t.yaml", []byte(src), t.TempDir())
	if err == nil {
		t.Fatalf("loaded a bad profile: %+v", p)
	}
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("error is %T, want LoadErrors: %v", err, err)
	}
	return les
}

// wantErr checks that one error starts with pos and contains every part.
func wantErr(t *testing.T, les LoadErrors, pos string, parts ...string) {
	t.Helper()
	for _, e := range les {
		s := e.Error()
		if !strings.HasPrefix(s, pos) {
			continue
		}
		ok := true
		for _, p := range parts {
			if !strings.Contains(s, p) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	t.Errorf("no error at %s containing %q; got:\n%v", pos, parts, les)
}

const validSrc = `name: t
target: http://127.0.0.1:9
workload:
  model: closed
  stages: "0->10 in 1s"
population:
  skus: 10
flows:
  - name: f
    steps:
      - name: a
        method: POST
        path: /x
        capture: {id: $.id}
      - name: b
        path: /y/{{id}}
`

func TestValidBaseLoads(t *testing.T) {
	p, err := Load("t.yaml", []byte(validSrc), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.BaseURL != "http://127.0.0.1:9" || p.Target.Bundled {
		t.Errorf("target = %+v", p.Target)
	}
	if len(p.Flows) != 1 || len(p.Flows[0].Steps) != 2 || p.VarCount != 1 || p.VarNames[0] != "id" {
		t.Errorf("flows/vars wrong: %d flows, vars %v", len(p.Flows), p.VarNames)
	}
	if s := p.Flows[0].Steps[1]; s.Method != "GET" || s.Timeout != 10*time.Second || s.Repeat != (Range{1, 1}) || s.Permutations != 1 {
		t.Errorf("defaults wrong: %+v", s)
	}
}

func TestEveryBuiltinValidates(t *testing.T) {
	want := []string{"agent-storm", "flash-drop", "gameday", "legacy-browse", "pricing-error", "smoke"}
	var got []string
	for _, b := range Builtins() {
		got = append(got, b.Name)
		if b.Description == "" {
			t.Errorf("%s has no description", b.Name)
		}
		p, err := Builtin(b.Name)
		if err != nil {
			t.Errorf("%s: %v", b.Name, err)
			continue
		}
		if p.Name != b.Name {
			t.Errorf("%s: name %q", b.Name, p.Name)
		}
		if !p.Target.Bundled {
			t.Errorf("%s: target is not bundled", b.Name)
		}
		if len(p.Budgets) == 0 {
			t.Errorf("%s: no budgets", b.Name)
		}
		stable := map[string]bool{"open_cart": true, "add_to_cart": true, "remove_item": true, "inventory": true, "shipping_quote": true, "checkout": true, "order_status": true}
		for _, f := range p.Flows {
			for _, s := range f.Steps {
				if !stable[s.Name] {
					t.Errorf("%s: step name %q is not one of the stable names", b.Name, s.Name)
				}
			}
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("built-ins = %v, want %v", got, want)
	}
}

func TestBuiltinShapes(t *testing.T) {
	as, err := Builtin("agent-storm")
	if err != nil {
		t.Fatal(err)
	}
	w := as.Workload
	if w.Model != Closed || w.Stages[0] != (Stage{6 * time.Second, 50000}) || w.Peak() != 50000 {
		t.Errorf("agent-storm workload = %+v", w)
	}
	if got := w.LevelAt(3 * time.Second); got != 25000 {
		t.Errorf("LevelAt(3s) = %v, want 25000", got)
	}
	checkout := as.Flow("buyer").Steps[4]
	if checkout.Name != "checkout" || checkout.tmpl.idem == nil || checkout.Retry.Max != 3 || !checkout.Retry.On5xx || !checkout.Retry.OnTimeout {
		t.Errorf("checkout = %+v", checkout)
	}
	fd, err := Builtin("flash-drop")
	if err != nil {
		t.Fatal(err)
	}
	if fd.Workload.Model != Open || !fd.Workload.TargetsInFlight() || fd.Workload.Peak() != 50000 || fd.Workload.Stages[0].Duration != 6*time.Second || fd.Population.popularity != Hot {
		t.Errorf("flash-drop = %+v", fd.Workload)
	}
	sm, err := Builtin("smoke")
	if err != nil {
		t.Fatal(err)
	}
	if sm.Workload.Peak() != 20 || sm.Workload.Duration() != 10*time.Second {
		t.Errorf("smoke = %+v", sm.Workload)
	}
	if _, err := Builtin("agent-strom"); err == nil || !strings.Contains(err.Error(), `did you mean "agent-storm"`) {
		t.Errorf("unknown built-in error = %v", err)
	}
}

func TestErrorUnknownKeys(t *testing.T) {
	src := strings.Replace(validSrc, "workload:", "workloads: 1\nworkload:", 1)
	src = strings.Replace(src, "path: /x", "paht: /x", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "workloads", 1), `unknown key "workloads" in profile`, `did you mean "workload"?`)
	wantErr(t, les, at(t, "t.yaml", src, "paht", 1), `unknown key "paht" in step`, `did you mean "path"?`)
	// Both at once, and the missing path of that step too.
	wantErr(t, les, at(t, "t.yaml", src, "name: a", 1), "step a: missing path:")
}

func TestErrorWrongTypes(t *testing.T) {
	src := strings.Replace(validSrc, "skus: 10", "skus: lots", 1)
	src = strings.Replace(src, "path: /y/{{id}}", "path: [a, b]", 1)
	src = strings.Replace(src, `stages: "0->10 in 1s"`, "stages: {to: 10}", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "lots", 1), "population.skus: expected a whole number", `got "lots"`)
	wantErr(t, les, at(t, "t.yaml", src, "[a, b]", 1), "step b: path: expected a string; got a list")
	wantErr(t, les, at(t, "t.yaml", src, "{to: 10}", 1), "workload.stages: expected a string or a list; got a mapping")
	if len(les) != 3 {
		t.Errorf("want exactly 3 errors, got:\n%v", les)
	}
}

func TestErrorBadDurations(t *testing.T) {
	src := strings.Replace(validSrc, `"0->10 in 1s"`, `"0->10 in 1x, hold 5 minutes"`, 1)
	src = strings.Replace(src, "method: POST", "method: POST\n        timeout: 5 seconds", 1)
	src = strings.Replace(src, "  model: closed", "  model: closed\n  think: exp(two)", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "1x", 1), `workload.stages: bad duration "1x"`)
	wantErr(t, les, at(t, "t.yaml", src, "hold 5", 1), `cannot read stage "hold 5 minutes"`)
	wantErr(t, les, at(t, "t.yaml", src, "5 seconds", 1), `step a timeout: bad duration "5 seconds"`, "units: ms, s, m, h")
	wantErr(t, les, at(t, "t.yaml", src, "exp(two)", 1), `workload.think: cannot read "exp(two)"`, "exp(2s)")
}

func TestErrorWeightsSumToZero(t *testing.T) {
	src := strings.Replace(validSrc, "  - name: f\n", "  - name: f\n    weight: 0\n", 1)
	src = strings.Replace(src, "  skus: 10", "  skus: 10\n  regions: {us-east: 0, eu-west: 0}", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "- name: f", 1), "flows: the weights sum to zero")
	wantErr(t, les, at(t, "t.yaml", src, "{us-east: 0", 1), "population.regions: the weights sum to zero", "above 0")
}

func TestErrorCaptureUsedBeforeSet(t *testing.T) {
	// Step a uses id, which only step b (later) captures.
	src := strings.Replace(validSrc, "path: /x", "path: /x/{{id}}", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "id}}", 1), `variable "id" is used before it is set`, `step "a" sets it at line 14`)
	// A variable set only in another flow.
	src2 := validSrc + `  - name: g
    steps:
      - name: c
        path: /z/{{id}}
`
	les = loadErrs(t, src2)
	wantErr(t, les, at(t, "t.yaml", src2, "id}}", 2), `variable "id" is used before it is set`, `only flow "f" sets it`)
}

func TestErrorUnknownTemplateVariable(t *testing.T) {
	src := strings.Replace(validSrc, "path: /x", `path: /x/{{agent.idd}}
        body: {sku: "{{skuu}}", n: "{{int 9 1}}", r: "{{pik a}}", q: "{{row.name}}", p: "{{perm.x}}"}`, 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "agent.idd", 1), `unknown variable "agent.idd"`, `did you mean "agent.id"?`)
	wantErr(t, les, at(t, "t.yaml", src, "skuu", 1), `unknown variable "skuu"`, `did you mean "sku"?`)
	wantErr(t, les, at(t, "t.yaml", src, "int 9 1", 1), "LO is above HI")
	wantErr(t, les, at(t, "t.yaml", src, "pik a", 1), `unknown generator "pik"`, `did you mean "pick"?`)
	wantErr(t, les, at(t, "t.yaml", src, "row.name", 1), `unknown data column "row.name"`, "customers are generated")
	wantErr(t, les, at(t, "t.yaml", src, "perm.x", 1), `unknown permutation list "perm.x"`, "this step has none")
	src = strings.Replace(validSrc, "/y/{{id}}", "/y/{{id", 1)
	les = loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "{{id", 1), "unclosed {{")
}

func TestErrorDataFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bad.csv", "id,name\nc-1,Ada\nc-2,Bob,extra\n")
	write("bad.jsonl", "{\"sku\": \"a\"}\n{\"sku\": \"b\"}\n{\"sku\": [1]}\n")
	src := strings.Replace(validSrc, "  skus: 10", `  skus: {file: bad.jsonl}
  customers: {file: bad.csv}
  addresses: {file: missing.csv}`, 1)
	_, err := Load(filepath.Join(dir, "t.yaml"), []byte(src), dir)
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("err = %v", err)
	}
	pf := filepath.Join(dir, "t.yaml")
	wantErr(t, les, filepath.Join(dir, "bad.csv")+":3:", "wrong number of fields")
	wantErr(t, les, filepath.Join(dir, "bad.jsonl")+":3:1:", `field "sku" is an object or list`)
	wantErr(t, les, at(t, pf, src, "bad.csv", 1), `data file "bad.csv" is malformed`)
	wantErr(t, les, at(t, pf, src, "missing.csv", 1), `cannot read data file "missing.csv"`, "relative to the profile's directory")
}

func TestDataFilesRows(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.csv"), []byte("id,name,city\nc-1,Ada,\"Paris, FR\"\nc-2,Bob,Kyoto\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "s.jsonl"), []byte(`{"sku":"A","weight":0}`+"\n"+`{"sku":"B","weight":1}`+"\n"), 0o644)
	src := strings.Replace(validSrc, "  skus: 10", "  skus: {file: s.jsonl}\n  customers: {file: c.csv}", 1)
	src = strings.Replace(src, "path: /y/{{id}}", "path: /y/{{id}}\n        body: {who: \"{{row.name}} from {{row.city}}\", c: \"{{customer.id}}\", s: \"{{sku}}\"}", 1)
	os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(src), 0o644)
	p, err := LoadFile(filepath.Join(dir, "p.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Population.Customers() != 2 || p.Population.SKUs() != 2 {
		t.Fatalf("counts %d %d", p.Population.Customers(), p.Population.SKUs())
	}
	c := newTestContext(p)
	c.Customer = 0
	req := string(p.Flows[0].Steps[1].AppendRequest(nil, "h", c))
	if !strings.HasSuffix(req, `{"who":"Ada from Paris, FR","c":"c-1","s":"B"}`) {
		t.Errorf("request body wrong:\n%s", req)
	}
}

func TestErrorYAMLSyntax(t *testing.T) {
	les := loadErrs(t, "name: x\nflows:\n  - a: [1, 2\n")
	if les[0].Line == 0 || !strings.Contains(les[0].Msg, "invalid YAML") {
		t.Errorf("got %v", les)
	}
	les = loadErrs(t, "")
	wantErr(t, les, "t.yaml:1:1:", "empty profile")
	les = loadErrs(t, "- 1\n")
	wantErr(t, les, "t.yaml:1:1:", "profile: expected a mapping")
}

func TestErrorTargetAndRegions(t *testing.T) {
	src := strings.Replace(validSrc, "target: http://127.0.0.1:9", "target: bundeld", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "bundeld", 1), "is not a base URL", `did you mean "bundled"?`)
	src = strings.Replace(validSrc, "target: http://127.0.0.1:9", "target: {us-east: http://127.0.0.1:1}", 1)
	src = strings.Replace(src, "  skus: 10", "  skus: 10\n  regions: {us-east: 1, eu-west: 1}", 1)
	les = loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "eu-west", 1), `region "eu-west" has no base URL in target:`)
}

func TestErrorsAllAtOnceSorted(t *testing.T) {
	src := strings.Replace(validSrc, "model: closed", "model: closd", 1)
	src = strings.Replace(src, "path: /y/{{id}}", "path: /y/{{idd}}", 1)
	src = strings.Replace(src, "name: t\n", "name: t\nbudgets: [{a: 1}]\n", 1)
	les := loadErrs(t, src)
	if len(les) != 3 {
		t.Fatalf("want 3 errors, got:\n%v", les)
	}
	for i := 1; i < len(les); i++ {
		if les[i].Line < les[i-1].Line {
			t.Errorf("errors not in file order:\n%v", les)
		}
	}
	if !strings.Contains(les.Error(), "\n") {
		t.Errorf("Error() should be one line per error")
	}
}

func TestStagesForms(t *testing.T) {
	for _, tc := range []struct {
		stages string
		want   []Stage
	}{
		{`"0->50000 in 6s, hold 60s, ->0 in 5s"`, []Stage{{6 * time.Second, 50000}, {time.Minute, 50000}, {5 * time.Second, 0}}},
		{`"100->200 in 1s"`, []Stage{{0, 100}, {time.Second, 200}}},
		{`"0→50k in 6s"`, []Stage{{6 * time.Second, 50000}}},
		{"[{to: 10, over: 2s}, {hold: 1s}, \"->0 in 1s\"]", []Stage{{2 * time.Second, 10}, {time.Second, 10}, {time.Second, 0}}},
	} {
		src := strings.Replace(validSrc, `"0->10 in 1s"`, tc.stages, 1)
		p, err := Load("t.yaml", []byte(src), "")
		if err != nil {
			t.Errorf("%s: %v", tc.stages, err)
			continue
		}
		if fmt.Sprint(p.Workload.Stages) != fmt.Sprint(tc.want) {
			t.Errorf("%s: stages %v, want %v", tc.stages, p.Workload.Stages, tc.want)
		}
	}
}

func TestYAMLMergeKeys(t *testing.T) {
	// Anchors may live in chaos: (kept raw); steps merge them with <<.
	src := strings.Replace(validSrc, "flows:\n", `chaos:
  defaults: &post
    method: POST
    timeout: 3s
flows:
`, 1)
	src = strings.Replace(src, "      - name: b\n", "      - <<: *post\n        name: b\n        timeout: 1s\n", 1)
	p, err := Load("t.yaml", []byte(src), "")
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	b := p.Flows[0].Steps[1]
	if b.Method != "POST" || b.Timeout != time.Second {
		t.Errorf("merged step: method %s timeout %v, want POST (merged) and 1s (written)", b.Method, b.Timeout)
	}
	if p.Chaos == nil || p.Chaos.Kind != yaml.MappingNode {
		t.Error("chaos section not kept")
	}
}

// TestPackageDocExampleLoads keeps the example in the package doc valid.
func TestPackageDocExampleLoads(t *testing.T) {
	src, err := os.ReadFile("profile.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "//\tname: my-storm") {
			in = true
		}
		if in {
			if !strings.HasPrefix(line, "//\t") {
				break
			}
			lines = append(lines, strings.TrimPrefix(line, "//\t"))
		}
	}
	if len(lines) < 20 {
		t.Fatalf("example not found (%d lines)", len(lines))
	}
	p, err := Load("doc.yaml", []byte(strings.Join(lines, "\n")), "")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Flows[0].Steps[1]; s.Permutations != 4 || s.Repeat != (Range{2, 6}) || len(s.Captures) != 2 {
		t.Errorf("doc example step = %+v", s)
	}
}

func TestErrorHeaderLineBreak(t *testing.T) {
	src := strings.Replace(validSrc, "path: /x\n", "path: /x\n        headers: {X-A: \"a\\r\\nEvil: 1\"}\n        idempotency_key: \"k\\n\"\n", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, `"a\r`, 1), "header X-A has a line break")
	wantErr(t, les, at(t, "t.yaml", src, `"k\n`, 1), "idempotency_key has a line break")
}

func TestErrorMiscellaneous(t *testing.T) {
	for _, tc := range []struct {
		old, new string // replacement in validSrc
		marker   string // where the error must point
		want     string
	}{
		{"model: closed", "model: closed\n  max_agents: 5", "5", "applies to the open model only"},
		{"path: /x", "path: /x\n        permute_mode: each", "each", "permute_mode without permute:"},
		{"path: /x", "path: /x\n        permute: {a: [1, 2], b: [1, 2]}\n        permute_mode: all", "all", `permute_mode "all"`},
		{"path: /x", "path: /x\n        body: {\"{{id}}\": 1}", `"{{id}}"`, "has a template; expected a literal key"},
		{"method: POST", "method: PO ST", "PO ST", "is not an HTTP method"},
		{"path: /x", "path: x", "x\n", "must start with /"},
		{"path: /x", "path: /x y", " y", "expected no spaces"},
		{"path: /x", "path: /x\n        headers: {Content-Length: 5}", "Content-Length", "set by agentstorm"},
		{"  - name: f\n", "  - name: f\n    steps: [{name: z, path: /}]\n  - name: f\n", "f\n", "duplicate flow name"},
		{"path: /x", "path: /x\n        path: /y", "path: /y", `duplicate key "path"`},
		{"skus: 10", "skus: {count: 10, popularity: hot, hot: sku-00011}", "sku-00011", "SKU ids run from sku-00001 to sku-00010"},
		{"skus: 10", "skus: {count: 10, popularity: uniform, exponent: 2}", "2}", "applies to popularity: zipf only"},
		{"capture: {id: $.id}", "capture: {id: {json: a, header: B}}", "B}", "has both json: and header:"},
		{"path: /x", "path: /x\n        expect: {status: 2xx}", "2xx", "expected a whole number"},
		{"path: /x", "path: /x\n        repeat: 5..2", "5..2", "expected MIN..MAX"},
		{"path: /x", "path: /x\n        set: {agent.id: x}", "agent.id", "is a built-in variable"},
		{"path: /x", "path: /x\n        retry: {max: 11}", "11", "out of range"},
		{"path: /x", "path: /x%zz", "%zz", "bad percent-escape"},
		{"path: /x", "path: /x\n        permute: {d: [\"{{sku}}\"]}", `"{{sku}}"`, "has a template; expected literal values"},
		{`"0->10 in 1s"`, `"0->0 in 1s"`, `"0->0`, "every level is 0"},
		{`"0->10 in 1s"`, `"->10 in 0s"`, `"->10`, "the plan lasts 0s"},
	} {
		src := strings.Replace(validSrc, tc.old, tc.new, 1)
		if src == validSrc {
			t.Fatalf("replacement %q not applied", tc.old)
		}
		les := loadErrs(t, src)
		n := 1
		if tc.want == "duplicate flow name" {
			n = 2 // the second flow named f
		}
		wantErr(t, les, at(t, "t.yaml", src, tc.marker, n), tc.want)
	}
}

// A flow whose every step repeats 0 times would make an agent loop without
// sending or thinking: it is an error at the flow's steps.
func TestErrorFlowSendsNothing(t *testing.T) {
	src := strings.Replace(validSrc, "        capture: {id: $.id}\n", "        capture: {id: $.id}\n        repeat: 0\n", 1)
	src = strings.Replace(src, "path: /y/{{id}}\n", "path: /y/{{id}}\n        repeat: 0..0\n", 1)
	les := loadErrs(t, src)
	wantErr(t, les, at(t, "t.yaml", src, "- name: a", 1), "every step repeats 0 times")
	if _, err := Load("t.yaml", []byte(strings.Replace(src, "repeat: 0..0", "repeat: 0..1", 1)), ""); err != nil {
		t.Errorf("a flow that may send a request was refused: %v", err)
	}
}
