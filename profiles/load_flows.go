package profiles

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var stepKeys = []string{"name", "method", "path", "headers", "body", "set", "capture", "expect", "timeout", "repeat", "retry", "idempotency_key", "permute", "permute_mode", "redirects", "compression", "target", "patience", "sale"}

const (
	defaultTimeout  = 10 * time.Second
	maxPermutations = 10000
	maxRepeat       = 100000
	maxBodyNodes    = 100000
	maxBodyDepth    = 64
)

// varSetter is a step that sets a variable (capture: or set:).
type varSetter struct {
	flow, step string
	line       int
}

// prepass walks the flows once to give every captured or set variable a
// slot and to remember where it is set, for "used before set" hints.
func (l *loader) prepass(flows *yaml.Node) {
	for _, fl := range flows.Content {
		fl = deref(fl)
		if fl.Kind != yaml.MappingNode {
			continue
		}
		flowName, steps := "", (*yaml.Node)(nil)
		for i := 0; i+1 < len(fl.Content); i += 2 {
			switch fl.Content[i].Value {
			case "name":
				flowName = deref(fl.Content[i+1]).Value
			case "steps":
				steps = deref(fl.Content[i+1])
			}
		}
		if steps == nil || steps.Kind != yaml.SequenceNode {
			continue
		}
		for _, st := range steps.Content {
			st = deref(st)
			if st.Kind != yaml.MappingNode {
				continue
			}
			stepName := ""
			var sets []*yaml.Node
			for i := 0; i+1 < len(st.Content); i += 2 {
				switch st.Content[i].Value {
				case "name":
					stepName = deref(st.Content[i+1]).Value
				case "capture", "set":
					if m := deref(st.Content[i+1]); m.Kind == yaml.MappingNode {
						for j := 0; j < len(m.Content); j += 2 {
							sets = append(sets, m.Content[j])
						}
					}
				}
			}
			for _, k := range sets {
				if !validVarName(k.Value) || isBuiltinName(k.Value) {
					continue
				}
				if _, ok := l.vars[k.Value]; !ok {
					l.vars[k.Value] = len(l.p.VarNames)
					l.p.VarNames = append(l.p.VarNames, k.Value)
				}
				l.setters = append(l.setters, namedSetter{k.Value, varSetter{flowName, stepName, k.Line}})
			}
		}
	}
	l.p.VarCount = len(l.p.VarNames)
}

type namedSetter struct {
	name string
	s    varSetter
}

func isBuiltinName(s string) bool {
	return contains(builtinVars, s) || s == "int" || s == "pick" || strings.HasPrefix(s, "perm.") || strings.HasPrefix(s, "row.")
}

// resolveVar implements tmplEnv.
func (l *loader) resolveVar(name string) (int, string, string, bool) {
	if l.defined[name] {
		return l.vars[name], "", "", true
	}
	if _, ok := l.vars[name]; ok {
		var here, elsewhere *varSetter
		for i := range l.setters {
			s := &l.setters[i]
			if s.name != name {
				continue
			}
			if s.s.flow == l.flow && here == nil {
				here = &s.s
			} else if elsewhere == nil {
				elsewhere = &s.s
			}
		}
		hint := ""
		switch {
		case here != nil:
			hint = fmt.Sprintf("step %q sets it at line %d, which runs after this template; move the capture earlier", here.step, here.line)
		case elsewhere != nil:
			hint = fmt.Sprintf("only flow %q sets it (step %q, line %d); each session starts with no variables", elsewhere.flow, elsewhere.step, elsewhere.line)
		}
		return 0, fmt.Sprintf("variable %q is used before it is set; expected a capture: or set: of an earlier step in flow %q", name, l.flow), hint, false
	}
	known := append([]string{}, builtinVars...)
	for v := range l.defined {
		known = append(known, v)
	}
	return 0, fmt.Sprintf("unknown variable %q; expected a built-in variable, a generator or a variable captured by an earlier step", name), didYouMean(name, known), false
}

