package profiles

import (
	"strconv"
	"strings"
)

// segKind is what one template segment renders.
type segKind uint8

const (
	segLit       segKind = iota // literal bytes
	segVar                      // a captured or set: variable (slot)
	segAgentID                  // {{agent.id}}
	segRegion                   // {{agent.region}}
	segCustomer                 // {{customer.id}}
	segSession                  // {{session}}
	segIteration                // {{iteration}}
	segSeq                      // {{seq}}
	segInt                      // {{int LO HI}}
	segPick                     // {{pick a b c}}
	segSKU                      // {{sku}}
	segUUID                     // {{uuid}}
	segAddress                  // {{address}}
	segZone                     // {{address.zone}}
	segPerm                     // {{perm.X}} in permute_mode each
	segRow                      // {{row.COL}}
)

// escMode is how a variable segment's value is escaped where it lands.
type escMode uint8

const (
	escNone    escMode = iota // raw body: verbatim
	escJSON                   // inside a JSON string
	escPath                   // a path or query component: percent-encode all but unreserved
	escPathRaw                // a whole path from a variable: percent-encode only bytes that break the request line
	escHeader                 // a header value: CR, LF and other controls become spaces
)

// segment is one piece of a compiled template.
type segment struct {
	kind  segKind
	esc   escMode
	lit   []byte   // segLit
	slot  int      // segVar: slot; segRow: column; segPerm: stride
	lo    int64    // segInt
	hi    int64    // segInt
	picks []string // segPick, segPerm
}

// template is a compiled template: literal segments and slots.
type template struct {
	segs []segment
}

// numericKinds render digits only, so a JSON value that is exactly one of
// them is written as a JSON number.
func (k segKind) numeric() bool {
	switch k {
	case segAgentID, segSession, segIteration, segSeq, segInt:
		return true
	}
	return false
}

// tmplError is a template problem at a byte offset of the template text.
type tmplError struct {
	off       int
	msg, hint string
}

// tmplEnv is what the template compiler asks the loader about names that
// are neither generators nor built-in variables.
type tmplEnv interface {
	// resolveVar resolves a captured or set: variable to its slot; ok=false
	// comes with a message and a hint.
	resolveVar(name string) (slot int, msg, hint string, ok bool)
	// perm resolves perm.NAME: the values, the stride of the index, and
	// whether the step sends all values in one request (single).
	perm(name string) (values []string, stride int, single, ok bool, hint string)
	// rowCol resolves row.NAME to a column of the customer data file.
	rowCol(name string) (col int, hint string, ok bool)
}

// builtinVars are the variables every template may name.
var builtinVars = []string{"agent.id", "agent.region", "customer.id", "session", "iteration", "seq", "sku", "uuid", "address", "address.zone"}

// maxTemplateLen bounds one template's text so a hostile file cannot make
// the compiler work without end.
const maxTemplateLen = 1 << 16

// compileTemplate compiles s. Literals are escaped for JSON when esc is
// escJSON (the caller adds the quotes). A {{ whose braces came from a
// profile variable (spans) is text. Errors carry byte offsets into s.
func compileTemplate(s string, esc escMode, env tmplEnv, spans []varSpan) (template, []tmplError) {
	var t template
	var errs []tmplError
	if len(s) > maxTemplateLen {
		return t, []tmplError{{0, "template is " + strconv.Itoa(len(s)) + " bytes long; expected at most 65536", ""}}
	}
	lit := make([]byte, 0, len(s))
	flush := func() {
		if len(lit) > 0 {
			t.segs = append(t.segs, segment{kind: segLit, lit: lit})
			lit = nil
		}
	}
	i := 0
	for i < len(s) {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			lit = appendLit(lit, s[i:], esc)
			break
		}
		if varAt(spans, i+j) != "" || varAt(spans, i+j+1) != "" {
			lit = appendLit(lit, s[i:i+j+1], esc)
			i += j + 1
			continue
		}
		lit = appendLit(lit, s[i:i+j], esc)
		open := i + j
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			errs = append(errs, tmplError{open, "unclosed {{ in template; expected }}", "write {{name}}; a literal {{ cannot be written"})
			return t, errs
		}
		expr := s[open+2 : open+2+end]
		seg, e := compileExpr(expr, open+2, env)
		if e != nil {
			errs = append(errs, *e)
		} else {
			if seg.kind == segLit {
				lit = appendLit(lit, string(seg.lit), esc)
			} else {
				flush()
				seg.esc = esc
				if esc == escPath && open == 0 && seg.kind == segVar {
					// A path that starts with a variable (a captured Location,
					// say) keeps its slashes and query.
					seg.esc = escPathRaw
				}
				t.segs = append(t.segs, seg)
			}
		}
		i = open + 2 + end + 2
	}
	flush()
	return t, errs
}

