package hlog

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
)

// samePacked says how got differs from want ("" when it does not): the
// totals, extremes, geometry, tag and times, every bucket, and the
// re-encoding.
func samePacked(got, want *hdr.PackedHistogram) string {
	if got.TotalCount() != want.TotalCount() || got.Max() != want.Max() || got.Min() != want.Min() {
		return fmt.Sprintf("total/max/min %d/%d/%d, want %d/%d/%d", got.TotalCount(), got.Max(), got.Min(), want.TotalCount(), want.Max(), want.Min())
	}
	if got.LowestTrackableValue() != want.LowestTrackableValue() || got.HighestTrackableValue() != want.HighestTrackableValue() ||
		got.SignificantFigures() != want.SignificantFigures() {
		return "geometry differs"
	}
	if got.Tag() != want.Tag() || got.StartTimeMs() != want.StartTimeMs() || got.EndTimeMs() != want.EndTimeMs() {
		return "tag or times differ"
	}
	var gb, wb [][2]int64
	got.ForEachBucket(func(v, c int64) bool { gb = append(gb, [2]int64{v, c}); return true })
	want.ForEachBucket(func(v, c int64) bool { wb = append(wb, [2]int64{v, c}); return true })
	if !slices.Equal(gb, wb) {
		return fmt.Sprintf("buckets %v, want %v", gb, wb)
	}
	ge, err1 := got.Encode()
	we, err2 := want.Encode()
	if err1 != nil || err2 != nil || !bytes.Equal(ge, we) {
		return "re-encodings differ"
	}
	return ""
}

// randomPacked returns a histogram of geometry lo…hi, sig of one of a
// few shapes (kind mod 6): empty, one value, dense at the low end,
// sparse over the whole range, huge counts of every LEB128 length, the
// range's ends.
func randomPacked(rng *rand.Rand, kind int, lo, hi int64, sig int) *hdr.PackedHistogram {
	h := hdr.NewPacked(lo, hi, sig)
	switch kind % 6 {
	case 0: // empty
	case 1:
		_ = h.RecordValue(lo + rng.Int64N(hi-lo))
	case 2:
		for v := lo; v < lo+3000 && v <= hi; v++ {
			_ = h.RecordValues(v, 1+rng.Int64N(3))
		}
	case 3:
		for k := 0; k < 1+rng.IntN(2000); k++ {
			_ = h.RecordValue(lo + rng.Int64N(hi-lo))
		}
	case 4:
		for k := 0; k < 62; k++ {
			_ = h.RecordValues(lo+rng.Int64N(hi-lo), 1<<k|1)
		}
	case 5:
		_ = h.RecordValues(lo, math.MaxInt64/4)
		_ = h.RecordValues(hi, math.MaxInt64/4)
	}
	return h
}

// TestV2DecoderMatchesLibrary: for random histograms of the recorder's
// geometry and others, encoded by v2Encoder and by the library, one
// reused v2Decoder returns what DecodePacked returns, on its fast path
// exactly for the recorder's geometry.
func TestV2DecoderMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type geom struct {
		lo, hi int64
		sig    int
	}
	ours := geom{report.LowestValue, report.HighestValue, report.SignificantDigits}
	geoms := []geom{ours, {1, 3_600_000_000, 2}, {1000, 10_000_000_000, 4}, {1, 100, 0}, {1, 60_000_000, 2}}
	per := 72 // histograms a geometry
	if testing.Short() {
		per = 18
	}
	var enc v2Encoder
	var dec v2Decoder
	for gi, g := range geoms {
		for n := 0; n < per; n++ {
			h := randomPacked(rng, n, g.lo, g.hi, g.sig)
			libEnc, err := h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			for _, encoded := range []string{string(enc.encode(h)), string(libEnc)} {
				want, err := hdr.DecodePacked([]byte(encoded))
				if err != nil {
					t.Fatalf("geometry %d, histogram %d: library: %v", gi, n, err)
				}
				got, err := dec.decode(encoded)
				if err != nil {
					t.Fatalf("geometry %d, histogram %d: %v", gi, n, err)
				}
				if diff := samePacked(got, want); diff != "" {
					t.Fatalf("geometry %d, histogram %d (%d values): %s", gi, n, h.TotalCount(), diff)
				}
				if diff := samePacked(got, h); diff != "" {
					t.Fatalf("geometry %d, histogram %d: not the histogram encoded: %s", gi, n, diff)
				}
				_, ferr := dec.fast([]byte(encoded))
				if fast := ferr == nil; fast != (g == ours) {
					t.Fatalf("geometry %d, histogram %d: fast path %v, want %v (%v)", gi, n, fast, g == ours, ferr)
				}
			}
		}
	}
}