// perm implements tmplEnv.
func (l *loader) perm(name string) ([]string, int, bool, bool, string) {
	ps := l.curPerm
	if ps == nil {
		return nil, 0, false, false, "perm.NAME reads the permute: lists of the step; this step has none"
	}
	stride := 1
	for i := len(ps.keys) - 1; i >= 0; i-- {
		k := ps.keys[i]
		if name == k || name+"s" == k || name+"es" == k {
			return ps.values[i], stride, ps.single, true, ""
		}
		stride *= len(ps.values[i])
	}
	known := make([]string, len(ps.keys))
	for i, k := range ps.keys {
		known[i] = "perm." + k
	}
	return nil, 0, false, false, didYouMean("perm."+name, known)
}

// rowCol implements tmplEnv.
func (l *loader) rowCol(name string) (int, string, bool) {
	t := l.p.Population.customerRows
	if t == nil && l.customersBroken {
		return 0, "population.customers has an error, see above", false
	}
	if t == nil {
		return 0, "row.COL reads a column of population.customers.file; the customers are generated", false
	}
	if c := t.col(name); c >= 0 {
		return c, "", true
	}
	known := make([]string, len(t.cols))
	for i, c := range t.cols {
		known[i] = "row." + c
	}
	return 0, didYouMean("row."+name, known), false
}

func (l *loader) flows(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		l.errf(n, "flows: is a list; each flow has name:, weight: and steps:", "flows: expected a non-empty list of flows; got %s", kindName(n))
		return
	}
	l.prepass(n)
	var weights []float64
	names := map[string]int{}
	for _, fn := range n.Content {
		fn = deref(fn)
		f := l.fields(fn, "flow", []string{"name", "weight", "steps", "patience"})
		if f == nil {
			continue
		}
		flow := &Flow{Weight: 1, Line: fn.Line}
		if nn := f["name"]; nn != nil {
			flow.Name, _ = l.str(nn, "flow name")
			if line, dup := names[flow.Name]; dup {
				l.errf(nn, fmt.Sprintf("the other is at line %d", line), "duplicate flow name %q; expected unique names", flow.Name)
			}
			names[flow.Name] = nn.Line
		} else {
			l.errf(fn, "e.g. name: shopper", "flow: missing name:")
		}
		if w := f["weight"]; w != nil {
			v, ok := l.number(w, "flow "+flow.Name+" weight")
			if ok && v < 0 {
				l.errf(w, "use 0 to switch a flow off", "flow %s: weight %v is negative; expected >= 0", flow.Name, v)
				v = 0
			}
			flow.Weight = v
		}
		if pn := f["patience"]; pn != nil {
			flow.Patience = l.patience(pn, "flow "+flow.Name+" patience")
		}
		weights = append(weights, flow.Weight)
		l.flow = flow.Name
		l.defined = map[string]bool{}
		steps := f["steps"]
		if steps == nil {
			l.errf(fn, "each step is an HTTP request: name:, method:, path:", "flow %s: missing steps:", flow.Name)
		} else if steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
			l.errf(steps, "each step is an HTTP request: name:, method:, path:", "flow %s: steps: expected a non-empty list; got %s", flow.Name, kindName(steps))
		} else {
			for _, sn := range steps.Content {
				if st := l.step(deref(sn)); st != nil {
					flow.Steps = append(flow.Steps, st)
				}
			}
			if sendsNothing(flow.Steps) {
				l.errf(steps, "give at least one step repeat: 1 or more", "flow %s: every step repeats 0 times; expected a flow that sends at least one request", flow.Name)
			}
		}
		l.p.Flows = append(l.p.Flows, flow)
	}
	if len(weights) == len(n.Content) {
		cum, ok := cumulate(weights)
		if !ok {
			l.errf(n, "give at least one flow a weight above 0", "flows: the weights sum to zero; expected a positive sum")
		}
		l.p.flowCum = cum
	}
}

