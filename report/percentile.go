package report

import "math"

// Percentiler is what a percentile is read from: an hdrhistogram-go
// Histogram or PackedHistogram.
type Percentiler interface {
	TotalCount() int64
	ValueAtPercentile(percentile float64) int64
}

// ValueAtPercentile returns h's value at percentile p (0 … 100) by
// HdrHistogram's reference rule, as its Java and JavaScript implementations
// (and so HistogramLogAnalyzer and most readers of our .hlog files) compute
// it: the value of the sample of nearest rank ceil(p/100 × N), at least 1,
// reported as the highest value equivalent to it. hdrhistogram-go rounds
// the rank to nearest instead, which at CI-sized samples picks a lower
// sample (p99 of 150 samples: rank 149 instead of 150) and so a kinder
// figure than every other reader. 0 for an empty histogram.
func ValueAtPercentile(h Percentiler, p float64) int64 {
	n := h.TotalCount()
	if n == 0 || p <= 0 {
		return h.ValueAtPercentile(0)
	}
	p = min(p, 100)
	// The reference implementations take the ceiling of the count less
	// one ulp, so that floating-point error in p/100 × N cannot skip a rank.
	fp := p / 100 * float64(n)
	rank := int64(math.Ceil(fp - (math.Nextafter(fp, math.Inf(1)) - fp)))
	rank = max(1, min(rank, n))
	// hdrhistogram-go picks rank int(q/100 × N + 0.5): ask it for the q
	// whose rounded rank is exactly ours (rank − 0.25 rounds to rank).
	return h.ValueAtPercentile(100 * (float64(rank) - 0.25) / float64(n))
}
