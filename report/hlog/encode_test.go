package hlog

import (
	"bytes"
	"math/rand/v2"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestV2EncoderMatchesLibrary: our reusable encoder writes exactly the
// line hdrhistogram-go's log writer writes, for histograms of every shape
// (empty, one value, dense, sparse, huge counts, other geometries), reusing
// one encoder throughout, and the library decodes it to the same counts.
func TestV2EncoderMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type geom struct {
		lo, hi int64
		sig    int
	}
	geoms := []geom{{1, 60_000_000, 3}, {1, 3_600_000_000, 2}, {1000, 10_000_000_000, 4}, {1, 100, 0}}
	var enc v2Encoder
	for gi, g := range geoms {
		for n := 0; n < 40; n++ {
			h := hdr.NewPacked(g.lo, g.hi, g.sig)
			switch n % 5 {
			case 0: // empty
			case 1:
				_ = h.RecordValue(g.lo + rng.Int64N(g.hi-g.lo))
			case 2: // dense: every bucket near the low end
				for v := g.lo; v < g.lo+3000 && v <= g.hi; v++ {
					_ = h.RecordValues(v, 1+rng.Int64N(3))
				}
			case 3: // sparse, spread over the whole range
				for k := 0; k < 200; k++ {
					_ = h.RecordValue(g.lo + rng.Int64N(g.hi-g.lo))
				}
			case 4: // huge counts: every LEB128 length, up to the 9th byte
				for k := 0; k < 64; k++ {
					_ = h.RecordValues(g.lo+rng.Int64N(g.hi-g.lo), 1<<k&(1<<62-1)|1)
				}
			}
			h.SetTag("step=a;region=b")
			h.SetStartTimeMs(1_700_000_001_250 + int64(n)*1000)
			h.SetEndTimeMs(1_700_000_002_250 + int64(n)*1000)

			var want bytes.Buffer
			lw := hdr.NewHistogramLogWriter(&want)
			lw.SetBaseTime(1_700_000_000_000)
			if err := lw.OutputIntervalPackedHistogram(h); err != nil {
				t.Fatal(err)
			}
			got := enc.appendIntervalLine(nil, h, 1_700_000_000_000)
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("geometry %d, histogram %d (%d values):\n got %s\nwant %s", gi, n, h.TotalCount(), got, want.Bytes())
			}
			back, err := hdr.DecodePacked(enc.encode(h))
			if err != nil {
				t.Fatalf("geometry %d, histogram %d: decode: %v", gi, n, err)
			}
			if back.TotalCount() != h.TotalCount() || back.Max() != h.Max() {
				t.Fatalf("geometry %d, histogram %d: decoded %d values max %d, want %d max %d", gi, n, back.TotalCount(), back.Max(), h.TotalCount(), h.Max())
			}
		}
	}
}

// BenchmarkHlogIntervalLine: one interval line of a typical per-second
// histogram (a few hundred latencies), ours against the library's writer.
func BenchmarkHlogIntervalLine(b *testing.B) {
	h := hdr.NewPacked(1, 60_000_000, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	for k := 0; k < 500; k++ {
		_ = h.RecordValue(500 + rng.Int64N(200_000))
	}
	h.SetTag("step=add_to_cart;region=us-east")
	b.Run("agentstorm", func(b *testing.B) {
		var enc v2Encoder
		var line []byte
		b.ReportAllocs()
		for b.Loop() {
			line = enc.appendIntervalLine(line[:0], h, 0)
		}
	})
	b.Run("hdrhistogram-go", func(b *testing.B) {
		var buf bytes.Buffer
		lw := hdr.NewHistogramLogWriter(&buf)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			_ = lw.OutputIntervalPackedHistogram(h)
		}
	})
}
