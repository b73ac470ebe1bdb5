package profiles

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Lookup returns the value of the variable name and whether it is set. The
// command line's is --env NAME=VALUE first, then the process environment.
type Lookup func(name string) (value string, ok bool)

// Redacted is what a secret's value is replaced with wherever text from a
// profile is shown.
const Redacted = "***"

// varSpan is where one ${...} (or a $${ escape) landed in a scalar's value
// after substitution: bytes [start, end) of the new value stand for bytes
// [ostart, oend) of the value as written.
type varSpan struct {
	start, end   int
	ostart, oend int
	name         string // the variable ("secret:NAME" for a secret); "" for $${
}

// scope is where in a profile a scalar sits, as far as secrets care: a
// secret may land only where its value goes on the wire and nowhere else.
type scope uint8

const (
	scopeOther   scope = iota // no secret here
	scopeRoot                 // the profile's top mapping
	scopeFlows                // flows:
	scopeFlow                 // one flow
	scopeSteps                // a flow's steps:
	scopeStep                 // one step
	scopeHeaders              // a step's headers:
	scopeWire                 // a step's path, a header value, its body
)

// field is the scope of the value of key in a mapping of scope s.
func (s scope) field(key string) scope {
	switch s {
	case scopeRoot:
		if key == "flows" {
			return scopeFlows
		}
	case scopeFlow:
		if key == "steps" {
			return scopeSteps
		}
	case scopeStep:
		switch key {
		case "path", "body":
			return scopeWire
		case "headers":
			return scopeHeaders
		}
	case scopeHeaders:
		// The Idempotency-Key is kept per order and shown by game days.
		if !strings.EqualFold(key, "Idempotency-Key") {
			return scopeWire
		}
	case scopeWire:
		return scopeWire
	}
	return scopeOther
}

// item is the scope of an item of a list of scope s.
func (s scope) item() scope {
	switch s {
	case scopeFlows:
		return scopeFlow
	case scopeSteps:
		return scopeStep
	case scopeWire:
		return scopeWire
	}
	return scopeOther
}

// secretsHint says where secrets may go.
const secretsHint = "a secret may be used only in a step's path, its header values (not Idempotency-Key) and its body, which go on the wire and into no report; write ${NAME} if the value is not secret"

// expandVars replaces every ${NAME}, ${NAME:-default} and ${secret:NAME}
// in the scalar values under root (keys are kept as written), in place,
// remembering which bytes came from variables and which values are
// secret. A plain (unquoted) scalar is re-typed from its new text (see
// plainTag), so `repeat: ${N}` is a number. When display is set, secrets are replaced by
// Redacted instead of their values and literal ${ stay escaped.
func (l *loader) expandVars(root *yaml.Node, display bool) {
	l.display = display
	l.spans = map[*yaml.Node][]varSpan{}
	l.secretNodes = map[*yaml.Node]bool{}
	l.badVars = map[*yaml.Node]bool{}
	l.expandNode(root, scopeRoot, map[*yaml.Node]bool{})
	for v := range l.secretVals {
		l.p.secrets = append(l.p.secrets, v)
	}
	// Longest first, so a secret that contains another is redacted whole.
	sort.Slice(l.p.secrets, func(i, j int) bool { return len(l.p.secrets[i]) > len(l.p.secrets[j]) })
}

func (l *loader) expandNode(n *yaml.Node, sc scope, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			l.expandNode(c, sc, seen)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			l.expandNode(c, sc.item(), seen)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if !isMerge(k) {
				l.expandNode(v, sc.field(k.Value), seen)
				continue
			}
			// Merged keys (<<: *a or <<: [*a, *b]) land in this mapping.
			if v.Kind == yaml.SequenceNode {
				for _, m := range v.Content {
					l.expandNode(m, sc, seen)
				}
				continue
			}
			l.expandNode(v, sc, seen)
		}
	case yaml.ScalarNode:
		l.expandScalar(n, sc)
	case yaml.AliasNode:
		// What it refers to was expanded at its anchor, earlier in the
		// file, maybe where a secret may be; here it may not.
		if l.holdsSecret(n.Alias, sc, map[*yaml.Node]bool{}) {
			l.errf(n, secretsHint, "this alias (*%s) brings a secret (${secret:...}) to a place that cannot hold one", n.Value)
		}
	}
}

