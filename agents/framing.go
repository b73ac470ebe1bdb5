package agents

import (
	"bytes"
	"errors"
	"fmt"
)

// The default caps of an answer (Config.MaxBodySize, MaxHeaderSize).
const (
	// DefaultMaxBodySize bounds an answer's body: 8 MiB.
	DefaultMaxBodySize = 8 << 20
	// DefaultMaxHeaderSize bounds an answer's header (status line and
	// fields): 64 KiB.
	DefaultMaxHeaderSize = 64 << 10
)

// Framing kinds of an answer's body.
const (
	bodyFixed   = iota // Content-Length, or no body at all
	bodyChunked        // Transfer-Encoding: chunked
	bodyToClose        // neither: the body runs until the server closes
)

// errAnswerTooLarge is an answer over a cap: errBodyTooLarge or
// errHeaderTooLarge wrap it.
var (
	errAnswerTooLarge = errors.New("answer larger than the limit")
	errBodyTooLarge   = fmt.Errorf("%w: body over the cap (raise it with --max-body-size)", errAnswerTooLarge)
	errHeaderTooLarge = fmt.Errorf("%w: header over the cap (raise it with --max-header-size)", errAnswerTooLarge)
)

// framing finds where an HTTP/1.1 answer read piece by piece ends, so an
// event loop knows when a non-blocking read has the whole answer: the
// header, then Content-Length bytes, or chunks up to the last one, or (with
// neither) everything until the server closes. It keeps its progress
// between calls, so an answer that arrives in many pieces is scanned once.
type framing struct {
	base    int  // where the answer's header starts (after skipped 100 Continue answers)
	head    int  // the header's end (offset of the body); 0 until found
	searchd int  // how far the header end was searched
	kind    int  // bodyFixed, bodyChunked or bodyToClose
	end     int  // bodyFixed: the answer's end
	scan    int  // bodyChunked: offset of the next chunk's size line
	noBody  bool // the request was a HEAD: the answer has no body whatever it says
	closing bool // the answer says Connection: close
	// maxBody and maxHeader are the caps (Config.MaxBodySize, MaxHeaderSize).
	maxBody, maxHeader int
}

// reset prepares f for the answer to a new request; head tells whether the
// request was a HEAD; maxBody and maxHeader are the caps in bytes.
func (f *framing) reset(head bool, maxBody, maxHeader int) {
	*f = framing{noBody: head, maxBody: maxBody, maxHeader: maxHeader}
}

// complete reports the length of the answer in buf once it is all there
// (0 while more is needed). eof says the server has closed the connection
// after buf: that completes an answer whose body runs until the close.
func (f *framing) complete(buf []byte, eof bool) (int, error) {
	if f.head == 0 {
		if err := f.parseHeader(buf); err != nil || f.head == 0 {
			return 0, err
		}
	}
	switch f.kind {
	case bodyFixed:
		if len(buf) >= f.end {
			return f.end, nil
		}
		if f.end-f.head > f.maxBody {
			return 0, fmt.Errorf("%w: Content-Length %d, cap %d", errBodyTooLarge, f.end-f.head, f.maxBody)
		}
		return 0, nil
	case bodyChunked:
		return f.chunks(buf)
	}
	if eof {
		return len(buf), nil
	}
	if len(buf)-f.head > f.maxBody {
		return 0, fmt.Errorf("%w: over %d bytes of body, cap %d", errBodyTooLarge, len(buf)-f.head, f.maxBody)
	}
	return 0, nil
}

