package profiles

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"
)

// stepTemplates is a step's compiled request.
type stepTemplates struct {
	pop      *Population
	path     template
	headers  []headerTemplate
	hasHost  bool
	hasCType bool
	hasUA    bool
	body     template
	hasBody  bool
	bodyJSON bool
	idem     *template // Idempotency-Key value; nil when the step has none
	sets     []setTemplate
	sendLen  bool // send Content-Length even without a body (POST, PUT, PATCH)
	bodyStr  []byte
	reads    []int    // variable slots the step reads that it does not set itself
	varNames []string // the profile's slot names, for Unset
}

type headerTemplate struct {
	name []byte // "Name: "
	val  template
}

type setTemplate struct {
	slot int
	val  template
}

// PickFlow draws a flow by weight.
func (p *Profile) PickFlow(r *rand.Rand) *Flow {
	return p.Flows[pickCum(p.flowCum, r.Float64())]
}

// Flow returns the flow named name, or nil.
func (p *Profile) Flow(name string) *Flow {
	for _, f := range p.Flows {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// AppendRequest appends a complete HTTP/1.1 request for the step to dst and
// returns it: the request line (Context.PathPrefix + path), Host (host, unless
// the step sets Host), User-Agent agentstorm, the step's headers, the
// Idempotency-Key, Content-Type and Content-Length when there is a body, a
// blank line and the body. The bytes can be written to a connection as they
// are. In steady state (buffers grown) it does not allocate.
//
// The first call after Context.StartExecution (or the first for a different
// step) renders the step's set: variables and its Idempotency-Key; later
// calls for the same execution (retries) reuse them.
func (s *Step) AppendRequest(dst []byte, host string, c *Context) []byte {
	t := &s.tmpl
	if c.execStart || c.execStep != s {
		c.execStart = false
		c.execStep = s
		for i := range t.sets {
			st := &t.sets[i]
			c.scratch2 = st.val.render(c.scratch2[:0], c, t.pop)
			if c.Vars != nil && st.slot < len(c.Vars.vals) {
				c.Vars.Set(st.slot, c.scratch2)
			}
		}
		c.idemKey = c.idemKey[:0]
		if t.idem != nil {
			c.idemKey = t.idem.render(c.idemKey, c, t.pop)
		}
	}
	dst = append(dst, s.Method...)
	dst = append(dst, ' ')
	dst = append(dst, c.PathPrefix...)
	dst = t.path.render(dst, c, t.pop)
	dst = append(dst, " HTTP/1.1\r\n"...)
	if !t.hasHost {
		dst = append(dst, "Host: "...)
		dst = append(dst, host...)
		dst = append(dst, "\r\n"...)
	}
	if !t.hasUA {
		dst = append(dst, "User-Agent: agentstorm\r\n"...)
	}
	for i := range t.headers {
		h := &t.headers[i]
		dst = append(dst, h.name...)
		dst = h.val.render(dst, c, t.pop)
		dst = append(dst, "\r\n"...)
	}
	if t.idem != nil {
		dst = append(dst, "Idempotency-Key: "...)
		dst = append(dst, c.idemKey...)
		dst = append(dst, "\r\n"...)
	}
	if t.hasBody {
		c.scratch = t.body.render(c.scratch[:0], c, t.pop)
		if !t.hasCType {
			dst = append(dst, "Content-Type: application/json\r\n"...)
		}
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(len(c.scratch)), 10)
		dst = append(dst, "\r\n\r\n"...)
		return append(dst, c.scratch...)
	}
	if t.sendLen {
		dst = append(dst, "Content-Length: 0\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// Unset returns the name of a variable the step's request reads that is not
// set in c (a capture of an earlier step failed or timed out), or "" when
// every variable it reads is set. A swarm may end the session instead of
// sending a request with an empty value (such as /v1/carts//items).
func (s *Step) Unset(c *Context) string {
	for _, slot := range s.tmpl.reads {
		if c.Vars == nil || slot >= len(c.Vars.set) || !c.Vars.set[slot] {
			return s.tmpl.varNames[slot]
		}
	}
	return ""
}

// Capture applies the step's captures to an answer: a gjson path into body
// (a JSON string is stored without its quotes, anything else as its raw JSON
// text) or a response header through headerValue (which returns nil when the
// header is absent). Every capture that can be applied is; the error names
// the first that could not.
func (s *Step) Capture(body []byte, headerValue func(name string) []byte, c *Context) error {
	var first error
	for i := range s.Captures {
		cp := &s.Captures[i]
		if c.Vars == nil || cp.Slot >= len(c.Vars.vals) {
			return fmt.Errorf("step %s: capture %s: the context has no variable slot %d; use Profile.NewVars of the step's profile", s.Name, cp.Var, cp.Slot)
		}
		switch cp.Source {
		case CaptureJSON:
			res := gjson.Get(bytesView(body), cp.Path)
			if !res.Exists() {
				if first == nil {
					first = fmt.Errorf("step %s: capture %s: JSON path %q is not in the answer", s.Name, cp.Var, cp.Path)
				}
				continue
			}
			v := c.Vars.vals[cp.Slot][:0]
			if res.Type == gjson.String {
				v = append(v, res.Str...)
			} else {
				v = append(v, res.Raw...)
			}
			c.Vars.vals[cp.Slot] = v
			c.Vars.set[cp.Slot] = true
		case CaptureHeader:
			var v []byte
			if headerValue != nil {
				v = headerValue(cp.Path)
			}
			if v == nil {
				if first == nil {
					first = fmt.Errorf("step %s: capture %s: header %q is not in the answer", s.Name, cp.Var, cp.Path)
				}
				continue
			}
			c.Vars.Set(cp.Slot, v)
		}
	}
	return first
}

// Check tests an answer against the step's expectations. failure is a short
// class for counting: "status", "json:PATH" or "body".
func (s *Step) Check(status int, body []byte) (ok bool, failure string) {
	e := &s.Expect
	if len(e.Status) == 0 {
		if status < 200 || status > 299 {
			return false, "status"
		}
	} else if !slices.Contains(e.Status, status) {
		return false, "status"
	}
	for i := range e.JSON {
		je := &e.JSON[i]
		res := gjson.Get(bytesView(body), je.Path)
		if !res.Exists() {
			return false, je.class
		}
		got := res.Raw
		if res.Type == gjson.String {
			got = res.Str
		}
		match := false
		for k, v := range je.Values {
			if v == got || res.Type == gjson.Number && res.Num == je.nums[k] {
				match = true
				break
			}
		}
		if !match {
			return false, je.class
		}
	}
	if len(s.tmpl.bodyStr) > 0 && !bytes.Contains(body, s.tmpl.bodyStr) {
		return false, "body"
	}
	return true, ""
}

// bytesView views b as a string without copying. The string must not be
// kept after b changes: Capture and Check only read it while they run, and
// copy what they keep.
func bytesView(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