// sendsNothing reports whether steps (all of them parsed) never send a
// request: an agent running such a flow would loop without sending or
// thinking.
func sendsNothing(steps []*Step) bool {
	for _, st := range steps {
		if st.Repeat.Max > 0 {
			return false
		}
	}
	return len(steps) > 0
}

var (
	stepNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	tokenRe    = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	bracketRe  = regexp.MustCompile(`\[(\d+)\]`)
	methodRe   = regexp.MustCompile(`^[A-Z]+$`)
)

func (l *loader) step(n *yaml.Node) *Step {
	f := l.fields(n, "step", stepKeys)
	if f == nil {
		return nil
	}
	s := &Step{Method: "GET", Timeout: defaultTimeout, Repeat: Range{1, 1}, Permutations: 1, Line: n.Line, Column: n.Column}
	s.tmpl.pop = l.p.Population
	if nn := f["name"]; nn != nil {
		s.Name, _ = l.str(nn, "step name")
		if s.Name != "" && !stepNameRe.MatchString(s.Name) {
			l.errf(nn, "use letters, digits and _ (reports key on it), e.g. add_to_cart", "step name %q has spaces or symbols; expected a word like add_to_cart", s.Name)
		}
	} else {
		l.errf(n, "e.g. name: add_to_cart (reports group latencies by step name)", "step: missing name:")
	}
	what := "step " + s.Name
	if m := f["method"]; m != nil {
		v, _ := l.str(m, what+" method")
		v = strings.ToUpper(v)
		if !methodRe.MatchString(v) {
			l.errf(m, "e.g. GET, POST, PUT, PATCH, DELETE", "%s: method %q is not an HTTP method", what, m.Value)
		}
		s.Method = v
	}
	l.curPerm = nil
	if pm := f["permute"]; pm != nil {
		l.permute(pm, f["permute_mode"], s, what)
	} else if pm := f["permute_mode"]; pm != nil {
		l.errf(pm, "add permute: {destinations: [...], carriers: [...]}", "%s: permute_mode without permute:", what)
	}
	if set := f["set"]; set != nil {
		for _, kv := range l.pairs(set, what+" set", "a map of variable to template") {
			name := kv[0].Value
			if !validVarName(name) || isBuiltinName(name) {
				l.badVarName(kv[0], what)
				continue
			}
			t := l.scalarTemplate(kv[1], escNone, what+" set "+name)
			s.tmpl.sets = append(s.tmpl.sets, setTemplate{slot: l.vars[name], val: t})
			l.defined[name] = true
		}
	}
	if p := f["path"]; p != nil {
		l.path(p, s, what)
	} else {
		l.errf(n, "e.g. path: /v1/carts/{{cart_id}}/items", "%s: missing path:", what)
	}
	if h := f["headers"]; h != nil {
		l.headers(h, s, what)
	}
	if ik := f["idempotency_key"]; ik != nil {
		if s.tmpl.idem != nil {
			l.errf(ik, "keep one of them", "%s: idempotency_key and an Idempotency-Key header are both set", what)
		}
		switch {
		case ik.Kind == yaml.ScalarNode && ik.Tag == "!!bool":
			if ik.Value == "true" || ik.Value == "True" || ik.Value == "TRUE" {
				t, _ := compileTemplate("{{uuid}}", escHeader, l, nil)
				s.tmpl.idem = &t
			}
		case strings.ContainsAny(ik.Value, "\r\n"):
			l.errf(ik, "a header value is one line", "%s: idempotency_key has a line break", what)
		default:
			t := l.scalarTemplate(ik, escHeader, what+" idempotency_key")
			s.tmpl.idem = &t
		}
	}
	if b := f["body"]; b != nil {
		l.body(b, s, what)
	}
	if c := f["capture"]; c != nil {
		l.captures(c, s, what)
	}
	if e := f["expect"]; e != nil {
		l.expect(e, s, what)
	}
	if c := f["compression"]; c != nil {
		l.stepCompression(c, s, what)
	}
	if t := f["target"]; t != nil {
		l.stepTarget(t, s, what)
	}
	s.Redirects = DefaultRedirects
	if r := f["redirects"]; r != nil {
		if v, ok := l.integer(r, what+" redirects", 0, MaxRedirects); ok {
			s.Redirects = int(v)
		}
	}
	if t := f["timeout"]; t != nil {
		d, ok := l.duration(t, what+" timeout")
		if ok && d <= 0 {
			l.errf(t, "", "%s: timeout must be above 0", what)
		} else if ok {
			s.Timeout = d
		}
	}
	if r := f["repeat"]; r != nil {
		s.Repeat = l.repeat(r, what)
	}
	if r := f["retry"]; r != nil {
		s.Retry = l.retry(r, what)
	}
	if pn := f["patience"]; pn != nil {
		s.Patience = l.patience(pn, what+" patience")
	}
	if sn := f["sale"]; sn != nil {
		l.sale(sn, what+" sale", s)
	}
	switch s.Method {
	case "POST", "PUT", "PATCH":
		s.tmpl.sendLen = true
	}
	s.tmpl.varNames = l.p.VarNames
	s.tmpl.reads = readSlots(&s.tmpl)
	return s
}