// TestParseHistLineFields: a line's tag, start and length are parsed as
// before, whichever path decodes its histogram.
func TestParseHistLineFields(t *testing.T) {
	var enc v2Encoder
	var dec v2Decoder
	for _, g := range [][3]int64{{1, 60_000_000, 3}, {1, 100, 0}} {
		h := hdr.NewPacked(g[0], g[1], int(g[2]))
		_ = h.RecordValues(42, 7)
		h.SetTag("step=a;region=b")
		h.SetStartTimeMs(1_700_000_001_250)
		h.SetEndTimeMs(1_700_000_002_500)
		line := strings.TrimSuffix(string(enc.appendIntervalLine(nil, h, 1_700_000_000_000)), "\n")
		hl, err := parseHistLine(line, &dec)
		if err != nil {
			t.Fatal(err)
		}
		if hl.tag != "step=a;region=b" || hl.startS != 1.25 || hl.lengthS != 1.25 || hl.h.TotalCount() != 7 || hl.h.Max() != h.Max() {
			t.Fatalf("geometry %v: tag %q start %v length %v count %d max %d", g, hl.tag, hl.startS, hl.lengthS, hl.h.TotalCount(), hl.h.Max())
		}
	}
	if _, err := parseHistLine("Tag=a,0.0,1.0,2.0,HISTFAAAACl4", &dec); err == nil || !strings.HasPrefix(err.Error(), "bad histogram: ") {
		t.Fatalf("corrupt line: %v, want a bad histogram error", err)
	}
}

// TestGeometryMatchesLibrary: the recorder's counts layout is the
// library's: every index's lowest value maps back to it and the value
// below it to the index before, the library files each in a bucket of its
// own, and nothing past countsLen is recordable.
func TestGeometryMatchesLibrary(t *testing.T) {
	g := newGeometry(report.LowestValue, report.HighestValue, report.SignificantDigits)
	h := hdr.NewPacked(report.LowestValue, report.HighestValue, report.SignificantDigits)
	for i := int64(0); i < g.countsLen; i++ {
		v := g.lowest(i)
		if g.index(v) != i || (i > 0 && g.index(v-1) != i-1) {
			t.Fatalf("index %d: lowest value %d maps to %d", i, v, g.index(v))
		}
		if err := h.RecordValue(v); err != nil {
			t.Fatalf("index %d (value %d) of %d: %v", i, v, g.countsLen, err)
		}
	}
	buckets := int64(0) // one a value recorded: each is its own library index
	h.ForEachBucket(func(_, _ int64) bool { buckets++; return true })
	if buckets != g.countsLen {
		t.Fatalf("%d buckets for %d indexes", buckets, g.countsLen)
	}
	if err := h.RecordValue(g.lowest(g.countsLen)); err == nil {
		t.Fatalf("value %d past the counts (%d) recorded", g.lowest(g.countsLen), g.countsLen)
	}
}

// rawEncoding wraps an uncompressed header + payload as a V2-compressed
// base64 histogram, with extra bytes after the compressed stream.
func rawEncoding(inner, extra []byte) string {
	var zb bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&zb, zlib.BestCompression)
	_, _ = zw.Write(inner)
	_ = zw.Close()
	out := binary.BigEndian.AppendUint32(nil, v2CompressedEncodingCookie)
	out = binary.BigEndian.AppendUint32(out, uint32(zb.Len()))
	out = append(append(out, zb.Bytes()...), extra...)
	return base64.StdEncoding.EncodeToString(out)
}

