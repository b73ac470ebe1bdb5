package target

import (
	"errors"
	"strings"
	"testing"
)

func TestReqFrame(t *testing.T) {
	cases := []struct {
		name string
		req  string
		want int // length of the request; 0: incomplete
		err  error
	}{
		{"no body", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET", 27, nil},
		{"content length", "POST / HTTP/1.1\r\ncontent-LENGTH: 3\r\n\r\nabcGET", 41, nil},
		{"body incomplete", "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc", 0, nil},
		{"header incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", 0, nil},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nX", 60, nil},
		{"chunked with trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b\r\na\r\n0\r\nT: 1\r\n\r\n", 68, nil},
		{"chunked incomplete", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n", 0, nil},
		{"chunk without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 0, errBadFraming},
		{"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, errBadFraming},
		{"bad length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, errBadFraming},
		{"unknown coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, errBadFraming},
		{"body over cap", "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 0, errBodyTooLarge},
		{"chunks over cap", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 0, errBodyTooLarge},
		{"header over cap", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 200), 0, errHeaderTooLarge},
		{"header end over cap", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 190) + "\r\n\r\n", 0, errHeaderTooLarge},
	}
	for _, tc := range cases {
		var f reqFrame
		n, err := f.complete([]byte(tc.req), 200, 100)
		if n != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: %d, %v; want %d, %v", tc.name, n, err, tc.want, tc.err)
		}
	}
	var f reqFrame
	if _, _ = f.complete([]byte("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"), 200, 100); !f.expect100 {
		t.Error("Expect: 100-continue not seen")
	}
}

// FuzzReqFrame checks that framing a request piece by piece (as the event loop does)
// finds what framing it whole finds, and never panics.
func FuzzReqFrame(f *testing.F) {
	f.Add([]byte("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"), 7)
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"), 50)
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), 3)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		var whole reqFrame
		wn, werr := whole.complete(data, 512, 1024)
		step = max(step%64, -step%64, 1)
		var piece reqFrame
		for at := 0; ; at = min(at+step, len(data)) {
			n, err := piece.complete(data[:at], 512, 1024)
			switch {
			case n > 0 && (n != wn || werr != nil):
				t.Fatalf("piecewise at %d: length %d; whole: %d %v", at, n, wn, werr)
			case err != nil && werr == nil:
				t.Fatalf("piecewise at %d: %v; whole: %d, no error", at, err, wn)
			case n > 0 || err != nil:
				return
			case at == len(data):
				if wn != 0 || werr != nil {
					t.Fatalf("piecewise: incomplete; whole: %d %v", wn, werr)
				}
				return
			}
		}
	})
}
