package profiles

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary YAML to the loader: it must return a profile or
// LoadErrors, never panic, and a loaded profile must render valid requests.
func FuzzLoad(f *testing.F) {
	for _, b := range Builtins() {
		src, _ := BuiltinSource(b.Name)
		f.Add(src)
	}
	f.Add([]byte(validSrc))
	f.Add([]byte("a: &x [*x, *x]\nflows: *x\n"))
	f.Add([]byte("workload: {model: open, stages: [{to: 5, over: 1s}, {hold: 2s}]}\nflows: [{name: a, steps: [{name: b, path: '/{{int 1 2}}', body: [1, {a: '{{seq}}'}]}]}]\n"))
	f.Add([]byte("target: ${URL:-http://h}\nworkload: {model: closed, stages: \"0->${N} in 1s\"}\nflows: [{name: a, steps: [{name: b, path: \"/${V}/$${x}\", headers: {A: \"${secret:S}\"}, body: |\n  ${V} ${secret:S} ${Z:-}\n}]}]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		p, err := LoadWith("fuzz.yaml", src, "/nonexistent-agentstorm-fuzz", env(map[string]string{"N": "3", "V": "{{seq}} a\r\nb", "S": "s\"e{c", "Z": ""}))
		if err != nil {
			if _, ok := err.(LoadErrors); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		c := &Context{Vars: p.NewVars(), Rand: rand.New(rand.NewPCG(1, 1))}
		for _, fl := range p.Flows {
			for _, s := range fl.Steps {
				c.StartExecution()
				raw := s.AppendRequest(nil, "h", c)
				if len(raw) > 1<<22 {
					continue
				}
				if _, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw))); err != nil {
					t.Fatalf("invalid request %q: %v", raw, err)
				}
				s.Check(200, raw)
				_ = s.Capture(raw, func(string) []byte { return nil }, c)
			}
		}
	})
}

// templateEnv is a fixed environment for fuzzing the template compiler.
type templateEnv struct{}

func (templateEnv) resolveVar(name string) (int, string, string, bool) {
	if name == "cart_id" {
		return 0, "", "", true
	}
	return 0, "unknown variable", "", false
}

func (templateEnv) perm(name string) ([]string, int, bool, bool, string) {
	if name == "speed" {
		return []string{"ground", "express"}, 1, false, true, ""
	}
	return nil, 0, false, false, ""
}

func (templateEnv) rowCol(string) (int, string, bool) { return 0, "", false }

// FuzzCompileTemplate compiles arbitrary template text in every escaping
// mode: no panic, offsets inside the text, and rendering stays within the
// mode's alphabet.
func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{"/v1/carts/{{cart_id}}/items", "{{int 1 5}}", `{{pick a "b c" d}}`, "{{perm.speed}}-{{uuid}}", "{{", "}}{{}}", "{{ sku }}", `{{pick "unterminated}}`, "x{{seq}}y{{agent.id}}"} {
		f.Add(s, uint8(0))
	}
	pop := &Population{regions: defaultRegions, customers: 10, customerCol: -1, addresses: 10, zones: defaultZones, zoneCol: -1, skus: 10}
	f.Fuzz(func(t *testing.T, s string, mode uint8) {
		esc := escMode(mode % 5)
		tm, errs := compileTemplate(s, esc, templateEnv{}, nil)
		for _, e := range errs {
			if e.off < 0 || e.off > len(s) {
				t.Fatalf("error offset %d outside %q", e.off, s)
			}
		}
		if len(errs) > 0 {
			return
		}
		v := &Vars{vals: [][]byte{[]byte("a\"b\r\n/ c")}, set: []bool{true}}
		c := &Context{Vars: v, Rand: rand.New(rand.NewPCG(1, 2)), Region: "eu-west"}
		out := tm.render(nil, c, pop)
		if esc == escHeader && bytes.ContainsAny(out, "\r\n") && !strings.ContainsAny(s, "\r\n") {
			t.Fatalf("header value %q has CR/LF", out)
		}
	})
}