// isMerge reports whether a mapping key is YAML's merge key (<<).
func isMerge(k *yaml.Node) bool { return k.Value == "<<" && k.Tag == "!!merge" }

// holdsSecret reports whether n, placed in scope sc, puts a secret where
// none may be.
func (l *loader) holdsSecret(n *yaml.Node, sc scope, seen map[*yaml.Node]bool) bool {
	if n == nil || seen[n] || sc == scopeWire {
		return false
	}
	seen[n] = true
	switch n.Kind {
	case yaml.ScalarNode:
		return l.secretNodes[n]
	case yaml.AliasNode:
		return l.holdsSecret(n.Alias, sc, seen)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if l.holdsSecret(c, sc.item(), seen) {
				return true
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			vs := sc.field(n.Content[i].Value)
			if isMerge(n.Content[i]) {
				vs = sc
			}
			if l.holdsSecret(n.Content[i+1], vs, seen) {
				return true
			}
		}
	}
	return false
}

// expandScalar substitutes the variables of one scalar value.
func (l *loader) expandScalar(n *yaml.Node, sc scope) {
	v := n.Value
	if !strings.Contains(v, "$") {
		return
	}
	var b strings.Builder
	var spans []varSpan
	changed := false
	for i := 0; i < len(v); {
		j := strings.IndexByte(v[i:], '$')
		if j < 0 {
			b.WriteString(v[i:])
			break
		}
		j += i
		b.WriteString(v[i:j])
		switch {
		case strings.HasPrefix(v[j:], "$${"):
			start := b.Len()
			b.WriteString(l.text("${"))
			spans = append(spans, varSpan{start: start, end: b.Len(), ostart: j, oend: j + 3})
			i, changed = j+3, true
			continue
		case !strings.HasPrefix(v[j:], "${"):
			b.WriteByte('$')
			i = j + 1
			continue
		}
		changed = true
		end := strings.IndexByte(v[j:], '}')
		if end < 0 {
			l.varErr(n, j, "${", "unclosed ${; expected ${NAME} or ${NAME:-default}", "write $${ for a literal ${")
			return
		}
		token := v[j : j+end+1]
		i = j + end + 1
		ref, ok := l.parseVarRef(n, j, token)
		if !ok {
			continue
		}
		val, set := "", false
		if l.lookup != nil {
			val, set = l.lookup(ref.name)
		}
		switch {
		case set && (val != "" || !ref.hasDefault):
		case ref.hasDefault:
			val = ref.def
		default:
			l.varErr(n, j, token, "variable "+ref.name+" is not set",
				"set it in the environment or with --env "+ref.name+"=VALUE, or give a default: ${"+ref.prefix+ref.name+":-VALUE}")
			continue
		}
		if ref.secret {
			if sc != scopeWire {
				l.varErr(n, j, token, "a secret ("+token+") cannot be used here", secretsHint)
				continue
			}
			l.secretNodes[n] = true
			if val != "" {
				l.secretVals[val] = true
			}
			if l.display {
				val = Redacted
			}
		}
		start := b.Len()
		b.WriteString(l.text(val))
		spans = append(spans, varSpan{start: start, end: b.Len(), ostart: j, oend: i, name: ref.prefix + ref.name})
	}
	if !changed {
		return
	}
	n.Value = b.String()
	if len(spans) > 0 {
		l.spans[n] = spans
	}
	if n.Style == 0 {
		n.Tag = plainTag(n.Value)
	}
}

var (
	decimalRe = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	floatRe   = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
)

// plainTag is the type of a plain (unquoted) scalar whose text came from
// variables: a decimal number, true or false, or else a string. (YAML
// would also read 0042 as octal and ~ as null: a variable's value is not
// meant so.)
func plainTag(v string) string {
	switch {
	case decimalRe.MatchString(v):
		return "!!int"
	case floatRe.MatchString(v):
		return "!!float"
	case v == "true" || v == "false":
		return "!!bool"
	}
	return "!!str"
}

// text is literal text as it goes into a value: as is when loading; with
// every ${ escaped for display, so what Resolved prints loads the same.
func (l *loader) text(s string) string {
	if l.display {
		return strings.ReplaceAll(s, "${", "$${")
	}
	return s
}