// v2Inner returns a V2 header of the recorder's geometry (with the given
// fields changed) and the payload.
func v2Inner(payload []byte, change func(hd []byte)) []byte {
	hd := make([]byte, v2HeaderSize)
	binary.BigEndian.PutUint32(hd[0:], v2EncodingCookie)
	binary.BigEndian.PutUint32(hd[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(hd[12:], report.SignificantDigits)
	binary.BigEndian.PutUint64(hd[16:], report.LowestValue)
	binary.BigEndian.PutUint64(hd[24:], report.HighestValue)
	binary.BigEndian.PutUint64(hd[32:], math.Float64bits(1))
	if change != nil {
		change(hd)
	}
	return append(hd, payload...)
}

// corruptSeeds returns valid and corrupt encodings: truncated, bad
// cookies, flipped compressed bytes, wrong lengths, trailing data, zero
// runs and indexes past the counts, foreign geometries.
func corruptSeeds() []string {
	rng := rand.New(rand.NewPCG(5, 6))
	var enc v2Encoder
	var seeds []string
	h := randomPacked(rng, 3, report.LowestValue, report.HighestValue, report.SignificantDigits)
	good := string(enc.encode(h))
	seeds = append(seeds, good, string(enc.encode(hdr.NewPacked(1, 60_000_000, 3))), "", "HISTFAAAACl4")
	for _, cut := range []int{1, 4, 10, 12, len(good) / 2, len(good) - 4, len(good) - 1} {
		seeds = append(seeds, good[:cut])
	}
	raw, _ := base64.StdEncoding.DecodeString(good)
	mod := func(f func(b []byte) []byte) string {
		return base64.StdEncoding.EncodeToString(f(bytes.Clone(raw)))
	}
	seeds = append(seeds,
		mod(func(b []byte) []byte { b[3] ^= 0x01; return b }), // bad cookie
		mod(func(b []byte) []byte { b[3] ^= 0x20; return b }), // masked cookie bits: fine
		mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], uint32(len(b))); return b }),
		mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 0xffffff00); return b }), // negative
		mod(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 3); return b }),
		mod(func(b []byte) []byte { return append(b, 1, 2, 3) }), // past the compressed length: ignored
	)
	for i := 8; i < len(raw); i += 1 + len(raw)/40 { // flipped compressed bytes
		seeds = append(seeds, mod(func(b []byte) []byte { b[i] ^= 0x10; return b }))
	}
	payload := []byte{}
	payload = appendZigZag(payload, 5)
	payload = appendZigZag(payload, -100)
	payload = appendZigZag(payload, 7)
	g := newGeometry(report.LowestValue, report.HighestValue, report.SignificantDigits)
	setLen := func(n int) func([]byte) { return func(hd []byte) { binary.BigEndian.PutUint32(hd[4:], uint32(n)) } }
	seeds = append(seeds,
		rawEncoding(v2Inner(payload, nil), nil),
		rawEncoding(v2Inner(payload, nil), []byte("junk")),                      // after the zlib stream
		rawEncoding(append(v2Inner(payload, nil), 0), nil),                      // trailing payload byte
		rawEncoding(v2Inner(payload, setLen(len(payload)-1)), nil),              // payload longer than said
		rawEncoding(v2Inner(payload, setLen(len(payload)+1)), nil),              // shorter
		rawEncoding(v2Inner(payload, setLen(-1)), nil),                          // negative
		rawEncoding(v2Inner(payload, setLen(int(g.countsLen*9+1))), nil),        // over the bound
		rawEncoding(v2Inner(payload, setLen(1<<24)), nil),                       // far over: not to be allocated
		rawEncoding(v2Inner(payload[:len(payload)-1], nil)[:v2HeaderSize], nil), // header only, length says more
		rawEncoding(v2Inner(nil, nil)[:20], nil),                                // header cut
		rawEncoding(v2Inner(appendZigZag(nil, -g.countsLen), nil), nil),         // a run to the end: empty
		rawEncoding(v2Inner(appendZigZag(nil, -g.countsLen-1), nil), nil),       // past the end
		rawEncoding(v2Inner(appendZigZag(appendZigZag(nil, -g.countsLen), 0), nil), nil),
		rawEncoding(v2Inner(appendZigZag(appendZigZag(nil, 1-g.countsLen), 9), nil), nil), // the last index
		rawEncoding(v2Inner(appendZigZag(appendZigZag(nil, -g.countsLen), 1), nil), nil),  // an index past the end
		rawEncoding(v2Inner(appendZigZag(nil, math.MinInt64), nil), nil),
		rawEncoding(v2Inner(appendZigZag(appendZigZag(nil, math.MaxInt64), math.MaxInt64), nil), nil), // total overflows
		rawEncoding(v2Inner([]byte{0x80, 0x80}, nil), nil),                                            // cut number
		rawEncoding(v2Inner(payload, func(hd []byte) { hd[3] ^= 1 }), nil),                            // inner cookie
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint32(hd[8:], 1) }), nil), // offset
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint32(hd[12:], 9) }), nil),
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint32(hd[12:], 0) }), nil),
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint64(hd[16:], 1<<62) }), nil),
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint64(hd[16:], 0) }), nil),
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint64(hd[24:], 1<<63) }), nil),
		rawEncoding(v2Inner(payload, func(hd []byte) { binary.BigEndian.PutUint64(hd[32:], math.Float64bits(2)) }), nil),
	)
	return seeds
}

