package hlog

import (
	"math"
	"math/bits"
)

// geometry is the counts-index layout of an HdrHistogram, derived from its
// lowest value, highest value and significant figures as hdrhistogram-go
// derives it (New and newExactGeometry), for the V2 encoding's payload,
// which lists counts by index. Valid for lowest ≥ 1 and 0-5 significant
// figures.
type geometry struct {
	unitMag, halfMag int64 // unit magnitude; sub-bucket half-count magnitude
	subMask          int64
	countsLen        int64 // number of counts indexes
}

// newGeometry returns the layout of histograms of lowest … highest with
// sig significant figures.
func newGeometry(lowest, highest int64, sig int) geometry {
	unitMag := int64(max(bits.Len64(uint64(lowest))-1, 0))
	largest := 2 * int64(math.Pow10(sig))
	halfMag := max(int64(bits.Len64(uint64(largest-1))), 1) - 1 // ceil(log2(largest)) - 1
	subCount := int64(1) << (halfMag + 1)
	buckets := int64(1)
	for untrackable := subCount << unitMag; untrackable <= highest; untrackable <<= 1 {
		if untrackable > math.MaxInt64/2 {
			buckets++
			break
		}
		buckets++
	}
	return geometry{
		unitMag:   unitMag,
		halfMag:   halfMag,
		subMask:   (subCount - 1) << unitMag,
		countsLen: (buckets + 1) * (subCount / 2),
	}
}

// index returns the counts index of value v.
func (g *geometry) index(v int64) int64 {
	bucket := int64(64-bits.LeadingZeros64(uint64(v|g.subMask))) - g.unitMag - (g.halfMag + 1)
	sub := v >> (bucket + g.unitMag)
	return (bucket+1)<<g.halfMag + sub - 1<<g.halfMag
}

// lowest returns the lowest value of counts index i (0 ≤ i < countsLen).
func (g *geometry) lowest(i int64) int64 {
	bucket := i>>g.halfMag - 1
	sub := i&(1<<g.halfMag-1) + 1<<g.halfMag
	if bucket < 0 {
		sub -= 1 << g.halfMag
		bucket = 0
	}
	return sub << (bucket + g.unitMag)
}