// readSlots lists the variable slots a step's templates read, leaving out
// those its own set: assigns.
func readSlots(t *stepTemplates) []int {
	own := map[int]bool{}
	for _, st := range t.sets {
		own[st.slot] = true
	}
	seen := map[int]bool{}
	var out []int
	add := func(tm *template) {
		if tm == nil {
			return
		}
		for _, sg := range tm.segs {
			if sg.kind == segVar && !own[sg.slot] && !seen[sg.slot] {
				seen[sg.slot] = true
				out = append(out, sg.slot)
			}
		}
	}
	add(&t.path)
	add(&t.body)
	add(t.idem)
	for i := range t.headers {
		add(&t.headers[i].val)
	}
	for i := range t.sets {
		add(&t.sets[i].val)
	}
	return out
}

// scalarTemplate compiles a scalar's value as a template, reporting errors
// at their column.
func (l *loader) scalarTemplate(n *yaml.Node, esc escMode, what string) template {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errf(n, "", "%s: expected a string (a template); got %s", what, kindName(n))
		return template{}
	}
	t, errs := compileTemplate(n.Value, esc, l, l.spans[n])
	for _, e := range errs {
		l.errAt(n, e.off, e.hint, "%s: %s", what, e.msg)
	}
	return t
}

func (l *loader) path(p *yaml.Node, s *Step, what string) {
	if p.Kind != yaml.ScalarNode {
		l.errf(p, "e.g. path: /v1/carts", "%s: path: expected a string; got %s", what, kindName(p))
		return
	}
	v := p.Value
	action := func(i int) bool { // a template action starts at i
		return strings.HasPrefix(v[i:], "{{") && l.varAt(p, i) == "" && l.varAt(p, i+1) == ""
	}
	if !strings.HasPrefix(v, "/") && !action(0) {
		l.errAt(p, 0, "the base URL comes from target:; the path starts at /", "%s: path %q must start with /", what, v)
		return
	}
	for i := 0; i < len(v); i++ {
		// Template actions ({{int 1 9}}) may hold spaces; their output is
		// escaped for the path when rendered, so only the literal parts are checked.
		if action(i) {
			if end := strings.Index(v[i:], "}}"); end >= 0 {
				i += end + 1
				continue
			}
		}
		bad, badPct := v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '#', v[i] == '%' && (i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]))
		if name := l.varAt(p, i); name != "" && (bad || badPct) {
			// Say which variable, not which byte: it may be a secret.
			l.errAt(p, i, "percent-encode the value as it goes on the wire, e.g. %20 for a space and %25 for %", "%s: path: the value of ${%s} has a space, control, #, non-ASCII byte or bad percent-escape", what, name)
			return
		}
		if bad {
			l.errAt(p, i, "percent-encode it, e.g. %20 for a space", "%s: path has %q at offset %d; expected no spaces, controls, # or non-ASCII bytes", what, string(v[i]), i)
			return
		}
		if badPct {
			l.errAt(p, i, "write %25 for a literal %", "%s: path has a bad percent-escape at offset %d; expected %% and two hex digits", what, i)
			return
		}
	}
	s.tmpl.path = l.scalarTemplate(p, escPath, what+" path")
}

