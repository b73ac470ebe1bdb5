package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn with gonum.org/v1/plot and rendered to SVG, inlined in
// the HTML report.

const (
	chartW = 7.5 * vg.Inch
	chartH = 3.2 * vg.Inch
)

var palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff},
	{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff},
	{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
	{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff},
}

var budgetRed = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}

// newPlot returns a plot whose text is in Liberation Sans (gonum/plot's
// default is the serif face), to match the page.
func newPlot() *plot.Plot {
	p := plot.New()
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		st.Font.Variant = "Sans"
	}
	return p
}

// renderSVG draws p into an SVG document and returns the <svg> element.
func renderSVG(p *plot.Plot) (string, error) {
	c := vgsvg.New(chartW, chartH)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("render chart %q: %w", p.Title.Text, err)
	}
	out := buf.String()
	if i := strings.Index(out, "<svg"); i > 0 {
		out = out[i:]
	}
	return out, nil
}

func addLine(p *plot.Plot, name string, pts plotter.XYs, c color.Color, dashed bool) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("chart %q, line %q: %w", p.Title.Text, name, err)
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// chartLine is one named line of a chart.
type chartLine struct {
	name string
	pts  plotter.XYs
}

// addBudgetLine draws the 100 ms compliance limit as a dashed red line
// from x0 to x1.
func addBudgetLine(p *plot.Plot, x0, x1 float64) error {
	limit := durMs(ComplianceLimit)
	return addLine(p, "budget "+FormatDuration(ComplianceLimit), plotter.XYs{{X: x0, Y: limit}, {X: x1, Y: limit}}, budgetRed, true)
}

// ninesTicks labels a "nines" axis: x = -log10(1-q).
type ninesTicks struct{}

func (ninesTicks) Ticks(min, max float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"}
	var out []plot.Tick
	for i := 0; i < len(labels) && float64(i) <= max+1e-9; i++ {
		out = append(out, plot.Tick{Value: float64(i), Label: labels[i]})
		if i+1 < len(labels) && float64(i)+math.Log10(2) <= max {
			out = append(out, plot.Tick{Value: float64(i) + math.Log10(2)}) // 50%, 95%, 99.5%…: minor
		}
	}
	return out
}

// msTicks labels a log latency axis in readable units.
type msTicks struct{}

func (msTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min*0.999 || v > max*1.001 {
				continue
			}
			out = append(out, plot.Tick{Value: v, Label: FormatDuration(msDuration(v))})
		}
	}
	if len(out) < 2 {
		out = append(out, plot.Tick{Value: min, Label: FormatDuration(msDuration(min))}, plot.Tick{Value: max, Label: FormatDuration(msDuration(max))})
	}
	return out
}

// spectrumPoints returns (nines, ms) points of h's percentile spectrum.
func spectrumPoints(h *hdr.Histogram) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	xmax := math.Log10(float64(n))
	var pts plotter.XYs
	for _, b := range h.CumulativeDistributionWithTicks(5) {
		if b.Count == 0 {
			continue
		}
		q := b.Quantile / 100
		var x float64
		if q >= 1 {
			x = xmax
		} else {
			x = math.Min(-math.Log10(1-q), xmax)
		}
		y := math.Max(float64(b.ValueAt)/1000, 0.001)
		if len(pts) > 0 && x < pts[len(pts)-1].X {
			continue
		}
		pts = append(pts, plotter.XY{X: x, Y: y})
	}
	return pts
}

// spectrumChart is the percentile spectrum of the run and of each step on
// a log "nines" axis, with the 100 ms budget line.
func spectrumChart(s *Summary) (string, error) {
	p := newPlot()
	p.Title.Text = "Latency by percentile, " + s.figureName(&s.Overall)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	p.Legend.Top = false // the spectrum rises to the right: the bottom right is free
	xmax, ymin, ymax := 1.0, math.Inf(1), 100.0
	lines := []chartLine{{"all", spectrumPoints(judgedHistogram(&s.Overall))}}
	for i := range s.PerStep {
		if len(lines) > len(palette)-1 {
			break
		}
		if h := judgedHistogram(&s.PerStep[i]); h != nil && h.TotalCount() > 0 && len(s.PerStep) > 1 {
			lines = append(lines, chartLine{s.PerStep[i].Name, spectrumPoints(h)})
		}
	}
	for i, l := range lines {
		for _, pt := range l.pts {
			xmax, ymin, ymax = math.Max(xmax, pt.X), math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
		}
		if err := addLine(p, l.name, l.pts, palette[i%len(palette)], false); err != nil {
			return "", err
		}
	}
	if math.IsInf(ymin, 1) {
		ymin = 1
	}
	if err := addBudgetLine(p, 0, xmax); err != nil {
		return "", err
	}
	p.X.Min, p.X.Max = 0, xmax
	p.X.Tick.Marker = ninesTicks{}
	p.Y.Min, p.Y.Max = math.Max(ymin*0.8, 0.001), ymax*1.25
	return renderSVG(p)
}

