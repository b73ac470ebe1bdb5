package report

import (
	_ "embed" // the HTML report's chart library and script
	"encoding/json"
	"fmt"
	"html/template"
)

// The HTML report stays one file that opens offline: uPlot
// (https://github.com/leeoniya/uPlot, MIT, htmlassets/LICENSE-uPlot;
// 51 KB minified, chosen over Chart.js (213 KB, plus a zoom plugin) and
// ECharts (1.1 MB) for its size, its speed with long series, and its
// built-in cursor values, drag-to-zoom and synced cursors) and the
// report's own script are embedded in it, with the charts' data as JSON.

//go:embed htmlassets/uPlot.iife.min.js
var uplotJS string

//go:embed htmlassets/uPlot.min.css
var uplotCSS string

//go:embed htmlassets/charts.js
var chartsJS string

// htmlAssets are the page's script and style, marked safe for the
// template: they are our embedded files, not user input.
type htmlAssets struct {
	UplotJS, ChartsJS template.JS
	UplotCSS          template.CSS
	// Data is the charts' data, JSON for a <script type="application/json">
	// element (json.Marshal escapes <, > and &, so it cannot end the element).
	Data template.JS
}

func newHTMLAssets(s *Summary) (htmlAssets, error) {
	data, err := json.Marshal(chartDataOf(s))
	if err != nil {
		return htmlAssets{}, fmt.Errorf("chart data: %w", err)
	}
	return htmlAssets{
		UplotJS: template.JS(uplotJS), ChartsJS: template.JS(chartsJS), //nolint:gosec // embedded files
		UplotCSS: template.CSS(uplotCSS), //nolint:gosec // embedded file
		Data:     template.JS(data),      //nolint:gosec // json.Marshal output, HTML-escaped
	}, nil
}

// UplotAssets returns the embedded uPlot library and its stylesheet, for
// another page to serve (the live dashboard).
func UplotAssets() (js, css string) { return uplotJS, uplotCSS }