// checkAgainstLibrary fails t unless dec decodes encoded as the library
// does (the same histogram, or an error exactly when it errs) and its
// fast path accepts only what the library accepts, the same way.
func checkAgainstLibrary(t *testing.T, dec *v2Decoder, encoded string) {
	t.Helper()
	want, wantErr := hdr.DecodePacked([]byte(encoded))
	got, err := dec.decode(encoded)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, library's %v", encoded, err, wantErr)
	}
	if err == nil {
		if diff := samePacked(got, want); diff != "" {
			t.Fatalf("%q: %s", encoded, diff)
		}
	}
	fast, ferr := dec.fast([]byte(encoded))
	if ferr == nil && wantErr != nil {
		t.Fatalf("%q: the fast path accepts what the library refuses (%v)", encoded, wantErr)
	}
	if ferr == nil {
		if diff := samePacked(fast, want); diff != "" {
			t.Fatalf("%q: fast path: %s", encoded, diff)
		}
	}
}

// FuzzV2Decoder compares the decoder with hdrhistogram-go's DecodePacked
// on valid and corrupt encodings (see corruptSeeds): as a test it runs
// the seeds, with one decoder reused throughout.
func FuzzV2Decoder(f *testing.F) {
	for _, s := range corruptSeeds() {
		f.Add(s)
	}
	var dec v2Decoder
	f.Fuzz(func(t *testing.T, encoded string) {
		checkAgainstLibrary(t, &dec, encoded)
	})
}

// TestCorruptSeedsExercise: the seeds take both paths and both outcomes,
// so the fuzz target's comparison is not vacuous, and no header's payload
// length made the decoder allocate more than a valid payload can need.
func TestCorruptSeedsExercise(t *testing.T) {
	var dec v2Decoder
	var fastOK, libErr, libOKslow int
	for _, s := range corruptSeeds() {
		_, ferr := dec.fast([]byte(s))
		_, err := hdr.DecodePacked([]byte(s))
		switch {
		case ferr == nil:
			fastOK++
		case err != nil:
			libErr++
		default:
			libOKslow++
		}
	}
	if fastOK < 5 || libErr < 20 || libOKslow < 5 {
		t.Fatalf("fast path ok %d, errors %d, slow path ok %d: the seeds do not cover the paths", fastOK, libErr, libOKslow)
	}
	g := newGeometry(report.LowestValue, report.HighestValue, report.SignificantDigits)
	if limit := v2HeaderSize + 9*g.countsLen; int64(cap(dec.inner)) > limit {
		t.Fatalf("a payload buffer of %d bytes: a header's length was trusted beyond %d", cap(dec.inner), limit)
	}
}