func (l *loader) headers(h *yaml.Node, s *Step, what string) {
	for _, kv := range l.pairs(h, what+" headers", "a map of header name to value") {
		name := kv[0].Value
		if !tokenRe.MatchString(name) {
			l.errf(kv[0], "header names are letters, digits and -", "%s: %q is not a header name", what, name)
			continue
		}
		switch strings.ToLower(name) {
		case "content-length", "transfer-encoding":
			l.errf(kv[0], "remove it", "%s: %s is set by agentstorm from the body", what, name)
			continue
		case "host":
			s.tmpl.hasHost = true
		case "user-agent":
			s.tmpl.hasUA = true
		case "content-type":
			s.tmpl.hasCType = true
		case "idempotency-key":
			// Rendered once per execution and reused on retries.
			if strings.ContainsAny(kv[1].Value, "\r\n") {
				l.errf(kv[1], "a header value is one line", "%s: header %s has a line break", what, name)
				continue
			}
			t := l.scalarTemplate(kv[1], escHeader, what+" header "+name)
			s.tmpl.idem = &t
			continue
		}
		if strings.ContainsAny(kv[1].Value, "\r\n") {
			l.errf(kv[1], "a header value is one line", "%s: header %s has a line break", what, name)
			continue
		}
		t := l.scalarTemplate(kv[1], escHeader, what+" header "+name)
		s.tmpl.headers = append(s.tmpl.headers, headerTemplate{name: []byte(name + ": "), val: t})
	}
}

func (l *loader) permute(pm, mode *yaml.Node, s *Step, what string) {
	ps := &permSpec{}
	total := 1
	for _, kv := range l.pairs(pm, what+" permute", "a map of list name to values") {
		if !validVarName(kv[0].Value) {
			l.errf(kv[0], "e.g. destinations", "%s: %q cannot be a permute list name", what, kv[0].Value)
			continue
		}
		vals := l.stringList(kv[1], what+" permute."+kv[0].Value)
		for i, v := range vals {
			if strings.Contains(v, "{{") {
				l.errf(kv[1].Content[i], "write the values out; use {{perm.NAME}} in the body", "%s: permute.%s: %q has a template; expected literal values", what, kv[0].Value, v)
			}
		}
		if len(vals) == 0 {
			continue
		}
		ps.keys = append(ps.keys, kv[0].Value)
		ps.values = append(ps.values, vals)
		total *= len(vals)
		if total > maxPermutations {
			l.errf(kv[1], "use permute_mode: single to send the lists in one request", "%s: permute: more than %d combinations", what, maxPermutations)
			return
		}
	}
	if mode != nil {
		m, _ := l.str(mode, what+" permute_mode")
		switch m {
		case "each":
		case "single":
			ps.single = true
		default:
			l.errf(mode, didYouMean(m, []string{"each", "single"}), "%s: permute_mode %q; expected each (one request per combination) or single (one request carrying every list)", what, m)
		}
	}
	if !ps.single {
		s.Permutations = total
	}
	l.curPerm = ps
}

// singleExpr returns the expression when s is exactly one {{...}}.
func singleExpr(s string) (string, bool) {
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") || len(s) < 4 {
		return "", false
	}
	inner := s[2 : len(s)-2]
	if strings.Contains(inner, "{{") || strings.Contains(inner, "}}") {
		return "", false
	}
	return strings.TrimSpace(inner), true
}

