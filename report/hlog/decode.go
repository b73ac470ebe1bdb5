package hlog

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"math"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
)

// v2Decoder reads the standard V2-compressed histogram encoding (the
// payload of an hlog line) into the same histogram hdrhistogram-go's
// DecodePacked returns, without its cost: the library builds a new zlib
// reader, a flate decompressor with its 32 KiB window, for every
// histogram. A coordinator decodes every worker's streamed intervals, and
// that garbage was half of what it allocated in a 50,000-agent storm (345
// of 666 MB), about 12% of its CPU in garbage collection. Here one zlib
// reader is reset for every line and every buffer is kept, so a line
// allocates only the histogram it returns and the small Huffman tables
// compress/flate makes for each block (about 1 KB, against 46 KB).
//
// The fast path takes only histograms of the recorder's geometry (see
// report.NewHistogram) with a conversion ratio of 1 and no normalizing
// offset: their layout is known and valid, so a corrupt payload cannot
// make hdrhistogram-go panic. Anything else — another geometry, a corrupt
// or truncated encoding — is handed to DecodePacked, which decides and
// words the error. Not safe for concurrent use.
type v2Decoder struct {
	src     []byte // the base64 text
	raw     []byte // cookie + length + compressed
	br      bytes.Reader
	zr      io.ReadCloser // reset for each line; nil until the first
	inner   []byte        // header + counts payload, inflated
	geom    geometry      // the recorder's
	hasGeom bool
	pool    *report.PackedPool // where histograms come from; nil: new ones
}

// errSlowPath says the fast path does not take an encoding (or found it
// corrupt): the library decodes it.
var errSlowPath = errors.New("not for the fast path")

// decode decodes a V2-compressed base64 histogram.
func (d *v2Decoder) decode(encoded string) (*hdr.PackedHistogram, error) {
	d.src = append(d.src[:0], encoded...)
	if h, err := d.fast(d.src); err == nil {
		return h, nil
	}
	return hdr.DecodePacked(d.src)
}

// fast decodes src on the fast path, or returns errSlowPath. It accepts
// only what DecodePacked accepts, with its checks: the cookies, the
// compressed length within the data, the payload length bounded by the
// counts length × 9 before inflating, the payload exactly as long as
// said, the zlib checksum (read to the end), zero runs and indexes within
// the counts, no total count overflow.
func (d *v2Decoder) fast(src []byte) (*hdr.PackedHistogram, error) {
	var err error
	if d.raw, err = base64.StdEncoding.AppendDecode(d.raw[:0], src); err != nil || len(d.raw) < 8 {
		return nil, errSlowPath
	}
	cookie := int32(binary.BigEndian.Uint32(d.raw[0:])) & ^0xf0
	clen := int32(binary.BigEndian.Uint32(d.raw[4:]))
	if cookie != v2CompressedEncodingCookie&^0xf0 || clen < 0 || int64(clen) > int64(len(d.raw)-8) {
		return nil, errSlowPath
	}
	d.br.Reset(d.raw[8 : 8+clen])
	if d.zr == nil {
		zr, err := zlib.NewReader(&d.br)
		if err != nil {
			return nil, errSlowPath
		}
		d.zr = zr
	} else if err := d.zr.(zlib.Resetter).Reset(&d.br, nil); err != nil {
		return nil, errSlowPath
	}

	d.inner = append(d.inner[:0], make([]byte, v2HeaderSize)...)
	if _, err := io.ReadFull(d.zr, d.inner); err != nil {
		return nil, errSlowPath
	}
	hd := d.inner
	payloadLen := int32(binary.BigEndian.Uint32(hd[4:]))
	if int32(binary.BigEndian.Uint32(hd[0:]))&^0xf0 != v2EncodingCookie&^0xf0 ||
		binary.BigEndian.Uint32(hd[8:]) != 0 || // normalizing index offset
		int32(binary.BigEndian.Uint32(hd[12:])) != report.SignificantDigits ||
		int64(binary.BigEndian.Uint64(hd[16:])) != report.LowestValue ||
		int64(binary.BigEndian.Uint64(hd[24:])) != report.HighestValue ||
		math.Float64frombits(binary.BigEndian.Uint64(hd[32:])) != 1 { // integer-to-double ratio
		return nil, errSlowPath
	}
	if !d.hasGeom {
		d.geom, d.hasGeom = newGeometry(report.LowestValue, report.HighestValue, report.SignificantDigits), true
	}
	if payloadLen < 0 || int64(payloadLen) > d.geom.countsLen*9 {
		return nil, errSlowPath
	}
	d.inner = append(d.inner, make([]byte, payloadLen)...)
	payload := d.inner[v2HeaderSize:]
	if _, err := io.ReadFull(d.zr, payload); err != nil {
		return nil, errSlowPath
	}
	var one [1]byte // nothing after the payload, and a good checksum
	if _, err := io.ReadFull(d.zr, one[:]); err != io.EOF {
		return nil, errSlowPath
	}

	h := d.newHistogram()
	var i, total int64 // the next counts index; the total count
	for len(payload) > 0 {
		v, n, ok := zigZag(payload)
		if !ok {
			return d.drop(h)
		}
		payload = payload[n:]
		if v < 0 { // a run of -v zero counts
			if v == math.MinInt64 || -v > d.geom.countsLen-i {
				return d.drop(h)
			}
			i += -v
			continue
		}
		if i >= d.geom.countsLen || v > math.MaxInt64-total {
			return d.drop(h)
		}
		if v > 0 {
			if err := h.RecordValues(d.geom.lowest(i), v); err != nil {
				return d.drop(h)
			}
			total += v
		}
		i++
	}
	return h, nil
}

// newHistogram returns an empty histogram of the recorder's geometry.
func (d *v2Decoder) newHistogram() *hdr.PackedHistogram {
	if d.pool != nil {
		return d.pool.Get()
	}
	return hdr.NewPacked(report.LowestValue, report.HighestValue, report.SignificantDigits)
}

// drop gives back h, which the fast path could not fill, and hands the
// line to the library.
func (d *v2Decoder) drop(h *hdr.PackedHistogram) (*hdr.PackedHistogram, error) {
	if d.pool != nil {
		d.pool.Put(h)
	}
	return nil, errSlowPath
}

// zigZag reads a ZigZag LEB128-64b9B number (see appendZigZag) from b: its
// value, its length, and false when b ends inside it.
func zigZag(b []byte) (v int64, n int, ok bool) {
	var u uint64
	for n < 8 {
		if n >= len(b) {
			return 0, 0, false
		}
		c := b[n]
		u |= uint64(c&0x7f) << (7 * n)
		n++
		if c&0x80 == 0 {
			return int64(u>>1) ^ -int64(u&1), n, true
		}
	}
	if n >= len(b) {
		return 0, 0, false
	}
	u |= uint64(b[n]) << 56
	return int64(u>>1) ^ -int64(u&1), n + 1, true
}
