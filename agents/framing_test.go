package agents

import (
	"errors"
	"strings"
	"testing"
)

// TestFramingFindsTheEnd feeds answers one byte more at a time (as a
// non-blocking read may deliver them) and checks the framing reports the
// answer whole exactly when its last byte is there, not before, whatever
// follows it.
func TestFramingFindsTheEnd(t *testing.T) {
	cases := []struct {
		name   string
		answer string
		head   bool // the request was a HEAD
		toEOF  bool // the body runs until the close
	}{
		{name: "content-length", answer: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"},
		{name: "zero length", answer: "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
		{name: "header case and spaces", answer: "HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:   3  \r\n\r\nabc"},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"},
		{name: "chunked with trailer", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n"},
		{name: "100 continue first", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"},
		{name: "204 no body", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n"},
		{name: "304 no body", answer: "HTTP/1.1 304 Not Modified\r\n\r\n"},
		{name: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", head: true},
		{name: "until close", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", toEOF: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte(tc.answer + "HTTP/1.1 999 next answer, not ours\r\n")
			var f framing
			f.reset(tc.head, DefaultMaxBodySize, DefaultMaxHeaderSize)
			for n := 1; n <= len(tc.answer); n++ {
				end, err := f.complete(buf[:n], false)
				if err != nil {
					t.Fatalf("at %d bytes: %v", n, err)
				}
				if tc.toEOF {
					if end != 0 {
						t.Fatalf("at %d bytes: whole (%d) before the close", n, end)
					}
					continue
				}
				if want := 0; n < len(tc.answer) && end != want {
					t.Fatalf("at %d of %d bytes: whole at %d already", n, len(tc.answer), end)
				}
				if n == len(tc.answer) && end != len(tc.answer) {
					t.Fatalf("all %d bytes there: end %d", n, end)
				}
			}
			if tc.toEOF {
				end, err := f.complete(buf[:len(tc.answer)], true)
				if err != nil || end != len(tc.answer) {
					t.Fatalf("at the close: end %d, err %v; want %d", end, err, len(tc.answer))
				}
			}
			// Fed with the next answer already behind it, the end is the same.
			var g framing
			g.reset(tc.head, DefaultMaxBodySize, DefaultMaxHeaderSize)
			if end, err := g.complete(buf, tc.toEOF); err != nil || (!tc.toEOF && end != len(tc.answer)) {
				t.Fatalf("with more behind: end %d, err %v; want %d", end, err, len(tc.answer))
			}
			if !tc.toEOF && strings.Contains(tc.answer, "Connection: close") != g.closing {
				t.Fatalf("closing %v", g.closing)
			}
		})
	}
}

// TestFramingRefusesMalformedAndHuge: garbage, bad numbers and answers past
// the limits are errors, not a wait for more bytes that never come.
func TestFramingRefusesMalformedAndHuge(t *testing.T) {
	bad := []string{
		"NOT HTTP AT ALL\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	}
	for _, s := range bad {
		var f framing
		f.reset(false, DefaultMaxBodySize, DefaultMaxHeaderSize)
		if _, err := f.complete([]byte(s), false); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	var f framing
	f.reset(false, DefaultMaxBodySize, DefaultMaxHeaderSize)
	huge := "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"
	if _, err := f.complete([]byte(huge), false); !errors.Is(err, errAnswerTooLarge) {
		t.Errorf("Content-Length past the limit: %v", err)
	}
	f.reset(false, DefaultMaxBodySize, DefaultMaxHeaderSize)
	endless := []byte("HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", DefaultMaxHeaderSize+10))
	if _, err := f.complete(endless, false); !errors.Is(err, errAnswerTooLarge) {
		t.Errorf("header past the limit: %v", err)
	}
}