// jsonBuilder accumulates a JSON body template.
type jsonBuilder struct {
	segs  []segment
	lit   []byte
	nodes int
}

func (b *jsonBuilder) add(t template) {
	for _, sg := range t.segs {
		if sg.kind == segLit {
			b.lit = append(b.lit, sg.lit...)
			continue
		}
		b.flush()
		b.segs = append(b.segs, sg)
	}
}

func (b *jsonBuilder) flush() {
	if len(b.lit) > 0 {
		b.segs = append(b.segs, segment{kind: segLit, lit: b.lit})
		b.lit = nil
	}
}

func (l *loader) body(n *yaml.Node, s *Step, what string) {
	s.tmpl.hasBody = true
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			l.errf(n, "remove body: for a request without one", "%s: body is empty", what)
			return
		}
		// A raw body, sent as written.
		s.tmpl.body = l.scalarTemplate(n, escNone, what+" body")
		return
	}
	s.tmpl.bodyJSON = true
	b := &jsonBuilder{}
	l.jsonValue(n, b, 0, what+" body")
	b.flush()
	s.tmpl.body = template{segs: b.segs}
}

func (l *loader) jsonValue(n *yaml.Node, b *jsonBuilder, depth int, what string) {
	n = deref(n)
	b.nodes++
	if depth > maxBodyDepth || b.nodes > maxBodyNodes {
		if b.nodes == maxBodyNodes+1 || depth == maxBodyDepth+1 {
			l.errf(n, "", "%s: the body is too large or deep; expected at most %d values and %d levels", what, maxBodyNodes, maxBodyDepth)
		}
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.lit = append(b.lit, '{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.lit = append(b.lit, ',')
			}
			k := n.Content[i]
			if strings.Contains(k.Value, "{{") {
				l.errf(k, "put the variable in the value", "%s: key %q has a template; expected a literal key", what, k.Value)
			}
			b.lit = append(b.lit, '"')
			b.lit = appendJSONEscaped(b.lit, []byte(k.Value))
			b.lit = append(b.lit, '"', ':')
			l.jsonValue(n.Content[i+1], b, depth+1, what)
		}
		b.lit = append(b.lit, '}')
	case yaml.SequenceNode:
		b.lit = append(b.lit, '[')
		for i, it := range n.Content {
			if i > 0 {
				b.lit = append(b.lit, ',')
			}
			l.jsonValue(it, b, depth+1, what)
		}
		b.lit = append(b.lit, ']')
	case yaml.ScalarNode:
		l.jsonScalar(n, b, what)
	default:
		l.errf(n, "", "%s: unsupported YAML value", what)
	}
}

func (l *loader) jsonScalar(n *yaml.Node, b *jsonBuilder, what string) {
	switch n.Tag {
	case "!!null":
		b.lit = append(b.lit, "null"...)
		return
	case "!!bool":
		if strings.EqualFold(n.Value, "true") {
			b.lit = append(b.lit, "true"...)
		} else {
			b.lit = append(b.lit, "false"...)
		}
		return
	case "!!int", "!!float":
		if v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			b.lit = strconv.AppendInt(b.lit, v, 10)
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			l.errf(n, "quote it to send a string", "%s: %s cannot be written as a JSON number", what, n.Value)
			return
		}
		b.lit = strconv.AppendFloat(b.lit, f, 'g', -1, 64)
		return
	}
	if expr, ok := singleExpr(n.Value); ok && l.varAt(n, 0) == "" {
		if rest, ok := strings.CutPrefix(expr, "perm."); ok && !strings.ContainsAny(rest, " \t") {
			if vals, _, single, found, _ := l.perm(rest); found && single {
				// One request carrying the whole list: a JSON array.
				b.lit = append(b.lit, '[')
				for i, v := range vals {
					if i > 0 {
						b.lit = append(b.lit, ',')
					}
					b.lit = append(b.lit, '"')
					b.lit = appendJSONEscaped(b.lit, []byte(v))
					b.lit = append(b.lit, '"')
				}
				b.lit = append(b.lit, ']')
				return
			}
		}
		t := l.scalarTemplate(n, escJSON, what)
		if len(t.segs) == 1 && t.segs[0].kind.numeric() {
			// "{{int 1 5}}" is a JSON number.
			t.segs[0].esc = escNone
			b.add(t)
			return
		}
		b.lit = append(b.lit, '"')
		b.add(t)
		b.lit = append(b.lit, '"')
		return
	}
	b.lit = append(b.lit, '"')
	b.add(l.scalarTemplate(n, escJSON, what))
	b.lit = append(b.lit, '"')
}

