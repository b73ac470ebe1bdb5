package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env is a Lookup over a map.
func env(m map[string]string) Lookup {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// loadVars loads src with the variables vars, failing on errors.
func loadVars(t *testing.T, src string, vars map[string]string) *Profile {
	t.Helper()
	p, err := LoadWith("t.yaml", []byte(src), t.TempDir(), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadVarsErrs loads src with vars and returns its errors, failing when it
// loads.
func loadVarsErrs(t *testing.T, src string, vars map[string]string) LoadErrors {
	t.Helper()
	p, err := LoadWith("t.yaml", []byte(src), t.TempDir(), env(vars))
	var les LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("want LoadErrors, got %v (profile %+v)", err, p)
	}
	return les
}

// stepsProfile is a profile with one flow whose steps are the YAML list
// items given (indented by 6).
func stepsProfile(steps string) string {
	return "target: http://127.0.0.1:9\nworkload: {model: closed, stages: \"0->1 in 1s\"}\nflows:\n  - name: f\n    steps:\n" + steps
}

// wantIn checks that got holds every want.
func wantIn(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// request renders step i of the first flow.
func request(t *testing.T, p *Profile, i int) string {
	t.Helper()
	c := newTestContext(p)
	c.StartExecution()
	return string(p.Flows[0].Steps[i].AppendRequest(nil, "h", c))
}

const varsSrc = `name: shop-${STAGE:-dev}
target: ${SHOP_URL}
workload:
  model: closed
  stages: "0->${AGENTS:-10} in 1s"
  think: ${THINK:-none}
flows:
  - name: f
    weight: ${W}
    steps:
      - name: login
        method: POST
        path: ${API:-/api}/login
        headers:
          Authorization: "Bearer ${secret:API_KEY}"
          X-Note: "$${NOT_A_VAR} costs $5"
        body:
          user: "${USER_NAME}"
          qty: ${QTY}
          code: "${QTY}"
          pin: ${secret:PIN}
        timeout: ${TIMEOUT:-2s}
        repeat: ${REPEAT}
budgets: ["p99(login) < ${P99:-100ms}"]
`

func TestVariablesSubstituteAtLoad(t *testing.T) {
	p := loadVars(t, varsSrc, map[string]string{
		"SHOP_URL": "http://127.0.0.1:9/shop", "W": "3", "USER_NAME": `a"b`, "QTY": "4", "REPEAT": "2",
		"API_KEY": "s3cr3t-key", "PIN": "0042", "AGENTS": "", "P99": "250ms",
	})
	if p.Name != "shop-dev" || p.Target.BaseURL != "http://127.0.0.1:9/shop" {
		t.Errorf("name %q target %q", p.Name, p.Target.BaseURL)
	}
	if p.Workload.Peak() != 10 {
		t.Errorf("AGENTS set but empty: ${AGENTS:-10} gave peak %d, want the default 10", p.Workload.Peak())
	}
	if p.Flows[0].Weight != 3 {
		t.Errorf("weight %v, want 3 (a plain ${W} is a number)", p.Flows[0].Weight)
	}
	s := p.Flows[0].Steps[0]
	if s.Timeout.String() != "2s" || s.Repeat != (Range{2, 2}) {
		t.Errorf("timeout %v repeat %v", s.Timeout, s.Repeat)
	}
	if p.Budgets[0].Expr != "p99(login) < 250ms" {
		t.Errorf("budget %q", p.Budgets[0].Expr)
	}
	wantIn(t, "the request", request(t, p, 0),
		"POST /api/login HTTP/1.1\r\n",
		"Authorization: Bearer s3cr3t-key\r\n",
		"X-Note: ${NOT_A_VAR} costs $5\r\n",
		`{"user":"a\"b","qty":4,"code":"4","pin":"0042"}`)
}

// TestVariableValueIsText: a value holding {{ is sent as written, not read
// as a template.
func TestVariableValueIsText(t *testing.T) {
	src := stepsProfile(`      - name: a
        path: /x/${P}/{{agent.id}}
        headers: {X-Raw: "${RAW}-{{agent.id}}", X-Secret: "${secret:S}"}
        body: {v: "${RAW}"}
`)
	p := loadVars(t, src, map[string]string{"P": "{{seq}}", "RAW": "{{uuid}}", "S": "x{{perm.a}}"})
	wantIn(t, "the request", request(t, p, 0), "GET /x/{{seq}}/7 HTTP", "X-Raw: {{uuid}}-7\r\n", "X-Secret: x{{perm.a}}\r\n", `{"v":"{{uuid}}"}`)
}

func TestVariableErrorsArePlaced(t *testing.T) {
	src := `target: ${SHOP_URL}
workload:
  model: closed
  stages: "0->1 in 1s"
flows:
  - name: f
    steps:
      - name: a
        path: "/a/${A}/${MISSING}"
        headers:
          X-1: ${bad-name}
          X-2: ${UNCLOSED
          X-3: ${N:-${M}}
        body: |
          {"a": 1,
           "b": "${ALSO_MISSING}"}
      - name: b
        path: /${OK}/{{nope}}
`
	les := loadVarsErrs(t, src, map[string]string{"A": "1", "OK": "okay"})
	wantErr(t, les, at(t, "t.yaml", src, "${SHOP_URL}", 1), "variable SHOP_URL is not set", "--env SHOP_URL=VALUE", "${SHOP_URL:-VALUE}")
	wantErr(t, les, at(t, "t.yaml", src, "${MISSING}", 1), "variable MISSING is not set")
	wantErr(t, les, at(t, "t.yaml", src, "${bad-name}", 1), `"bad-name" is not a variable name`)
	wantErr(t, les, at(t, "t.yaml", src, "${UNCLOSED", 1), "unclosed ${", "$${")
	wantErr(t, les, at(t, "t.yaml", src, "${N:-", 1), "a default cannot hold another variable")
	wantErr(t, les, at(t, "t.yaml", src, "${ALSO_MISSING}", 1), "variable ALSO_MISSING is not set")
	// A template error after a substitution is placed as written.
	wantErr(t, les, at(t, "t.yaml", src, "nope", 1), "unknown variable")
	if strings.Contains(les.Error(), "not a base URL") {
		t.Errorf("an unset variable's value is reported again:\n%v", les)
	}
}

func TestSecretsOnlyOnTheWire(t *testing.T) {
	src := `name: ${secret:K}
target: http://127.0.0.1:9
workload: {model: closed, stages: "0->1 in 1s"}
flows:
  - name: f
    steps:
      - &first
        name: a
        path: /a
        headers: {Idempotency-Key: "${secret:K}", X-Ok: &tok "${secret:K}"}
        set: {v: "${secret:K}"}
        expect: {body: "${secret:K}"}
      - name: *tok
        path: /b
budgets: ["p99(a) < ${secret:K}", *tok]
`
	les := loadVarsErrs(t, src, map[string]string{"K": "topsecret"})
	for _, marker := range []string{"${secret:K}\n", `${secret:K}", X-Ok`, `${secret:K}"}` + "\n        expect", `${secret:K}"}` + "\n      -", `${secret:K}", *tok]`} {
		wantErr(t, les, at(t, "t.yaml", src, marker, 1), "a secret (${secret:K}) cannot be used here", "only in a step's path, its header values")
	}
	wantErr(t, les, at(t, "t.yaml", src, "*tok", 1), "this alias (*tok) brings a secret")
	wantErr(t, les, at(t, "t.yaml", src, "*tok", 2), "this alias (*tok) brings a secret")
	if strings.Contains(les.Error(), "topsecret") {
		t.Errorf("errors show the secret:\n%v", les)
	}
}

// TestSecretsRedactedInErrors: a bad value holding a secret is reported
// without it.
func TestSecretsRedactedInErrors(t *testing.T) {
	src := stepsProfile(`      - name: a
        path: ${secret:TOKEN}/x
      - name: b
        path: /t/${secret:TOKEN2}/x
      - name: c
        path: /c
        body:
          n: ${secret:NUM}
`)
	vars := map[string]string{"TOKEN": "tok-ABC123", "TOKEN2": "has space", "NUM": "1e999"}
	les := loadVarsErrs(t, src, vars)
	wantErr(t, les, at(t, "t.yaml", src, "${secret:TOKEN}", 1), "path \"***/x\" must start with /")
	wantErr(t, les, at(t, "t.yaml", src, "${secret:TOKEN2}", 1), "the value of ${secret:TOKEN2} has a space")
	wantErr(t, les, at(t, "t.yaml", src, "${secret:NUM}", 1), "*** cannot be written as a JSON number")
	for _, v := range vars {
		if strings.Contains(les.Error(), v) {
			t.Errorf("errors show the secret %q:\n%v", v, les)
		}
	}
}

func TestProfileRedact(t *testing.T) {
	src := stepsProfile(`      - name: a
        path: /a
        headers: {A: "${secret:A}", B: "${secret:B}", C: "${secret:EMPTY}", D: "${secret:UNSET:-fallback}"}
`)
	p := loadVars(t, src, map[string]string{"A": "abc", "B": "xabcx", "EMPTY": ""})
	if got := p.Redact("1 abc 2 xabcx 3 fallback"); got != "1 *** 2 *** 3 ***" {
		t.Errorf("Redact = %q", got)
	}
}

func TestTargetUserinfoRefused(t *testing.T) {
	src := `target: http://shop:hunter2@127.0.0.1:9
workload: {model: closed, stages: "0->1 in 1s"}
flows: [{name: f, steps: [{name: a, path: /a}]}]
`
	les := loadErrs(t, src)
	wantErr(t, les, "t.yaml:1:9:", "user:password@ is not supported", "${secret:SHOP_BASIC_AUTH}")
	if strings.Contains(les.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", les)
	}
}

func TestVariablesInDataFileAndRegions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "people.csv"), []byte("id,zone\nc1,10001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `target: {us-east: "${US_URL}", eu-west: "http://127.0.0.1:${EU_PORT:-8082}"}
workload: {model: closed, stages: "0->1 in 1s"}
population:
  regions: [us-east, eu-west]
  customers: {file: "${DATA_DIR}/people.csv"}
flows: [{name: f, steps: [{name: a, path: "/a/{{row.id}}"}]}]
`
	p, err := LoadWith("t.yaml", []byte(src), dir, env(map[string]string{"US_URL": "http://127.0.0.1:8081", "DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Target.Regions["us-east"] != "http://127.0.0.1:8081" || p.Target.Regions["eu-west"] != "http://127.0.0.1:8082" {
		t.Errorf("regions %v", p.Target.Regions)
	}
	if req := request(t, p, 0); !strings.Contains(req, "GET /a/c1 ") {
		t.Errorf("data file row not used: %s", req)
	}
}

// TestVariablesKeepZeroAllocs: substitution is done at load time, so a
// step with variables and secrets renders without allocating.
func TestVariablesKeepZeroAllocs(t *testing.T) {
	p := loadVars(t, varsSrc, map[string]string{"SHOP_URL": "http://127.0.0.1:9", "W": "1", "USER_NAME": "u", "QTY": "1", "REPEAT": "1", "API_KEY": "k", "PIN": "1"})
	c := newTestContext(p)
	s := p.Flows[0].Steps[0]
	buf := s.AppendRequest(nil, "h", c)
	if allocs := testing.AllocsPerRun(200, func() {
		c.StartExecution()
		buf = s.AppendRequest(buf[:0], "h", c)
	}); allocs != 0 {
		t.Errorf("AppendRequest allocates %v times", allocs)
	}
}

func TestResolvedRedactsSecrets(t *testing.T) {
	out, err := Resolved("t.yaml", []byte(varsSrc), env(map[string]string{
		"SHOP_URL": "http://127.0.0.1:9", "W": "3", "USER_NAME": "u: x", "QTY": "4", "REPEAT": "2", "API_KEY": "s3cr3t-key", "PIN": "0042",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "s3cr3t-key") || strings.Contains(s, "0042") {
		t.Errorf("Resolved shows a secret:\n%s", s)
	}
	// What Resolved prints loads to the same profile (a secret aside).
	p, err := Load("resolved.yaml", out, "")
	if err != nil {
		t.Fatalf("the resolved profile does not load: %v\n%s", err, s)
	}
	wantIn(t, "the resolved profile's request", request(t, p, 0), "Authorization: Bearer ***\r\n", `"user":"u: x"`, "X-Note: ${NOT_A_VAR} costs $5")
	if _, err := Resolved("t.yaml", []byte(varsSrc), nil); err == nil || !strings.Contains(err.Error(), "SHOP_URL is not set") {
		t.Errorf("Resolved with nothing set: %v", err)
	}
}

// TestSecretThroughMergeKey: a step merging (<<) another step's headers
// keeps the secret on the wire.
func TestSecretThroughMergeKey(t *testing.T) {
	src := stepsProfile(`      - &base {name: a, path: /a, headers: {Authorization: "Bearer ${secret:K}"}}
      - {<<: *base, name: b}
`)
	p := loadVars(t, src, map[string]string{"K": "k3y"})
	wantIn(t, "step b's request", request(t, p, 1), "GET /a HTTP/1.1\r\n", "Authorization: Bearer k3y\r\n")
}
