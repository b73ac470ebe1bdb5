package report

import (
	"math"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The HTML report's charts are drawn in the browser by uPlot (see
// htmlassets.go) from chartData, which the page carries as JSON: the
// per-second series (per step, raw and corrected) and, from the totals'
// histograms, each step's response-time distribution and percentile
// spectrum.

// chartData is everything the report's charts draw.
type chartData struct {
	// BudgetMs is the compliance limit (100 ms) drawn on latency charts.
	BudgetMs float64 `json:"budget_ms"`
	// Figures names the latency figures: the raw one, then "corrected"
	// when the closed model has a correction. Every Lat, Dist and Spec
	// has one entry per figure.
	Figures []string `json:"figures"`
	// T is each point's end in seconds since the start.
	T jsNums `json:"t"`
	// Active is the active-agents gauge; Dropped the dropped sessions per
	// second (nil when none were dropped).
	Active  jsNums `json:"active"`
	Dropped jsNums `json:"dropped,omitempty"`
	// Abandoned is the share (%) of the sessions that ended in each second
	// that were abandoned (null in a second where none ended); nil when
	// the run ended no session.
	Abandoned jsNums `json:"abandoned,omitempty"`
	// Steps are "all" first, then every step with requests.
	Steps  []chartStep  `json:"steps"`
	Events []chartEvent `json:"events,omitempty"`
}

// chartStep is one step's (or all steps') charts.
type chartStep struct {
	Name string `json:"name"`
	// OK and KO are the answers per second that passed and failed.
	OK jsNums `json:"ok"`
	KO jsNums `json:"ko"`
	// Lat is per figure the p50, p90, p99 and max per second, ms (null
	// where the second had no latency).
	Lat [][4]jsNums `json:"lat"`
	// Dist is per figure the response-time distribution of the run.
	Dist []chartDist `json:"dist"`
	// Spec is per figure the percentile spectrum of the run.
	Spec []chartSpec `json:"spec"`
}

// chartDist is a response-time distribution in logarithmic buckets,
// distPerDecade per decade: bucket K0+i spans 10^((K0+i)/distPerDecade) µs
// up to the next, and holds Pct[i] % of the latencies.
type chartDist struct {
	K0  int    `json:"k0"`
	Pct jsNums `json:"pct"`
}

// distPerDecade is the number of distribution buckets per decade of latency.
const distPerDecade = 10

// chartSpec is a percentile spectrum: latency Y (ms) at percentile X on a
// "nines" axis, X = -log10(1 - q).
type chartSpec struct {
	X jsNums `json:"x"`
	Y jsNums `json:"y"`
}

// chartEvent is a timeline mark (a chaos action).
type chartEvent struct {
	T      float64 `json:"t"`
	Name   string  `json:"name"`
	Failed bool    `json:"failed,omitempty"`
}

// jsNums is a number array in JSON with NaN as null and four significant
// digits (HDR figures carry three), to keep the page small.
type jsNums []float64

// MarshalJSON implements json.Marshaler.
func (a jsNums) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+6*len(a))
	b = append(b, '[')
	for i, v := range a {
		if i > 0 {
			b = append(b, ',')
		}
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			b = append(b, "null"...)
		case v == math.Trunc(v) && math.Abs(v) < 1e15:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			// Round to four significant digits by an exact power of ten.
			if e := int(math.Floor(math.Log10(math.Abs(v)))); e >= 3 {
				p := math.Pow10(e - 3)
				v = math.Round(v/p) * p
			} else {
				p := math.Pow10(3 - e)
				v = math.Round(v*p) / p
			}
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		}
	}
	return append(b, ']'), nil
}