func (l *loader) captures(c *yaml.Node, s *Step, what string) {
	for _, kv := range l.pairs(c, what+" capture", "a map of variable to {json: PATH} or {header: NAME}") {
		name := kv[0].Value
		if !validVarName(name) || isBuiltinName(name) {
			l.badVarName(kv[0], what)
			continue
		}
		cp := Capture{Var: name, Slot: l.vars[name]}
		v := kv[1]
		switch v.Kind {
		case yaml.ScalarNode:
			cp.Path = v.Value
		case yaml.MappingNode:
			f := l.fields(v, what+" capture "+name, []string{"json", "header"})
			if f == nil {
				continue
			}
			j, h := f["json"], f["header"]
			switch {
			case j != nil && h != nil:
				l.errf(h, "keep one", "%s: capture %s has both json: and header:", what, name)
				continue
			case j != nil:
				cp.Path, _ = l.str(j, what+" capture "+name+" json")
				v = j
			case h != nil:
				cp.Source = CaptureHeader
				cp.Path, _ = l.str(h, what+" capture "+name+" header")
				v = h
			default:
				l.errf(v, "e.g. {json: $.cart_id} or {header: Location}", "%s: capture %s: expected json: or header:", what, name)
				continue
			}
		default:
			l.errf(v, "e.g. cart_id: {json: $.cart_id}", "%s: capture %s: expected a JSON path or {json: PATH} / {header: NAME}; got %s", what, name, kindName(v))
			continue
		}
		if cp.Source == CaptureJSON {
			cp.Path = normalizeJSONPath(cp.Path)
		} else if !tokenRe.MatchString(cp.Path) {
			l.errf(v, "e.g. Location", "%s: capture %s: %q is not a header name", what, name, cp.Path)
			continue
		}
		if cp.Path == "" {
			l.errf(v, "e.g. $.cart_id or items.0.sku", "%s: capture %s: empty path", what, name)
			continue
		}
		s.Captures = append(s.Captures, cp)
	}
	for _, cp := range s.Captures {
		l.defined[cp.Var] = true
	}
}

// normalizeJSONPath turns "$.items[0].sku" into the gjson path "items.0.sku".
func normalizeJSONPath(p string) string {
	p = strings.TrimSpace(p)
	p = strings.TrimPrefix(p, "$")
	p = bracketRe.ReplaceAllString(p, ".$1")
	return strings.TrimPrefix(p, ".")
}