func seriesX(pt *SeriesPoint) float64 { return pt.At.Seconds() }

// newTimePlot returns a plot over the series' time axis (seconds since the
// start), titled, with its y label and the legend at the top.
func newTimePlot(s *Summary, title, ylabel string) *plot.Plot {
	p := newPlot()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.X.Label.Text = "seconds since start"
	p.X.Min = 0
	if n := len(s.Series); n > 0 {
		p.X.Max = math.Max(seriesX(&s.Series[n-1]), 1)
	}
	return p
}

// renderTimePlot marks the timeline events on an over-time plot (once its
// y range is set) and renders it.
func renderTimePlot(p *plot.Plot, s *Summary) (string, error) {
	if err := markEvents(p, s); err != nil {
		return "", err
	}
	return renderSVG(p)
}

// latencyChart is p50, p99 and max per second.
func latencyChart(s *Summary) (string, error) {
	p := newTimePlot(s, "Latency over time (per second, raw)", "latency")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = msTicks{}
	var p50, p99, mx plotter.XYs
	ymin, ymax := math.Inf(1), 100.0
	for i := range s.Series {
		pt := &s.Series[i]
		if pt.Latencies == 0 {
			continue
		}
		x := seriesX(pt)
		a, b, c := math.Max(durMs(pt.P50), 0.001), math.Max(durMs(pt.P99), 0.001), math.Max(durMs(pt.Max), 0.001)
		p50, p99, mx = append(p50, plotter.XY{X: x, Y: a}), append(p99, plotter.XY{X: x, Y: b}), append(mx, plotter.XY{X: x, Y: c})
		ymin, ymax = math.Min(ymin, a), math.Max(ymax, c)
	}
	if math.IsInf(ymin, 1) {
		ymin = 1
	}
	for i, l := range []chartLine{{"p50", p50}, {"p99", p99}, {"max", mx}} {
		if err := addLine(p, l.name, l.pts, palette[i], false); err != nil {
			return "", err
		}
	}
	if err := addBudgetLine(p, p.X.Min, p.X.Max); err != nil {
		return "", err
	}
	p.Y.Min, p.Y.Max = math.Max(ymin*0.8, 0.001), ymax*1.25
	return renderTimePlot(p, s)
}

// throughputChart is requests and errors per second.
func throughputChart(s *Summary) (string, error) {
	p := newTimePlot(s, "Throughput and errors over time", "per second")
	var rps, errs, drops plotter.XYs
	anyDrop := false
	for i := range s.Series {
		pt := &s.Series[i]
		x := seriesX(pt)
		sec := math.Max(pt.Seconds, 1e-3)
		rps = append(rps, plotter.XY{X: x, Y: pt.RPS()})
		errs = append(errs, plotter.XY{X: x, Y: float64(pt.Errors) / sec})
		drops = append(drops, plotter.XY{X: x, Y: float64(pt.Dropped) / sec})
		anyDrop = anyDrop || pt.Dropped > 0
	}
	if err := addLine(p, "requests/s", rps, palette[0], false); err != nil {
		return "", err
	}
	if err := addLine(p, "errors/s", errs, budgetRed, false); err != nil {
		return "", err
	}
	if anyDrop {
		if err := addLine(p, "dropped sessions/s", drops, palette[1], false); err != nil {
			return "", err
		}
	}
	p.Y.Min = 0
	return renderTimePlot(p, s)
}

// agentsChart is the active-agents gauge per second.
func agentsChart(s *Summary) (string, error) {
	p := newTimePlot(s, "Active agents over time", "agents")
	var pts plotter.XYs
	for i := range s.Series {
		pts = append(pts, plotter.XY{X: seriesX(&s.Series[i]), Y: float64(s.Series[i].ActiveAgents)})
	}
	if err := addLine(p, "active agents", pts, palette[2], false); err != nil {
		return "", err
	}
	p.Y.Min = 0
	p.Y.Tick.Marker = countTicks{}
	return renderTimePlot(p, s)
}

type countTicks struct{}

func (countTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" && ts[i].Value == math.Trunc(ts[i].Value) {
			ts[i].Label = FormatCount(int64(ts[i].Value))
		} else if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
