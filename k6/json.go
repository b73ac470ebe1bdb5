package k6

import (
	"bytes"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// A hand-written, allocation-free reader of one k6 JSON output line:
//
//	{"type":"Point","metric":"http_req_duration","data":{"time":"…","value":12.3,"tags":{"name":"…",…}}}
//	{"type":"Metric","metric":"http_req_duration","data":{"type":"trend","contains":"time",…}}
//
// Keys may come in any order; unknown keys (and their values, whatever
// they hold) are validated and skipped. Strings are returned as slices of
// the line, unescaped into a scratch buffer only when they hold escapes.
// The whole line is checked as JSON, so a line cut short is an error.

// record is one parsed line. Its slices point into the line or into the
// parser's scratch buffers: valid until the next parse.
type record struct {
	typ      []byte // "Point" or "Metric"
	metric   []byte
	dataType []byte // Metric lines: "trend", "counter", "rate", "gauge"
	time     []byte // Point lines: RFC 3339
	value    float64
	hasValue bool
	// tags are the values of the wanted tag keys (see lineParser.keys),
	// nil when the tag is absent.
	tags [numTags][]byte
}

// The tags a point is mapped by. tagStep and tagRegion are configurable.
const (
	tagStep = iota
	tagRegion
	tagStatus
	tagExpected
	tagMethod
	tagCheck
	tagErrorCode
	tagURL
	numTags
)

// jsonParser parses lines; it is reused for every line.
type jsonParser struct {
	keys    [numTags][]byte // tag key of each wanted tag ("" never matches)
	b       []byte
	i       int
	scratch [numTags + 3][]byte // unescape buffers: tags, metric, type, time
	rec     record
}

// syntaxError is a line that is not valid JSON (or not a k6 record).
type syntaxError struct {
	col int // 1-based byte column
	msg string
}

func (e *syntaxError) Error() string { return "column " + strconv.Itoa(e.col) + ": " + e.msg }

func (p *jsonParser) fail(msg string) *syntaxError { return &syntaxError{col: p.i + 1, msg: msg} }

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

// parse parses line into p.rec.
func (p *jsonParser) parse(line []byte) (*record, *syntaxError) {
	p.b, p.i = line, 0
	p.rec = record{}
	r := &p.rec
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return nil, p.fail("expected a JSON object ({)")
	}
	p.i++
	err := p.object(func(key []byte) *syntaxError {
		switch string(key) {
		case "type":
			v, err := p.str(&p.scratch[numTags])
			r.typ = v
			return err
		case "metric":
			v, err := p.str(&p.scratch[numTags+1])
			r.metric = v
			return err
		case "data":
			return p.data()
		}
		return p.skip()
	})
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.fail("text after the end of the JSON object")
	}
	return r, nil
}

// data parses the data object (or null).
func (p *jsonParser) data() *syntaxError {
	r := &p.rec
	return p.objectOrSkip(func(key []byte) *syntaxError {
		switch string(key) {
		case "time":
			if p.peekNull() {
				return p.skip()
			}
			v, err := p.str(&p.scratch[numTags+2])
			r.time = v
			return err
		case "value":
			if p.peekNull() {
				return p.skip()
			}
			v, err := p.number()
			r.value, r.hasValue = v, err == nil
			return err
		case "type":
			if p.peekNull() {
				return p.skip()
			}
			v, err := p.str(nil)
			r.dataType = v
			return err
		case "tags":
			return p.tags()
		}
		return p.skip()
	})
}

// tags parses the tags object (or null), keeping the wanted keys' values.
func (p *jsonParser) tags() *syntaxError {
	r := &p.rec
	return p.objectOrSkip(func(key []byte) *syntaxError {
		p.ws()
		if p.i < len(p.b) && p.b[p.i] != '"' {
			return p.skip() // null or a non-string tag: not ours
		}
		for k := range p.keys {
			if len(p.keys[k]) > 0 && r.tags[k] == nil && string(p.keys[k]) == string(key) {
				v, err := p.str(&p.scratch[k])
				if v == nil {
					v = []byte{}
				}
				r.tags[k] = v
				return err
			}
		}
		return p.skip()
	})
}

// objectOrSkip parses an object at p.i with member (see object), or
// validates and skips a value of any other kind (k6 writes null for an
// absent data or tags object).
func (p *jsonParser) objectOrSkip(member func(key []byte) *syntaxError) *syntaxError {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		return p.skip()
	}
	p.i++
	return p.object(member)
}

func (p *jsonParser) peekNull() bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == 'n'
}

