package hlog

// figureSum combines the run figures (End.Figures) of several logs. A count
// adds up. A share (a percentage, such as machine_busy or the share of
// orders pre-ordered) cannot: the merge keeps the largest of the logs', and
// has no data for it unless every log has it, so that a merge never reads
// calmer than its busiest part, nor than a part that was not measured.
type figureSum struct {
	shares map[string]bool
	logs   int
	sum    map[string]float64
	seen   map[string]int
}

// add takes one log's figures (nil when it has none).
func (f *figureSum) add(src map[string]float64) {
	f.logs++
	for k, v := range src {
		if f.sum == nil {
			f.sum, f.seen = map[string]float64{}, map[string]int{}
		}
		f.seen[k]++
		if f.shares[k] {
			if f.seen[k] == 1 || v > f.sum[k] {
				f.sum[k] = v
			}
			continue
		}
		f.sum[k] += v
	}
}

// result returns the combined figures as a new map (nil when no log had
// any), so that adding more logs afterwards still combines them all.
func (f *figureSum) result() map[string]float64 {
	var out map[string]float64
	for k, v := range f.sum {
		if f.shares[k] && f.seen[k] < f.logs {
			continue
		}
		if out == nil {
			out = map[string]float64{}
		}
		out[k] = v
	}
	return out
}
