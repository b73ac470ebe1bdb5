package agents

import (
	"bytes"
	"net/url"
	"time"
)

// Redirects: an answer 301, 302, 303, 307 or 308 with a Location on the
// agent's own endpoint (a relative one, or the same scheme and host) is
// followed, up to the step's Redirects per attempt, on the same
// connection: the hop's request is sent in place of recording the answer,
// and the step's latency runs on from the first request to the last
// answer, within the step's one deadline. 301, 302 and 303 go on with GET
// (HEAD stays HEAD) and no body; 307 and 308 resend the method and body.
// The hop carries the step's headers, and the jar's cookies for its URL
// (a step's own Cookie header is not resent). A Location on another host
// is not followed: the 3xx is the answer.

// redirectHop prepares the hop that follows the answer to req (status and
// its headers) into a.hop, and reports whether there is one.
func (a *agent) redirectHop(status int, header func(string) []byte, req []byte) bool {
	if a.hops >= a.step.Redirects {
		return false
	}
	switch status {
	case 301, 302, 303, 307, 308:
	default:
		return false
	}
	loc := header("Location")
	if len(loc) == 0 {
		return false
	}
	from := a.requestURL(req)
	to, err := url.Parse(string(loc))
	if from == nil || err != nil {
		return false
	}
	to = from.ResolveReference(to)
	if to.Scheme != from.Scheme || to.Host != from.Host {
		return false
	}
	a.hops++
	a.s.rec.AddRedirects(1)
	a.hop = rewriteRequest(a.hop[:0], req, to.RequestURI(), status == 307 || status == 308)
	a.hop = a.appendCookies(a.hop)
	return true
}

// rewriteRequest appends to dst req sent to target: with req's method,
// headers and body when keep is set, else as a GET (HEAD stays HEAD)
// without the body and its Content-Type and Content-Length. Cookie headers
// are left out (the jar adds its own).
func rewriteRequest(dst, req []byte, target string, keep bool) []byte {
	head, body, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	line, headers, _ := bytes.Cut(head, []byte("\r\n"))
	method, _, _ := bytes.Cut(line, []byte(" "))
	if !keep && string(method) != "HEAD" {
		method = []byte("GET")
	}
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, " HTTP/1.1\r\n"...)
	for len(headers) > 0 {
		var h []byte
		h, headers, _ = bytes.Cut(headers, []byte("\r\n"))
		name, _, _ := bytes.Cut(h, []byte(":"))
		if hasName(name, "Cookie") || (!keep && (hasName(name, "Content-Length") || hasName(name, "Content-Type"))) {
			continue
		}
		dst = append(dst, h...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if keep {
		dst = append(dst, body...)
	}
	return dst
}

func hasName(name []byte, want string) bool {
	return bytes.EqualFold(bytes.TrimSpace(name), []byte(want))
}

// followOnLoop sends the prepared hop on the event loop's connection
// (redialing if the answer closed it).
func (a *agent) followOnLoop(now time.Time) {
	a.cb.w = append(a.cb.w[:0], a.hop...)
	if a.fd < 0 {
		a.phase = phDial
		a.dial(now, a.deadline)
		return
	}
	a.send(now)
}

// followOnGoroutine runs the prepared hop on the goroutine transport.
func (a *agent) followOnGoroutine() {
	r := &a.g.call
	*r = goCall{deadline: a.deadline, timeout: a.info.timeout, cb: a.s.pool.get()}
	r.cb.w = append(r.cb.w[:0], a.hop...)
	a.phase = phGoCall
	go a.runGoCall(r)
}