// typicalLine returns the histogram part of a typical interval line: a
// second of one busy cell.
func typicalLine() string {
	rng := rand.New(rand.NewPCG(7, 8))
	h := hdr.NewPacked(report.LowestValue, report.HighestValue, report.SignificantDigits)
	for i := 0; i < 1000; i++ {
		_ = h.RecordValue(500 + rng.Int64N(150_000))
	}
	var enc v2Encoder
	return string(enc.encode(h))
}

// TestV2DecoderAllocs: decoding a typical line again and again allocates
// what building its histogram allocates and, beyond it, only the small
// overflow tables compress/flate's Huffman decoder makes for each dynamic
// block (~24 allocations, under 1 KiB together; the race detector adds
// ~2 KiB): no decompressor or window (the library's are over 40 KB a
// line), no buffers.
func TestV2DecoderAllocs(t *testing.T) {
	line := typicalLine()
	var dec v2Decoder
	h, err := dec.decode(line)
	if err != nil {
		t.Fatal(err)
	}
	var buckets [][2]int64
	h.ForEachBucket(func(v, c int64) bool { buckets = append(buckets, [2]int64{v, c}); return true })
	build := func() {
		b := hdr.NewPacked(report.LowestValue, report.HighestValue, report.SignificantDigits)
		for _, vc := range buckets {
			_ = b.RecordValues(vc[0], vc[1])
		}
	}
	decode := func() { h, _ = dec.decode(line) }
	const runs = 200
	bytesPerRun := func(f func()) uint64 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		for i := 0; i < runs; i++ {
			f()
		}
		runtime.ReadMemStats(&m1)
		return (m1.TotalAlloc - m0.TotalAlloc) / runs
	}
	wantAllocs, allocs := testing.AllocsPerRun(runs, build), testing.AllocsPerRun(runs, decode)
	wantBytes, bytes := bytesPerRun(build), bytesPerRun(decode)
	t.Logf("%.0f allocations, %d bytes a line; building the histogram: %.0f, %d", allocs, bytes, wantAllocs, wantBytes)
	if allocs > wantAllocs+32 || bytes > wantBytes+4096 {
		t.Errorf("%.0f allocations, %d bytes a line; building its histogram takes %.0f, %d", allocs, bytes, wantAllocs, wantBytes)
	}
	if h.TotalCount() != 1000 {
		t.Fatalf("count %d", h.TotalCount())
	}
}

// BenchmarkDecodeLine is the cost of decoding a typical line's histogram:
// hdrhistogram-go's DecodePacked, and the v2Decoder.
func BenchmarkDecodeLine(b *testing.B) {
	line := typicalLine()
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := hdr.DecodePacked([]byte(line)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("v2Decoder", func(b *testing.B) {
		var dec v2Decoder
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := dec.decode(line); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestV2DecoderDecodesIntoThePool: with a pool, a decoded line's histogram
// comes from it, a given-back one is reused for the next line, and what it
// holds is still exactly the library's decoding.
func TestV2DecoderDecodesIntoThePool(t *testing.T) {
	line := typicalLine()
	dec := v2Decoder{pool: report.NewPackedPool(4)}
	first, err := dec.decode(line)
	if err != nil {
		t.Fatal(err)
	}
	dec.pool.Put(first)
	checkAgainstLibrary(t, &dec, line)
	dec.pool.Put(first)
	again, err := dec.decode(line)
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("the histogram given back was not decoded into")
	}
	want, _ := hdr.DecodePacked([]byte(line))
	if diff := samePacked(again, want); diff != "" {
		t.Fatal(diff)
	}
}
