package target

import (
	"bytes"
	"errors"
)

// Errors of reqFrame.complete; the event-loop server answers each with its status and closes
// the connection, as fasthttp's server does.
var (
	errHeaderTooLarge = errors.New("request header over the limit")
	errBodyTooLarge   = errors.New("request body over the limit")
	errBadFraming     = errors.New("malformed request framing")
)

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// reqFrame finds where one HTTP/1.1 request, read piece by piece from a connection, ends,
// so that an event loop parses it only once all of it is there: the header (at most
// maxHeader bytes), then Content-Length bytes of body, or chunks up to the last one. It
// keeps its progress between calls, so a request that arrives in many pieces is scanned
// once. Its zero value is ready for a request at the start of the buffer.
type reqFrame struct {
	head     int  // the header's end (offset of the body); 0 until found
	searched int  // how far the header's end was searched
	end      int  // Content-Length framing: the request's end
	chunked  bool // Transfer-Encoding: chunked
	scan     int  // chunked: offset of the next chunk's size line
	body     int  // chunked: body bytes so far
	// expect100 is set when the header asks "Expect: 100-continue" (the loop answers
	// 100 Continue once if the body is not all there).
	expect100 bool
}

// complete returns the length of the request at the start of buf once all of it is there,
// or 0 while more is needed. Over maxHeader bytes of header is errHeaderTooLarge, a body
// over maxBody errBodyTooLarge (judged on the declared length, before the body arrives).
func (f *reqFrame) complete(buf []byte, maxHeader, maxBody int) (int, error) {
	if f.head == 0 {
		if err := f.parseHeader(buf, maxHeader, maxBody); err != nil || f.head == 0 {
			return 0, err
		}
	}
	if !f.chunked {
		if len(buf) >= f.end {
			return f.end, nil
		}
		return 0, nil
	}
	return f.chunks(buf, maxBody)
}

// parseHeader finds the header's end and reads the fields that frame the body.
func (f *reqFrame) parseHeader(buf []byte, maxHeader, maxBody int) error {
	from := max(0, f.searched-3)
	i := bytes.Index(buf[from:], crlfcrlf)
	if i < 0 {
		f.searched = len(buf)
		if len(buf) > maxHeader {
			return errHeaderTooLarge
		}
		return nil
	}
	end := from + i + 4
	if end > maxHeader {
		return errHeaderTooLarge
	}
	length, chunked := 0, false
	lines := buf[:end-2]
	// The request line is skipped: fasthttp judges it when the request is parsed.
	if k := bytes.Index(lines, crlf); k >= 0 {
		lines = lines[k+2:]
	}
	for len(lines) > 0 {
		k := bytes.Index(lines, crlf)
		line := lines[:k]
		lines = lines[k+2:]
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseUint(value)
			if !ok || n > 1<<40 {
				return errBadFraming
			}
			length = int(n)
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
			if !chunked && !asciiEqualFold(value, "identity") {
				return errBadFraming
			}
		case asciiEqualFold(name, "expect"):
			f.expect100 = asciiEqualFold(value, "100-continue")
		}
	}
	f.head = end
	if chunked {
		f.chunked, f.scan = true, end
		return nil
	}
	if length > maxBody {
		return errBodyTooLarge
	}
	f.end = end + length
	return nil
}

// chunks follows the chunked body from f.scan; it returns the request's length once the
// last chunk and the trailer are there.
func (f *reqFrame) chunks(buf []byte, maxBody int) (int, error) {
	for {
		k := bytes.Index(buf[f.scan:], crlf)
		if k < 0 {
			if len(buf)-f.scan > 1024 {
				return 0, errBadFraming // a chunk size line that long is not one
			}
			return 0, nil
		}
		line := buf[f.scan : f.scan+k]
		if semi := bytes.IndexByte(line, ';'); semi >= 0 {
			line = line[:semi]
		}
		size, ok := parseHex(bytes.TrimSpace(line))
		if !ok {
			return 0, errBadFraming
		}
		if size == 0 {
			// The trailer: header lines up to an empty line.
			at := f.scan + k + 2
			for {
				j := bytes.Index(buf[at:], crlf)
				if j < 0 {
					if len(buf)-at > 4096 {
						return 0, errBadFraming
					}
					return 0, nil
				}
				if j == 0 {
					return at + 2, nil
				}
				at += j + 2
			}
		}
		if f.body+size > maxBody {
			return 0, errBodyTooLarge
		}
		next := f.scan + k + 2 + size + 2
		if len(buf) < next {
			return 0, nil
		}
		if !bytes.Equal(buf[next-2:next], crlf) {
			return 0, errBadFraming
		}
		f.body += size
		f.scan = next
	}
}

// parseHex parses 1..8 hexadecimal digits.
func parseHex(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | int(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// asciiEqualFold reports whether b equals the lower-case ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