// appendLit appends literal text, escaped for JSON strings when needed.
func appendLit(dst []byte, s string, esc escMode) []byte {
	if esc == escJSON {
		return appendJSONEscaped(dst, []byte(s))
	}
	return append(dst, s...)
}

// splitExpr splits an expression into words; "double quoted" words may hold
// spaces.
func splitExpr(expr string) ([]string, bool) {
	var out []string
	i := 0
	for i < len(expr) {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t') {
			i++
		}
		if i >= len(expr) {
			break
		}
		if expr[i] == '"' {
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, false
			}
			w, err := strconv.Unquote(expr[i : j+1])
			if err != nil {
				return nil, false
			}
			out = append(out, w)
			i = j + 1
			continue
		}
		j := i
		for j < len(expr) && expr[j] != ' ' && expr[j] != '\t' {
			j++
		}
		out = append(out, expr[i:j])
		i = j
	}
	return out, true
}

// compileExpr compiles the inside of one {{...}}; off is its offset.
func compileExpr(expr string, off int, env tmplEnv) (segment, *tmplError) {
	words, ok := splitExpr(expr)
	if !ok {
		return segment{}, &tmplError{off, "unterminated quoted word in {{" + expr + "}}", `close the word with "`}
	}
	if len(words) == 0 {
		return segment{}, &tmplError{off, "empty {{}} in template; expected a variable or generator", "known: " + strings.Join(builtinVars, ", ")}
	}
	name, args := words[0], words[1:]
	noArgs := func(k segKind) (segment, *tmplError) {
		if len(args) > 0 {
			return segment{}, &tmplError{off, "{{" + name + "}} takes no arguments; got " + strconv.Itoa(len(args)), ""}
		}
		return segment{kind: k}, nil
	}
	switch name {
	case "int":
		if len(args) != 2 {
			return segment{}, &tmplError{off, "{{int}} needs two integers; expected {{int LO HI}}", "e.g. {{int 1 5}}"}
		}
		lo, e1 := strconv.ParseInt(args[0], 10, 64)
		hi, e2 := strconv.ParseInt(args[1], 10, 64)
		if e1 != nil || e2 != nil {
			return segment{}, &tmplError{off, "{{int " + args[0] + " " + args[1] + "}}: bounds must be integers; expected {{int LO HI}}", "e.g. {{int 1 5}}"}
		}
		if lo > hi || hi-lo < 0 || hi-lo > 1<<62 {
			return segment{}, &tmplError{off, "{{int " + args[0] + " " + args[1] + "}}: LO is above HI or the range is too wide; expected LO <= HI", ""}
		}
		return segment{kind: segInt, lo: lo, hi: hi}, nil
	case "pick":
		if len(args) == 0 {
			return segment{}, &tmplError{off, "{{pick}} needs at least one value; expected {{pick a b c}}", ""}
		}
		return segment{kind: segPick, picks: args}, nil
	case "sku":
		return noArgs(segSKU)
	case "uuid":
		return noArgs(segUUID)
	case "seq":
		return noArgs(segSeq)
	case "address":
		return noArgs(segAddress)
	case "address.zone":
		return noArgs(segZone)
	case "agent.id":
		return noArgs(segAgentID)
	case "agent.region":
		return noArgs(segRegion)
	case "customer.id":
		return noArgs(segCustomer)
	case "session":
		return noArgs(segSession)
	case "iteration":
		return noArgs(segIteration)
	}
	if len(args) > 0 {
		return segment{}, &tmplError{off, "unknown generator " + strconv.Quote(name) + "; expected int, pick, sku, uuid, seq or address", didYouMean(name, []string{"int", "pick", "sku", "uuid", "seq", "address"})}
	}
	if rest, ok := strings.CutPrefix(name, "perm."); ok {
		vals, stride, single, ok, hint := env.perm(rest)
		if !ok {
			return segment{}, &tmplError{off, "unknown permutation list " + strconv.Quote(name), hint}
		}
		if single {
			// One request carries the whole list: a constant.
			return segment{kind: segLit, lit: []byte(strings.Join(vals, ","))}, nil
		}
		return segment{kind: segPerm, slot: stride, picks: vals}, nil
	}
	if rest, ok := strings.CutPrefix(name, "row."); ok {
		col, hint, ok := env.rowCol(rest)
		if !ok {
			return segment{}, &tmplError{off, "unknown data column " + strconv.Quote(name), hint}
		}
		return segment{kind: segRow, slot: col}, nil
	}
	if !validVarName(name) {
		return segment{}, &tmplError{off, "unknown variable " + strconv.Quote(name), didYouMean(name, builtinVars)}
	}
	slot, msg, hint, ok := env.resolveVar(name)
	if !ok {
		return segment{}, &tmplError{off, msg, hint}
	}
	return segment{kind: segVar, slot: slot}, nil
}