// object parses the members of an object whose "{" was consumed, calling
// member for each key with p.i at the value (after the colon).
func (p *jsonParser) object(member func(key []byte) *syntaxError) *syntaxError {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return nil
	}
	var keyBuf []byte
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.fail("expected a key (\"…\")")
		}
		key, err := p.str(&keyBuf)
		if err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.fail("expected : after a key")
		}
		p.i++
		if err := member(key); err != nil {
			return err
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.fail("the line ends inside an object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.fail("expected , or } after a value")
		}
	}
}

// str parses a string at p.i and returns its content: a slice of the line
// when it has no escapes, else unescaped into *buf (nil buf: the raw
// content, escapes and all, for values that are only compared).
func (p *jsonParser) str(buf *[]byte) ([]byte, *syntaxError) {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, p.fail("expected a string")
	}
	p.i++
	start := p.i
	q := bytes.IndexByte(p.b[start:], '"')
	if q < 0 {
		p.i = len(p.b)
		return nil, p.fail("the line ends inside a string")
	}
	s := p.b[start : start+q]
	if bytes.IndexByte(s, '\\') < 0 {
		p.i = start + q + 1
		return s, nil
	}
	// Escapes: find the closing quote that is not escaped.
	end := -1
	for i := start; i < len(p.b); i++ {
		if p.b[i] == '\\' {
			i++
			continue
		}
		if p.b[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		p.i = len(p.b)
		return nil, p.fail("the line ends inside a string")
	}
	s = p.b[start:end]
	p.i = end + 1
	if buf == nil {
		return s, nil
	}
	u, ok := unescape((*buf)[:0], s)
	if !ok {
		return nil, &syntaxError{col: start + 1, msg: "bad escape in a string"}
	}
	*buf = u
	return u, nil
}

// unescape appends the JSON string content s with its escapes resolved.
func unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, false
		}
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2, ok := hex4(s[i+3:]); ok && r2 >= 0xDC00 && r2 < 0xE000 {
					r = (r-0xD800)<<10 + (r2 - 0xDC00) + 0x10000
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skip validates and skips any value.
func (p *jsonParser) skip() *syntaxError {
	p.ws()
	if p.i >= len(p.b) {
		return p.fail("the line ends where a value was expected")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.str(nil)
		return err
	case c == '{':
		p.i++
		return p.object(func([]byte) *syntaxError { return p.skip() })
	case c == '[':
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("the line ends inside an array")
			}
			if p.b[p.i] == ']' {
				p.i++
				return nil
			}
			if p.b[p.i] != ',' {
				return p.fail("expected , or ] in an array")
			}
			p.i++
		}
	case c == 't':
		return p.word("true")
	case c == 'f':
		return p.word("false")
	case c == 'n':
		return p.word("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := p.number()
		return err
	}
	return p.fail("unexpected character " + strconv.QuoteRune(rune(p.b[p.i])))
}

func (p *jsonParser) word(w string) *syntaxError {
	if len(p.b)-p.i < len(w) || string(p.b[p.i:p.i+len(w)]) != w {
		return p.fail("expected " + w)
	}
	p.i += len(w)
	return nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number parses a JSON number at p.i. Plain decimals of up to 15 digits
// (k6's "459.865729") take an exact fast path; anything else goes to
// strconv.ParseFloat.
func (p *jsonParser) number() (float64, *syntaxError) {
	p.ws()
	start := p.i
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	var mant uint64
	digits, frac := 0, 0
	intStart := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		mant = mant*10 + uint64(p.b[p.i]-'0')
		digits++
		p.i++
	}
	if p.i == intStart {
		return 0, p.fail("expected a number")
	}
	slow := false
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		fs := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			mant = mant*10 + uint64(p.b[p.i]-'0')
			digits++
			frac++
			p.i++
		}
		if p.i == fs {
			return 0, p.fail("expected digits after the decimal point")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		slow = true
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		es := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == es {
			return 0, p.fail("expected digits in the exponent")
		}
	}
	if !slow && digits <= 15 && frac < len(pow10) {
		v := float64(mant) / pow10[frac]
		if neg {
			v = -v
		}
		return v, nil
	}
	v, err := strconv.ParseFloat(bytesString(p.b[start:p.i]), 64)
	if err != nil {
		return 0, &syntaxError{col: start + 1, msg: "bad number"}
	}
	return v, nil
}

// bytesString returns b as a string without copying; the string must not
// outlive b's contents (used only for immediate lookups and parses).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