// parseHeader finds the header's end and reads the fields that frame the
// body. It skips a 100 Continue answer (as fasthttp does).
func (f *framing) parseHeader(buf []byte) error {
	for {
		from := max(f.base, f.searchd-3)
		i := bytes.Index(buf[from:], crlfcrlf)
		if i < 0 {
			f.searchd = len(buf)
			if len(buf)-f.base > f.maxHeader {
				return fmt.Errorf("%w: cap %d bytes", errHeaderTooLarge, f.maxHeader)
			}
			return nil
		}
		end := from + i + 4
		if end-f.base > f.maxHeader {
			return fmt.Errorf("%w: %d bytes, cap %d", errHeaderTooLarge, end-f.base, f.maxHeader)
		}
		hdr := buf[f.base:end]
		status, err := statusOf(hdr)
		if err != nil {
			return err
		}
		if status == 100 {
			f.base, f.searchd = end, end
			continue
		}
		f.head = end
		length := -1
		chunked := false
		for rest := hdr[:len(hdr)-2]; len(rest) > 0; {
			k := bytes.Index(rest, crlf)
			line := rest[:k]
			rest = rest[k+2:]
			name, value, ok := bytes.Cut(line, colon)
			if !ok {
				continue
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "content-length"):
				n, ok := parseDecimal(value)
				if !ok {
					return fmt.Errorf("malformed answer: Content-Length %q", value)
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				chunked = asciiContainsFold(value, "chunked")
			case asciiEqualFold(name, "connection"):
				f.closing = asciiContainsFold(value, "close")
			}
		}
		switch {
		case f.noBody || status < 200 || status == 204 || status == 304:
			f.kind, f.end = bodyFixed, end
		case chunked:
			f.kind, f.scan = bodyChunked, end
		case length >= 0:
			f.kind, f.end = bodyFixed, end+length
		default:
			f.kind = bodyToClose
		}
		return nil
	}
}

// chunks walks the chunks of a chunked body from where it stopped last.
func (f *framing) chunks(buf []byte) (int, error) {
	for {
		i := bytes.Index(buf[f.scan:], crlf)
		if i < 0 {
			return 0, f.tooLarge(buf)
		}
		line := buf[f.scan : f.scan+i]
		if j := bytes.IndexByte(line, ';'); j >= 0 { // chunk extensions
			line = line[:j]
		}
		size, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return 0, fmt.Errorf("malformed answer: chunk size %q", line)
		}
		data := f.scan + i + 2
		if size == 0 { // the last chunk, then trailer fields and an empty line
			if len(buf) >= data+2 && buf[data] == '\r' && buf[data+1] == '\n' {
				return data + 2, nil
			}
			if k := bytes.Index(buf[data:], crlfcrlf); k >= 0 {
				return data + k + 4, nil
			}
			return 0, f.tooLarge(buf)
		}
		if len(buf) < data+size+2 {
			if data+size-f.head > f.maxBody {
				return 0, fmt.Errorf("%w: chunked body, cap %d bytes", errBodyTooLarge, f.maxBody)
			}
			return 0, nil
		}
		f.scan = data + size + 2
	}
}

// tooLarge is the error for a chunked answer that grew past the limit
// without its framing completing (nil while under it).
func (f *framing) tooLarge(buf []byte) error {
	if len(buf)-f.head > f.maxBody+f.maxHeader {
		return fmt.Errorf("%w: chunked body, cap %d bytes", errBodyTooLarge, f.maxBody)
	}
	return nil
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	colon    = []byte(":")
)

// statusOf reads the status code of an answer's header ("HTTP/1.1 200 OK").
func statusOf(hdr []byte) (int, error) {
	if len(hdr) < 12 || !bytes.HasPrefix(hdr, []byte("HTTP/")) {
		return 0, fmt.Errorf("malformed answer: no HTTP status line (starts %q)", hdr[:min(len(hdr), 16)])
	}
	sp := bytes.IndexByte(hdr, ' ')
	if sp < 0 || len(hdr) < sp+4 {
		return 0, fmt.Errorf("malformed answer: bad status line %q", hdr[:min(len(hdr), 32)])
	}
	n, ok := parseDecimal(hdr[sp+1 : sp+4])
	if !ok {
		return 0, fmt.Errorf("malformed answer: bad status code %q", hdr[sp+1:sp+4])
	}
	return n, nil
}

// parseDecimal parses a non-negative decimal number of at most 18 digits.
func parseDecimal(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseHex parses a chunk size: at most 15 hexadecimal digits.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, true
}

// asciiEqualFold reports whether b equals the lower-case ASCII word s,
// ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

// asciiContainsFold reports whether b contains the lower-case ASCII word s,
// ignoring case.
func asciiContainsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}
