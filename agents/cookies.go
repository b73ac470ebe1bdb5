package agents

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"net/url"

	"github.com/valyala/fasthttp"
)

// An agent's cookies: a jar (net/http/cookiejar, RFC 6265's rules for
// domain, path, expiry and Secure) made when the first Set-Cookie arrives
// and dropped when a session ends, so each session starts as a new visitor
// and an agent that is never sent a cookie never has a jar. A request is
// sent with the cookies its URL matches, in a Cookie header after the
// request line. cookies: false in the profile turns it all off.

// takeCookies stores the Set-Cookie headers of h, the answer to req (the
// request's bytes), in the agent's jar.
func (a *agent) takeCookies(h *fasthttp.ResponseHeader, req []byte) {
	if a.s.prof.NoCookies {
		return
	}
	var got []*http.Cookie
	for _, v := range h.Cookies() {
		if c, err := http.ParseSetCookie(string(v)); err == nil {
			got = append(got, c)
		}
	}
	if len(got) == 0 {
		return
	}
	u := a.requestURL(req)
	if u == nil {
		return
	}
	if a.jar == nil {
		a.jar, _ = cookiejar.New(nil) // an error only comes from its options
	}
	a.jar.SetCookies(u, got)
}

// appendCookies adds the jar's cookies for req's URL to req (the request's
// bytes) and returns it: to the step's own Cookie header if it has one
// (RFC 6265 allows one), else in a Cookie header after the request line.
func (a *agent) appendCookies(req []byte) []byte {
	if a.jar == nil {
		return req
	}
	u := a.requestURL(req)
	if u == nil {
		return req
	}
	cs := a.jar.Cookies(u)
	if len(cs) == 0 {
		return req
	}
	var ins []byte
	at := cookieLineEnd(req)
	if at < 0 {
		at = bytes.Index(req, []byte("\r\n")) + 2
		ins = append(ins, "Cookie: "...)
	} else {
		ins = append(ins, "; "...)
	}
	for i, c := range cs {
		if i > 0 {
			ins = append(ins, "; "...)
		}
		ins = append(ins, c.Name...)
		ins = append(ins, '=')
		ins = append(ins, c.Value...)
	}
	if ins[0] == 'C' {
		ins = append(ins, "\r\n"...)
	}
	n := len(req)
	req = append(req, ins...)
	copy(req[at+len(ins):], req[at:n])
	copy(req[at:], ins)
	return req
}

// cookieLineEnd is the offset of the end (its \r\n) of req's Cookie
// header line, or -1 when it has none.
func cookieLineEnd(req []byte) int {
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	off := bytes.Index(head, []byte("\r\n"))
	for off >= 0 && off < len(head) {
		line := head[off+2:]
		end := bytes.Index(line, []byte("\r\n"))
		if end < 0 {
			end = len(line)
		}
		if name, _, ok := bytes.Cut(line[:end], []byte(":")); ok && hasName(name, "Cookie") {
			return off + 2 + end
		}
		off += 2 + end
	}
	return -1
}

// requestURL is the URL of req (its request line's target on the agent's
// endpoint); nil when the line cannot be read.
func (a *agent) requestURL(req []byte) *url.URL {
	_, rest, ok := bytes.Cut(req, []byte(" "))
	if !ok {
		return nil
	}
	target, _, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return nil
	}
	u, err := url.ParseRequestURI(string(target))
	if err != nil {
		return nil
	}
	u.Scheme, u.Host = "http", a.ep.host
	if a.ep.tls != nil {
		u.Scheme = "https"
	}
	return u
}