func (l *loader) expect(n *yaml.Node, s *Step, what string) {
	f := l.fields(n, what+" expect", []string{"status", "json", "body"})
	if f == nil {
		return
	}
	if st := f["status"]; st != nil {
		items := []*yaml.Node{st}
		if st.Kind == yaml.SequenceNode {
			items = st.Content
		}
		for _, it := range items {
			v, ok := l.integer(it, what+" expect status", 100, 599)
			if ok {
				s.Expect.Status = append(s.Expect.Status, int(v))
			}
		}
	}
	if j := f["json"]; j != nil {
		for _, kv := range l.pairs(j, what+" expect json", "a map of JSON path to value or list of values") {
			je := JSONExpect{Path: normalizeJSONPath(kv[0].Value)}
			items := []*yaml.Node{kv[1]}
			if kv[1].Kind == yaml.SequenceNode {
				items = kv[1].Content
			}
			for _, it := range items {
				it = deref(it)
				if it.Kind != yaml.ScalarNode {
					l.errf(it, "", "%s: expect json %s: expected a value or a list of values; got %s", what, kv[0].Value, kindName(it))
					continue
				}
				v := it.Value
				switch it.Tag {
				case "!!bool":
					v = strings.ToLower(v)
				case "!!null":
					v = "null"
				}
				je.Values = append(je.Values, v)
				num := math.NaN()
				if it.Tag == "!!int" || it.Tag == "!!float" {
					if f, err := strconv.ParseFloat(strings.ReplaceAll(v, "_", ""), 64); err == nil {
						num = f
					}
				}
				je.nums = append(je.nums, num)
			}
			if je.Path == "" {
				l.errf(kv[0], "e.g. mode or $.order.status", "%s: expect json: empty path", what)
				continue
			}
			je.class = "json:" + je.Path
			s.Expect.JSON = append(s.Expect.JSON, je)
		}
	}
	if b := f["body"]; b != nil {
		s.Expect.Body, _ = l.str(b, what+" expect body")
		s.tmpl.bodyStr = []byte(s.Expect.Body)
	}
}

func (l *loader) repeat(n *yaml.Node, what string) Range {
	if n.Kind == yaml.ScalarNode {
		if a, b, ok := strings.Cut(n.Value, ".."); ok {
			lo, ok1 := parseCount(a)
			hi, ok2 := parseCount(b)
			if !ok1 || !ok2 || lo < 0 || hi < lo || hi > maxRepeat {
				l.errf(n, "e.g. repeat: 3 or repeat: 2..6", "%s: repeat %q; expected MIN..MAX with 0 <= MIN <= MAX <= %d", what, n.Value, maxRepeat)
				return Range{1, 1}
			}
			return Range{int(lo), int(hi)}
		}
	}
	v, ok := l.integer(n, what+" repeat", 0, maxRepeat)
	if !ok {
		return Range{1, 1}
	}
	return Range{int(v), int(v)}
}

func (l *loader) retry(n *yaml.Node, what string) Retry {
	r := Retry{Max: 3, Backoff: 100 * time.Millisecond, OnTimeout: true, On5xx: true}
	f := l.fields(n, what+" retry", []string{"max", "backoff", "on"})
	if f == nil {
		return Retry{}
	}
	if m := f["max"]; m != nil {
		v, _ := l.integer(m, what+" retry max", 0, 10)
		r.Max = int(v)
	}
	if b := f["backoff"]; b != nil {
		r.Backoff, _ = l.duration(b, what+" retry backoff")
	}
	if on := f["on"]; on != nil {
		r.OnTimeout, r.On5xx = false, false
		items := []*yaml.Node{on}
		if on.Kind == yaml.SequenceNode {
			items = on.Content
		}
		for _, it := range items {
			v, _ := l.str(it, what+" retry on")
			switch v {
			case "timeout":
				r.OnTimeout = true
			case "5xx":
				r.On5xx = true
			default:
				l.errf(it, didYouMean(v, []string{"timeout", "5xx"}), "%s: retry on %q; expected timeout or 5xx", what, v)
			}
		}
	}
	return r
}

// badVarName reports a capture or set: name that cannot be a variable.
func (l *loader) badVarName(k *yaml.Node, what string) {
	if isBuiltinName(k.Value) {
		l.errf(k, "choose another name, e.g. my_"+strings.ReplaceAll(k.Value, ".", "_"), "%s: %q is a built-in variable; expected a new name", what, k.Value)
		return
	}
	l.errf(k, "use letters, digits, _ and -, starting with a letter", "%s: %q cannot be a variable name", what, k.Value)
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}