// varRef is a parsed ${...}.
type varRef struct {
	name       string
	prefix     string // "secret:" or ""
	secret     bool
	def        string
	hasDefault bool
}

// parseVarRef parses token ("${...}", at byte off of n's value).
func (l *loader) parseVarRef(n *yaml.Node, off int, token string) (varRef, bool) {
	const hint = "write ${NAME}, ${NAME:-default} or ${secret:NAME}; NAME is letters, digits and _"
	var r varRef
	body := token[2 : len(token)-1]
	if rest, ok := strings.CutPrefix(body, "secret:"); ok {
		r.secret, r.prefix, body = true, "secret:", rest
	}
	r.name = body
	if name, def, ok := strings.Cut(body, ":-"); ok {
		r.name, r.def, r.hasDefault = name, def, true
		if strings.Contains(def, "${") {
			l.varErr(n, off, token, "a default cannot hold another variable; expected literal text", hint)
			return r, false
		}
	}
	if !IsVarName(r.name) {
		l.varErr(n, off, token, "cannot read "+token+": "+strconv.Quote(r.name)+" is not a variable name", hint)
		return r, false
	}
	return r, true
}

// IsVarName reports whether s can be the NAME of ${NAME}: letters, digits
// and _, not starting with a digit (an environment variable's name).
func IsVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// varErr reports a problem with the ${...} token at byte off of n's
// original value, at the token's line and column in the file.
func (l *loader) varErr(n *yaml.Node, off int, token, msg, hint string) {
	l.badVars[n] = true
	line, col := l.tokenPos(n, off, token)
	l.errs = append(l.errs, LoadError{File: l.file, Line: line, Column: col, Msg: msg, Hint: hint})
}

// tokenPos finds token (at byte off of scalar n's value) in the source:
// the k-th occurrence of token from the scalar's start, where k counts the
// occurrences before off in the value. Escapes in a double-quoted scalar
// that spell the token differently fall back to the scalar's position.
func (l *loader) tokenPos(n *yaml.Node, off int, token string) (int, int) {
	k := strings.Count(n.Value[:off], token)
	start := l.offsetOf(n.Line, n.Column)
	if start < 0 {
		return n.Line, n.Column
	}
	src := l.src[start:]
	pos := 0
	for i := 0; ; i++ {
		j := strings.Index(src[pos:], token)
		if j < 0 {
			return n.Line, n.Column
		}
		if i == k {
			abs := start + pos + j
			line := 1 + strings.Count(l.src[:abs], "\n")
			return line, abs - strings.LastIndexByte(l.src[:abs], '\n')
		}
		pos += j + len(token)
	}
}

// offsetOf returns the byte offset of a 1-based line and column in the
// source, or -1.
func (l *loader) offsetOf(line, col int) int {
	off := 0
	for i := 1; i < line; i++ {
		j := strings.IndexByte(l.src[off:], '\n')
		if j < 0 {
			return -1
		}
		off += j + 1
	}
	if off+col-1 > len(l.src) {
		return -1
	}
	return off + col - 1
}

// varAt returns the variable whose value holds byte off of scalar n's
// value ("" when the byte was written in the file): a {{ there is text,
// not a template.
func (l *loader) varAt(n *yaml.Node, off int) string { return varAt(l.spans[n], off) }

// varAt returns the variable of spans whose value holds byte off, or "".
func varAt(spans []varSpan, off int) string {
	for _, sp := range spans {
		if off >= sp.start && off < sp.end {
			return sp.name
		}
	}
	return ""
}

// origOffset maps byte off of scalar n's value back to the value as
// written (a byte from a variable maps to its ${).
func (l *loader) origOffset(n *yaml.Node, off int) int {
	shift := 0
	for _, sp := range l.spans[n] {
		if off < sp.start {
			break
		}
		if off < sp.end {
			return sp.ostart
		}
		shift = sp.oend - sp.end
	}
	return off + shift
}

// Redact returns s with the value of every secret the profile uses
// replaced by Redacted. Anything that shows text taken from a profile's
// requests passes it through Redact; the loader's own errors already have.
func (p *Profile) Redact(s string) string {
	for _, v := range p.secrets {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return s
}
