package hlog

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// v2Encoder writes the standard V2-compressed histogram encoding (the
// payload of an hlog line), byte for byte what hdrhistogram-go's Encode
// writes, without its cost: the library builds a new BestCompression zlib
// writer for every histogram, about 0.8 MB of state. A worker streams up to
// two histograms per step × region every second, and that garbage (tens of
// MB/s per worker) kept the garbage collector scanning 12,500 agent stacks
// about once a second: a third of a worker's CPU in a 50,000-agent storm
// (bench/RESULTS.md). Here one writer is reset and reused, and every buffer
// is kept. Not safe for concurrent use.
type v2Encoder struct {
	zw      *zlib.Writer
	inner   []byte // header + counts payload, uncompressed
	zbuf    bytes.Buffer
	out     []byte // cookie + length + compressed
	encoded []byte // base64 of out
}

// The V2 cookies and header size of the HdrHistogram encoding.
const (
	v2EncodingCookie           = 0x1c849303 | 0x10
	v2CompressedEncodingCookie = 0x1c849304 | 0x10
	v2HeaderSize               = 40
)

// encode returns h's V2-compressed base64 encoding; the slice is valid until
// the next call.
func (e *v2Encoder) encode(h *hdr.PackedHistogram) []byte {
	g := newGeometry(h.LowestTrackableValue(), h.HighestTrackableValue(), int(h.SignificantFigures()))
	e.inner = append(e.inner[:0], make([]byte, v2HeaderSize)...)
	next := int64(0) // the next counts index to encode
	h.ForEachBucket(func(value, count int64) bool {
		i := g.index(value)
		if zeros := i - next; zeros == 1 {
			e.inner = appendZigZag(e.inner, 0)
		} else if zeros > 1 {
			e.inner = appendZigZag(e.inner, -zeros)
		}
		e.inner = appendZigZag(e.inner, count)
		next = i + 1
		return true
	})
	if next == 0 { // empty: the library encodes the one count at Max() = 0
		e.inner = appendZigZag(e.inner, 0)
	}
	hd := e.inner[:v2HeaderSize]
	binary.BigEndian.PutUint32(hd[0:], v2EncodingCookie)
	binary.BigEndian.PutUint32(hd[4:], uint32(len(e.inner)-v2HeaderSize))
	binary.BigEndian.PutUint32(hd[8:], 0) // normalizing index offset
	binary.BigEndian.PutUint32(hd[12:], uint32(h.SignificantFigures()))
	binary.BigEndian.PutUint64(hd[16:], uint64(h.LowestTrackableValue()))
	binary.BigEndian.PutUint64(hd[24:], uint64(h.HighestTrackableValue()))
	binary.BigEndian.PutUint64(hd[32:], math.Float64bits(1)) // integer-to-double ratio

	e.zbuf.Reset()
	if e.zw == nil {
		// BestCompression, as the library: the output is byte-identical.
		e.zw, _ = zlib.NewWriterLevel(&e.zbuf, zlib.BestCompression) // errors only on a bad level
	} else {
		e.zw.Reset(&e.zbuf)
	}
	_, _ = e.zw.Write(e.inner) // a bytes.Buffer never fails
	_ = e.zw.Close()

	e.out = append(e.out[:0], 0, 0, 0, 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(e.out[0:], v2CompressedEncodingCookie)
	binary.BigEndian.PutUint32(e.out[4:], uint32(e.zbuf.Len()))
	e.out = append(e.out, e.zbuf.Bytes()...)
	e.encoded = base64.StdEncoding.AppendEncode(e.encoded[:0], e.out)
	return e.encoded
}

// appendZigZag appends v as the encoding's ZigZag LEB128-64b9B: 7 bits a
// byte for up to 8 bytes, then a 9th byte with the last 8 bits.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}

// appendIntervalLine appends one hlog interval line for h, as the library's
// HistogramLogWriter.OutputIntervalPackedHistogram writes it: "Tag=TAG,"
// (when tagged), then start and length in seconds from baseMs and the max
// divided by hdr.MsToNsRatio, each as "%f", then the encoding.
func (e *v2Encoder) appendIntervalLine(b []byte, h *hdr.PackedHistogram, baseMs int64) []byte {
	if tag := h.Tag(); tag != "" {
		b = append(b, "Tag="...)
		b = append(b, tag...)
		b = append(b, ',')
	}
	start := (float64(h.StartTimeMs()) - float64(baseMs)) / 1000
	end := (float64(h.EndTimeMs()) - float64(baseMs)) / 1000
	b = strconv.AppendFloat(b, start, 'f', 6, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, end-start, 'f', 6, 64)
	b = append(b, ',')
	b = strconv.AppendFloat(b, float64(h.Max())/hdr.MsToNsRatio, 'f', 6, 64)
	b = append(b, ',')
	b = append(b, e.encode(h)...)
	return append(b, '\n')
}