// validVarName reports whether name can be a capture or set: variable.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-') {
			continue
		}
		return false
	}
	return true
}

// render appends the template to dst.
func (t *template) render(dst []byte, c *Context, pop *Population) []byte {
	for i := range t.segs {
		sg := &t.segs[i]
		if sg.kind == segLit {
			dst = append(dst, sg.lit...)
			continue
		}
		start := len(dst)
		switch sg.kind {
		case segVar:
			if c.Vars != nil && sg.slot < len(c.Vars.vals) {
				dst = append(dst, c.Vars.vals[sg.slot]...)
			}
		case segAgentID:
			dst = strconv.AppendInt(dst, int64(c.AgentID), 10)
		case segRegion:
			dst = append(dst, c.Region...)
		case segCustomer:
			dst = pop.AppendCustomerID(dst, c.Customer)
		case segSession:
			dst = strconv.AppendInt(dst, int64(c.Session), 10)
		case segIteration:
			dst = strconv.AppendInt(dst, int64(c.Iteration), 10)
		case segSeq:
			c.Seq++
			dst = strconv.AppendUint(dst, c.Seq, 10)
		case segInt:
			dst = strconv.AppendInt(dst, sg.lo+c.Rand.Int64N(sg.hi-sg.lo+1), 10)
			continue
		case segPick:
			dst = append(dst, sg.picks[c.Rand.IntN(len(sg.picks))]...)
		case segSKU:
			dst = pop.AppendSKU(dst, pop.PickSKU(c.Rand))
		case segUUID:
			dst = appendUUID(dst, c.Rand.Uint64(), c.Rand.Uint64())
			continue
		case segAddress:
			dst = pop.AppendAddress(dst, c.Address)
		case segZone:
			dst = pop.AppendZone(dst, c.Address)
		case segPerm:
			p := c.Perm
			if p < 0 {
				p = 0
			}
			dst = append(dst, sg.picks[(p/sg.slot)%len(sg.picks)]...)
		case segRow:
			if rows := pop.customerRows; rows != nil && len(rows.rows) > 0 {
				dst = append(dst, rows.rows[clampIndex(c.Customer, len(rows.rows))][sg.slot]...)
			}
		}
		dst = escapeTail(dst, start, sg.esc, c)
	}
	return dst
}

// escapeTail escapes dst[start:] in place for its destination. The common
// case (nothing to escape) costs one scan and no copy.
func escapeTail(dst []byte, start int, esc escMode, c *Context) []byte {
	if esc == escNone {
		return dst
	}
	v := dst[start:]
	clean := true
	for _, b := range v {
		if needsEscape(b, esc) {
			clean = false
			break
		}
	}
	if clean {
		return dst
	}
	c.esc = append(c.esc[:0], v...)
	dst = dst[:start]
	switch esc {
	case escJSON:
		return appendJSONEscaped(dst, c.esc)
	case escHeader:
		for _, b := range c.esc {
			if needsEscape(b, escHeader) {
				b = ' '
			}
			dst = append(dst, b)
		}
		return dst
	default:
		const hex = "0123456789ABCDEF"
		for _, b := range c.esc {
			if needsEscape(b, esc) {
				dst = append(dst, '%', hex[b>>4], hex[b&15])
			} else {
				dst = append(dst, b)
			}
		}
		return dst
	}
}

func needsEscape(b byte, esc escMode) bool {
	switch esc {
	case escJSON:
		return b < 0x20 || b == '"' || b == '\\'
	case escHeader:
		return b < 0x20 && b != '\t' || b == 0x7f
	case escPathRaw:
		return b <= 0x20 || b >= 0x7f || b == '#'
	case escPath:
		return !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_' || b == '~')
	}
	return false
}

// appendJSONEscaped appends s escaped for the inside of a JSON string.
func appendJSONEscaped(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, b := range s {
		switch {
		case b == '"' || b == '\\':
			dst = append(dst, '\\', b)
		case b == '\n':
			dst = append(dst, '\\', 'n')
		case b == '\r':
			dst = append(dst, '\\', 'r')
		case b == '\t':
			dst = append(dst, '\\', 't')
		case b < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&15])
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// appendUUID appends a random (version 4) UUID made of a and b.
func appendUUID(dst []byte, a, b uint64) []byte {
	const hex = "0123456789abcdef"
	var u [16]byte
	for i := 0; i < 8; i++ {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[x>>4], hex[x&15])
	}
	return dst
}
