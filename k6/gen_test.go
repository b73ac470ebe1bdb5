package k6

import (
	"io"
	"strconv"
	"time"
)

// genReader produces a k6 JSON output stream of n http_req_duration points
// (rate per second of k6 time, from start), as k6 writes it: each point
// with the usual tags, names cycling over steps, a latency from lat(i).
// It writes lines on the fly, so a test can ingest millions of points
// without a file.
type genReader struct {
	n, i    int
	rate    int
	start   int64 // Unix seconds
	steps   []string
	lat     func(i int) float64
	status  func(i int) string
	buf     []byte
	off     int
	secBuf  []byte
	lastSec int64
}

func newGen(n, rate int, start time.Time, steps []string, lat func(int) float64) *genReader {
	return &genReader{n: n, rate: rate, start: start.Unix(), steps: steps, lat: lat, lastSec: -1}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= len(g.buf) {
		if g.i >= g.n {
			return 0, io.EOF
		}
		g.buf = g.buf[:0]
		g.off = 0
		for k := 0; k < 256 && g.i < g.n; k++ {
			g.buf = g.appendLine(g.buf, g.i)
			g.i++
		}
	}
	n := copy(p, g.buf[g.off:])
	g.off += n
	return n, nil
}

// appendLine appends point i's line.
func (g *genReader) appendLine(b []byte, i int) []byte {
	sec := g.start + int64(i/g.rate)
	if sec != g.lastSec {
		g.secBuf = time.Unix(sec, 0).UTC().AppendFormat(g.secBuf[:0], "2006-01-02T15:04:05")
		g.lastSec = sec
	}
	frac := (i % g.rate) * 1_000_000 / g.rate
	step := g.steps[i%len(g.steps)]
	status := "200"
	if g.status != nil {
		status = g.status(i)
	}
	b = append(b, `{"metric":"http_req_duration","type":"Point","data":{"time":"`...)
	b = append(b, g.secBuf...)
	b = append(b, '.')
	b = appendPadded(b, frac, 6)
	b = append(b, `+00:00","value":`...)
	b = strconv.AppendFloat(b, g.lat(i), 'f', 6, 64)
	b = append(b, `,"tags":{"expected_response":"`...)
	if status[0] >= '4' || status == "0" {
		b = append(b, "false"...)
	} else {
		b = append(b, "true"...)
	}
	b = append(b, `","group":"","method":"POST","name":"`...)
	b = append(b, step...)
	b = append(b, `","proto":"HTTP/1.1","scenario":"default","status":"`...)
	b = append(b, status...)
	b = append(b, `","tls_version":"","url":"http://127.0.0.1:8081/`...)
	b = append(b, step...)
	b = append(b, "\"}}}\n"...)
	return b
}

func appendPadded(b []byte, v, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], int64(v), 10)
	for k := len(s); k < width; k++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
