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
	Status      string
	Reason      string
	Budgets     []BudgetResult
	Sections    []Section
	Assets      htmlAssets
	Events      []TimelineEvent
	Steps       []htmlRow
	Regions     []htmlRow
	Cells       []htmlRow
	Overall     htmlRow
	Errors      []string
	Failures    []CheckFailure
	Notes       []string
	JudgedLabel string
	// Sessions are the session headline's lines (the text summary's; none
	// when the run ended no session); SessionTables their tables per step
	// and per region.
	Sessions      []string
	SessionTables []sessionTable
	// SessionsNote says what the tables' "-" are: figures the run could
	// not measure (SessionsUnmeasured.Note); "" when none.
	SessionsNote string
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
// the headline (sub-100 ms compliance, budgets), interactive charts
// (uPlot, embedded: latency percentiles over time per step, raw and
// corrected; p99 per step; requests, OK and KO per second; active agents;
// the response-time distribution and the percentile spectrum; the 100 ms
// line; hover values and zoom on time), and tables per step, region and
// step × region.
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
	if st := s.Status(); st != StatusOK {
		d.Status, d.Reason = st, s.StatusReason()
	}
	if len(s.Series) == 0 {
		d.Notes = append(d.Notes, "No per-second series was recorded, so the over-time charts are left out.")
	}
	assets, err := newHTMLAssets(s)
	if err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	d.Assets, d.Events = assets, s.Events
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
	if s.sessionsShown() {
		d.Sessions, d.SessionTables, d.SessionsNote = s.sessionsHeadline(), s.sessionTables(), s.SessionsUnmeasured().Note()
	}
	switch {
	case s.Model == ModelOpen:
		d.Notes = append(d.Notes, "Open model: every latency runs from the request's intended (scheduled) start, so time spent waiting behind a slow target counts (as wrk2).")
	case s.Overall.Corrected != nil:
		d.Notes = append(d.Notes, fmt.Sprintf("Closed model: tables show the judged figure (the worse of raw and corrected); the charts show raw latency from the send or the corrected figure (HdrHistogram's correction with the agents' planned pace, mean %s), as chosen above them.", FormatDuration(s.Overall.MeanExpectedInterval)))
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
{{.Assets.UplotCSS}}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:2rem auto;max-width:1500px;padding:0 1.5rem;color:#222}
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
#charts{width:100%}
.chart{margin:.6rem 0 1.6rem}
.controls{position:sticky;top:0;z-index:10;background:#fff;border-bottom:1px solid #ddd;padding:.5rem 0;display:flex;flex-wrap:wrap;gap:1.2rem;align-items:center;font-size:.9rem}
.controls label{display:flex;gap:.4rem;align-items:center}
.controls select,.controls button{font:inherit;padding:.15rem .4rem}
.hint{color:#666;font-size:.85rem}
.events{font-size:.85rem;color:#444;columns:2;margin:.2rem 0 1rem}
.u-title{font-size:16px;font-weight:600}
.u-legend{font-size:12.5px}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<div class="sub">generated {{.Generated}}</div>
{{if .Status}}<p class="verdict bad" id="status">✘ Run {{.Status}}: {{.Reason}}</p>{{end}}
<p class="headline">{{.Headline}}</p>
<div class="sub">{{.Figure}}</div>
{{if .Worst}}<p>{{.Worst}}</p>{{end}}
{{if .Sessions}}<p id="sessions-line">{{range $i, $l := .Sessions}}{{if $i}}<br>{{$l}}{{else}}<strong>{{$l}}</strong>{{end}}{{end}}</p>{{end}}
{{if .Verdict}}<p class="verdict {{if .VerdictOK}}ok{{else}}bad{{end}}" id="verdict">{{if .VerdictOK}}✔{{else}}✘{{end}} {{.Verdict}}</p>{{end}}
{{if .Aborted}}<p class="bad"><strong>Run aborted:</strong> {{.Aborted}}</p>{{end}}
{{if .Budgets}}
<h2>Budgets</h2>
<table id="budgets"><tr><th>budget</th><th>actual</th><th>limit</th><th>verdict</th><th>source</th></tr>
{{range .Budgets}}<tr><td class="expr">{{.Expr}}</td><td>{{.ActualText}}</td><td>{{.LimitText}}</td><td class="{{if .Met}}ok{{else}}bad{{end}}">{{.VerdictText}}</td><td>{{.Source}}</td></tr>
{{end}}</table>
{{end}}
{{range .Sections}}<h2>{{.Title}}</h2>
<pre class="section">{{range .Lines}}{{.}}
{{end}}</pre>
{{end}}<h2>Charts</h2>
<div class="controls" id="chart-controls">
<label>step <select id="ctl-step"></select></label>
<label>latency figure <select id="ctl-figure"></select></label>
<label><input type="checkbox" id="ctl-log"> log latency scale</label>
<button type="button" id="ctl-reset">reset zoom</button>
<span class="hint">drag across a chart to zoom on time · double-click to zoom out · each legend gives the values at the cursor (away from the chart: the last second in view)</span>
</div>
{{if .Events}}<ol class="events" id="events">{{range .Events}}<li{{if .Error}} class="bad"{{end}}>{{printf "%.1f" .At.Seconds}} s: {{.Name}}{{if .Error}} (failed: {{.Error}}){{end}}</li>{{end}}</ol>
{{end}}<div id="charts"><noscript><p class="bad">The charts need JavaScript (embedded in this file; nothing is fetched).</p></noscript></div>

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
{{if .Sessions}}<h2>Sessions (where they ended; abandoned share of the sessions of the region)</h2>
{{range .SessionTables}}<table id="sessions-{{.ID}}"><tr><th>{{.Head}}</th><th>abandoned</th><th>share</th><th>slow</th><th>error</th><th>timeout</th><th>completed</th><th>failed</th><th>sales</th><th>lost</th><th>sales value</th></tr>
{{range .Rows}}<tr><td>{{if .All}}<strong>all</strong>{{else}}{{.Name}}{{end}}</td><td>{{.Abandoned}}</td><td{{if .Bad}} class="bad"{{end}}>{{.Share}}</td><td>{{.Slow}}</td><td>{{.Error}}</td><td>{{.Timeout}}</td><td>{{.Completed}}</td><td>{{.Failed}}</td><td>{{.Sales}}</td><td>{{.Lost}}</td><td>{{.Value}}</td></tr>
{{end}}</table>
{{end}}{{if .SessionsNote}}<p id="sessions-not-measured">-: {{.SessionsNote}}</p>{{end}}{{end}}
{{if .Errors}}<h2>Errors by class</h2><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Failures}}<h2>Failed checks</h2>
<table id="failures"><tr><th>step</th><th>check</th><th>status</th><th>count</th></tr>
{{range .Failures}}<tr><td>{{.Step}}</td><td>{{.Kind}}</td><td>{{.Status}}</td><td>{{.Count}}</td></tr>
{{end}}</table>{{end}}
<h2>Run</h2>
<table class="meta">{{range .Meta}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{range .Notes}}<p class="sub">{{.}}</p>{{end}}
<script type="application/json" id="chart-data">{{.Assets.Data}}</script>
<script>{{.Assets.UplotJS}}</script>
<script>{{.Assets.ChartsJS}}</script>
</body>
</html>
`))
