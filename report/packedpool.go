package report

import hdr "github.com/HdrHistogram/hdrhistogram-go"

// PackedPool keeps empty packed histograms of the recorder's geometry for
// reuse. A reader of a long stream of intervals (the fleet's coordinator
// decodes and merges the workers' histograms, a hundred a second in a
// storm) that gives each histogram back once it has merged it allocates
// none in the steady state. Safe for concurrent use.
type PackedPool struct {
	list  freeList[hdr.PackedHistogram, *hdr.PackedHistogram]
	limit int
}

// NewPackedPool returns a pool that keeps at most limit histograms.
func NewPackedPool(limit int) *PackedPool { return &PackedPool{limit: limit} }

// Get returns an empty histogram of the recorder's geometry: a kept one,
// or a new one.
func (p *PackedPool) Get() *hdr.PackedHistogram { return p.list.get(newPacked) }

// Put empties h and keeps it, unless the pool is full or h has another
// geometry; nil is ignored. h must not be used afterwards.
func (p *PackedPool) Put(h *hdr.PackedHistogram) {
	if h == nil || h.LowestTrackableValue() != LowestValue || h.HighestTrackableValue() != HighestValue ||
		h.SignificantFigures() != SignificantDigits {
		return
	}
	p.list.put(h, p.limit)
}

// PutCells gives back the histograms of iv's cells (see Put) and clears
// them from iv.
func (p *PackedPool) PutCells(iv *Interval) {
	for i := range iv.Cells {
		p.Put(iv.Cells[i].Latency)
		p.Put(iv.Cells[i].Corrected)
		iv.Cells[i].Latency, iv.Cells[i].Corrected = nil, nil
	}
}
