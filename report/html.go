package report

import (
	"fmt"
	"html/template"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

func msDuration(v float64) time.Duration {
	return time.Duration(math.Round(v * float64(time.Millisecond)))
}

// htmlRow is one table row of the HTML report.
type htmlRow struct {
	Name                                 string
	Count, RPS, Err                      string
	P50, P90, P99, P999, Max, Compliance string
	Bad                                  bool
}

type htmlData struct {
	Title       string
	Generated   string
	Meta        [][2]string
	Headline    string
	Figure      string
	Worst       string
	Verdict     string
	VerdictOK   bool
	Aborted     string
	Budgets     []BudgetResult
	Sections    []Section
	Charts      []template.HTML
	Steps       []htmlRow
	Regions     []htmlRow
	Cells       []htmlRow
	Overall     htmlRow
	Errors      []string
	Failures    []CheckFailure
	Notes       []string
	JudgedLabel string
}

func (s *Summary) htmlRows(rows []Stats) []htmlRow {
	out := make([]htmlRow, 0, len(rows))
	for i := range rows {
		st := &rows[i]
		if st.Count == 0 && st.Dropped == 0 {
			continue
		}
		l := st.Judged()
		r := htmlRow{Name: st.Name, Count: FormatCount(st.Count), RPS: formatRate(st.RPS), Err: formatErrPct(st.Errors, st.Count),
			P50: "-", P90: "-", P99: "-", P999: "-", Max: "-", Compliance: "-"}
		if l.Count > 0 {
			r.P50, r.P90, r.P99, r.P999, r.Max = FormatDuration(l.P50), FormatDuration(l.P90), FormatDuration(l.P99), FormatDuration(l.P999), FormatDuration(l.Max)
			r.Compliance = formatPct(l.Compliance())
			r.Bad = l.P99 > ComplianceLimit
		}
		out = append(out, r)
	}
	return out
}

// WriteHTML writes s as one self-contained HTML file that opens offline:
// the headline (sub-100 ms compliance, budgets), charts (percentile
// spectrum on a "nines" axis with the 100 ms line, latency, throughput and
// errors, and active agents over time; gonum/plot SVG, inline), and tables
// per step, region and step × region.
func WriteHTML(w io.Writer, s *Summary) error {
	d := htmlData{Title: "agentstorm report", Generated: time.Now().UTC().Format(time.RFC3339)}
	if p := s.Meta["profile"]; p != "" {
		d.Title = "agentstorm: " + p
	}
	d.Meta = append(d.Meta, [2]string{"model", s.Model}, [2]string{"start", s.Start.UTC().Format(time.RFC3339)},
		[2]string{"elapsed", FormatDuration(s.Elapsed)}, [2]string{"requests", FormatCount(s.Overall.Count)},
		[2]string{"req/s", formatRate(s.Overall.RPS)}, [2]string{"connections opened", FormatCount(s.Connections)},
		[2]string{"peak active agents", FormatCount(int64(s.PeakActiveAgents))}, [2]string{"dropped sessions", FormatCount(s.Dropped)})
	for _, k := range slices.Sorted(maps.Keys(s.Meta)) {
		d.Meta = append(d.Meta, [2]string{k, s.Meta[k]})
	}
	o := s.Overall.Judged()
	d.Headline = formatPct(o.Compliance())
	d.Figure = fmt.Sprintf("of %s answers within 100 ms", FormatCount(o.Count))
	d.JudgedLabel = s.figureName(&s.Overall)
	switch {
	case s.Model == ModelOpen:
		d.Figure += ", measured from each request's intended start (corrected for coordinated omission)"
	case s.Overall.Corrected != nil:
		d.Figure += fmt.Sprintf(", corrected for coordinated omission (raw: %s)", formatPct(s.Overall.Raw.Compliance()))
	default:
		d.Figure += " (raw, not corrected for coordinated omission)"
	}
	if worst, isWrite := s.WorstWriteStep(); worst != nil {
		label := "Worst write step"
		if !isWrite {
			label = "Worst step"
		}
		lat := worst.Judged()
		d.Worst = fmt.Sprintf("%s: %s, %s within 100 ms, p99 %s", label, worst.Name, formatPct(lat.Compliance()), FormatDuration(lat.P99))
	}
	d.Budgets = s.Budgets
	d.Sections = s.Sections
	if len(s.Budgets) > 0 {
		missed := budgetsMissed(s.Budgets)
		d.VerdictOK = missed == 0
		if missed == 0 {
			d.Verdict = fmt.Sprintf("All %d budgets met", len(s.Budgets))
		} else {
			d.Verdict = fmt.Sprintf("%d of %d budgets missed", missed, len(s.Budgets))
		}
	}
	if s.Aborted != nil {
		d.Aborted = s.Aborted.String()
	}
	charts := []func(*Summary) (string, error){spectrumChart}
	if len(s.Series) > 0 {
		charts = append(charts, latencyChart, throughputChart, agentsChart)
	} else {
		d.Notes = append(d.Notes, "No per-second series was recorded, so the over-time charts are left out.")
	}
	for _, c := range charts {
		svg, err := c(s)
		if err != nil {
			return fmt.Errorf("write html: %w", err)
		}
		d.Charts = append(d.Charts, template.HTML(svg)) //nolint:gosec // produced by gonum/plot's SVG canvas, not user input
	}
	d.Steps = s.htmlRows(s.PerStep)
	d.Regions = s.htmlRows(s.PerRegion)
	if len(s.Regions) > 1 && len(s.Steps) > 1 {
		d.Cells = s.htmlRows(s.Cells)
	}
	if rows := s.htmlRows([]Stats{s.Overall}); len(rows) == 1 {
		d.Overall = rows[0]
	}
	for k := 1; k < NumOutcomes; k++ {
		if n := s.Overall.Counts[k]; n > 0 {
			d.Errors = append(d.Errors, fmt.Sprintf("%s: %s", Outcome(k).String(), FormatCount(n)))
		}
	}
	d.Failures = s.Failures
	switch {
	case s.Model == ModelOpen:
		d.Notes = append(d.Notes, "Open model: every latency runs from the request's intended (scheduled) start, so time spent waiting behind a slow target counts (as wrk2).")
	case s.Overall.Corrected != nil:
		d.Notes = append(d.Notes, fmt.Sprintf("Closed model: tables and the spectrum show the corrected figure (HdrHistogram's correction with the agents' planned pace, mean %s); the over-time chart shows raw latency from the send.", FormatDuration(s.Overall.MeanExpectedInterval)))
	default:
		d.Notes = append(d.Notes, "Closed model without correction: latency from the send; stalls are under-represented.")
	}
	if err := htmlTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.4rem;margin-bottom:.2rem}
h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.headline{font-size:3rem;font-weight:700;margin:.5rem 0 0}
.sub{color:#555}
.ok{color:#1a7f37}.bad{color:#cf222e}
.verdict{font-size:1.3rem;font-weight:600;margin:.8rem 0}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f6f8fa}
td.expr{font-family:ui-monospace,Menlo,Consolas,monospace}
.meta td{text-align:left}
.chart svg{max-width:100%;height:auto}
.chart{margin:1rem 0}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="sub">generated {{.Generated}}</div>
<p class="headline">{{.Headline}}</p>
<div class="sub">{{.Figure}}</div>
{{if .Worst}}<p>{{.Worst}}</p>{{end}}
{{if .Verdict}}<p class="verdict {{if .VerdictOK}}ok{{else}}bad{{end}}" id="verdict">{{if .VerdictOK}}✔{{else}}✘{{end}} {{.Verdict}}</p>{{end}}
{{if .Aborted}}<p class="bad"><strong>Run aborted:</strong> {{.Aborted}}</p>{{end}}
{{if .Budgets}}
<h2>Budgets</h2>
<table id="budgets"><tr><th>budget</th><th>actual</th><th>limit</th><th>verdict</th><th>source</th></tr>
{{range .Budgets}}<tr><td class="expr">{{.Expr}}</td><td>{{.ActualText}}</td><td>{{.LimitText}}</td><td class="{{if .Met}}ok{{else}}bad{{end}}">{{.Verdict}}</td><td>{{.Source}}</td></tr>
{{end}}</table>
{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
<pre class="section">{{range .Lines}}{{.}}
{{end}}</pre>
{{end}}<h2>Charts</h2>
{{range .Charts}}<div class="chart">{{.}}</div>
{{end}}
<h2>Per step ({{.JudgedLabel}})</h2>
<table id="steps"><tr><th>step</th><th>requests</th><th>req/s</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>≤100 ms</th></tr>
{{range .Steps}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.RPS}}</td><td>{{.Err}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td{{if .Bad}} class="bad"{{end}}>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td><td>{{.Compliance}}</td></tr>
{{end}}{{with .Overall}}<tr><th>all</th><th>{{.Count}}</th><th>{{.RPS}}</th><th>{{.Err}}</th><th>{{.P50}}</th><th>{{.P90}}</th><th>{{.P99}}</th><th>{{.P999}}</th><th>{{.Max}}</th><th>{{.Compliance}}</th></tr>{{end}}
</table>
<h2>Per region</h2>
<table id="regions"><tr><th>region</th><th>requests</th><th>req/s</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>≤100 ms</th></tr>
{{range .Regions}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.RPS}}</td><td>{{.Err}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td{{if .Bad}} class="bad"{{end}}>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td><td>{{.Compliance}}</td></tr>
{{end}}</table>
{{if .Cells}}<h2>Per step × region</h2>
<table id="cells"><tr><th>step @ region</th><th>requests</th><th>req/s</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>≤100 ms</th></tr>
{{range .Cells}}<tr><td>{{.Name}}</td><td>{{.Count}}</td><td>{{.RPS}}</td><td>{{.Err}}</td><td>{{.P50}}</td><td>{{.P90}}</td><td{{if .Bad}} class="bad"{{end}}>{{.P99}}</td><td>{{.P999}}</td><td>{{.Max}}</td><td>{{.Compliance}}</td></tr>
{{end}}</table>{{end}}
{{if .Errors}}<h2>Errors by class</h2><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Failures}}<h2>Failed checks</h2>
<table id="failures"><tr><th>step</th><th>check</th><th>status</th><th>count</th></tr>
{{range .Failures}}<tr><td>{{.Step}}</td><td>{{.Kind}}</td><td>{{.Status}}</td><td>{{.Count}}</td></tr>
{{end}}</table>{{end}}
<h2>Run</h2>
<table class="meta">{{range .Meta}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{range .Notes}}<p class="sub">{{.}}</p>{{end}}
<script>
(function(){var n=0;document.querySelectorAll(".chart svg").forEach(function(s){var b=s.getBBox();if(b.width>0&&b.height>0){n++;}});
document.documentElement.setAttribute("data-charts-rendered",String(n));})();
</script>
</body>
</html>
`))