// chartDataOf returns the charts' data of s.
func chartDataOf(s *Summary) *chartData {
	d := &chartData{BudgetMs: durMs(ComplianceLimit), Figures: []string{"raw"}}
	if s.Model == ModelOpen {
		d.Figures[0] = "from intended start"
	}
	corrected := s.Overall.CorrectedHistogram != nil
	if corrected {
		d.Figures = append(d.Figures, "corrected")
	}
	n := len(s.Series)
	d.T, d.Active = make(jsNums, n), make(jsNums, n)
	dropped := make(jsNums, n)
	anyDrop := false
	for i := range s.Series {
		p := &s.Series[i]
		d.T[i], d.Active[i] = p.At.Seconds(), float64(p.ActiveAgents)
		dropped[i] = perSecond(p.Dropped, p)
		anyDrop = anyDrop || p.Dropped > 0
	}
	if anyDrop {
		d.Dropped = dropped
	}
	if s.sessionsShown() && s.SessionsUnmeasured().Abandoned == "" { // no chart of what was not measured
		d.Abandoned = make(jsNums, n)
		for i := range s.Series {
			ss := &s.Series[i].Sessions
			d.Abandoned[i] = math.NaN()
			if e := ss.Ended(); e > 0 {
				d.Abandoned[i] = 100 * float64(ss.AbandonedTotal()) / float64(e)
			}
		}
	}
	all := func(p *SeriesPoint) StepPoint {
		return StepPoint{Count: p.Count, Errors: p.Errors, Corrected: p.Corrected,
			Raw: PointLatency{Count: p.Latencies, P50: p.P50, P90: p.P90, P99: p.P99, Max: p.Max}}
	}
	d.Steps = append(d.Steps, chartStepOf(s, &s.Overall, corrected, all))
	for i := range s.PerStep {
		if st := &s.PerStep[i]; st.Count > 0 && len(s.PerStep) > 1 {
			d.Steps = append(d.Steps, chartStepOf(s, st, corrected, func(p *SeriesPoint) StepPoint {
				if i < len(p.Steps) {
					return p.Steps[i]
				}
				return StepPoint{}
			}))
		}
	}
	for _, e := range s.Events {
		d.Events = append(d.Events, chartEvent{T: e.At.Seconds(), Name: e.Name, Failed: e.Error != ""})
	}
	return d
}

func perSecond(n int64, p *SeriesPoint) float64 {
	return float64(n) / math.Max(p.Seconds, 1e-3)
}

// chartStepOf returns the charts of st, whose per-second figures point
// reads from a series point.
func chartStepOf(s *Summary, st *Stats, corrected bool, point func(*SeriesPoint) StepPoint) chartStep {
	n := len(s.Series)
	c := chartStep{Name: st.Name, OK: make(jsNums, n), KO: make(jsNums, n)}
	figures := []*hdr.Histogram{st.Histogram}
	if corrected {
		figures = append(figures, st.CorrectedHistogram)
	}
	c.Lat = make([][4]jsNums, len(figures))
	for f := range c.Lat {
		for k := range c.Lat[f] {
			c.Lat[f][k] = make(jsNums, n)
		}
	}
	for i := range s.Series {
		sp := point(&s.Series[i])
		c.OK[i], c.KO[i] = perSecond(sp.Count-sp.Errors, &s.Series[i]), perSecond(sp.Errors, &s.Series[i])
		for f, l := range []PointLatency{sp.Raw, sp.Corrected}[:len(figures)] {
			v := [4]float64{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
			if l.Count > 0 {
				v = [4]float64{durMs(l.P50), durMs(l.P90), durMs(l.P99), durMs(l.Max)}
			}
			for k := range v {
				c.Lat[f][k][i] = v[k]
			}
		}
	}
	for _, h := range figures {
		c.Dist = append(c.Dist, distOf(h))
		c.Spec = append(c.Spec, spectrumOf(h))
	}
	return c
}

// distOf returns h's distribution (µs values) in logarithmic buckets, as
// shares of its count, from the first bucket with values to the last.
func distOf(h *hdr.Histogram) chartDist {
	if h == nil || h.TotalCount() == 0 {
		return chartDist{}
	}
	counts := map[int]int64{}
	k0, k1 := math.MaxInt, math.MinInt
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		// A bar's values are equivalent at the histogram's precision: put
		// them in the bucket of the bar's midpoint.
		k := int(math.Floor(distPerDecade * math.Log10(math.Max(float64(b.From+b.To)/2, 1))))
		counts[k] += b.Count
		k0, k1 = min(k0, k), max(k1, k)
	}
	d := chartDist{K0: k0, Pct: make(jsNums, k1-k0+1)}
	total := float64(h.TotalCount())
	for k, n := range counts {
		d.Pct[k-k0] = 100 * float64(n) / total
	}
	return d
}

// spectrumOf returns h's percentile spectrum (µs values, in ms) on a
// "nines" axis, up to the percentile of its last value.
func spectrumOf(h *hdr.Histogram) chartSpec {
	var sp chartSpec
	if h == nil || h.TotalCount() == 0 {
		return sp
	}
	xmax := math.Log10(float64(h.TotalCount()))
	for _, b := range h.CumulativeDistributionWithTicks(5) {
		if b.Count == 0 {
			continue
		}
		q := b.Quantile / 100
		x := xmax
		if q < 1 {
			x = math.Min(-math.Log10(1-q), xmax)
		}
		if len(sp.X) > 0 && x < sp.X[len(sp.X)-1] {
			continue
		}
		sp.X = append(sp.X, x)
		sp.Y = append(sp.Y, math.Max(durMs(time.Duration(b.ValueAt)*time.Microsecond), 0.001))
	}
	return sp
}
