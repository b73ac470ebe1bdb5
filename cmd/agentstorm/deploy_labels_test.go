package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// matcherRe is one PromQL label matcher: name, operator, quoted value.
var matcherRe = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")`)

// selectorRe is a PromQL selector's braces.
var selectorRe = regexp.MustCompile(`\{([^{}]*)\}`)

// labelMatcher is one parsed matcher of a query.
type labelMatcher struct{ name, op, value string }

// matches reports whether a series whose label is v passes m.
func (m labelMatcher) matches(t *testing.T, v string) bool {
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	}
	re, err := regexp.Compile("^(?:" + m.value + ")$")
	if err != nil {
		t.Fatalf("matcher %s%s%q: %v", m.name, m.op, m.value, err)
	}
	return re.MatchString(v) == (m.op == "=~")
}

// queryMatchers returns the label matchers of every selector of expr.
func queryMatchers(t *testing.T, expr string) []labelMatcher {
	var out []labelMatcher
	for _, sel := range selectorRe.FindAllStringSubmatch(expr, -1) {
		for _, m := range matcherRe.FindAllStringSubmatch(sel[1], -1) {
			v, err := strconv.Unquote(m[3])
			if err != nil {
				t.Fatalf("query %q: matcher %s: %v", expr, m[0], err)
			}
			out = append(out, labelMatcher{m[1], m[2], v})
		}
	}
	return out
}

// TestGrafanaQueriesMatchScrapes checks that the panel's queries select
// the series both scrape setups produce: the job label the Prometheus
// Operator gives the PodMonitor's targets (the value of the pod label
// named by spec.jobLabel, else <namespace>/<PodMonitor name>) and the job
// of the plain scrape config must pass every job matcher of every query.
func TestGrafanaQueriesMatchScrapes(t *testing.T) {
	job := yamlDocs(t, "storm-job.yaml")[0]
	podLabels := dig(t, job, "spec", "template", "metadata", "labels").(map[string]any)
	pm := yamlDocs(t, "podmonitor.yaml")[0]
	ns, _ := dig(t, pm, "metadata").(map[string]any)["namespace"].(string)
	if ns == "" {
		ns = "default" // kubectl apply without -n
	}
	pmJob := ns + "/" + dig(t, pm, "metadata", "name").(string)
	if jl, _ := dig(t, pm, "spec").(map[string]any)["jobLabel"].(string); jl != "" {
		if v, ok := podLabels[jl].(string); ok && v != "" {
			pmJob = v
		}
	}
	scrapeJob := dig(t, yamlDocs(t, "prometheus-scrape.yaml")[0], "scrape_configs", 0, "job_name").(string)
	setups := map[string]string{"the PodMonitor (Prometheus Operator)": pmJob, "prometheus-scrape.yaml": scrapeJob}

	b, err := os.ReadFile(filepath.Join(k8sDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	exprs := dashboardExprs(dash)
	if len(exprs) < 10 {
		t.Fatalf("the dashboard has %d queries", len(exprs))
	}
	for _, expr := range exprs {
		jobMatchers := 0
		for _, m := range queryMatchers(t, expr) {
			if m.name != "job" {
				continue
			}
			jobMatchers++
			for setup, j := range setups {
				if !m.matches(t, j) {
					t.Errorf("query %q selects job%s%q; %s gives job=%q", expr, m.op, m.value, setup, j)
				}
			}
		}
		if jobMatchers == 0 {
			t.Errorf("query %q selects no job: it would mix in every other exporter's series of the same name", expr)
		}
	}
}

// dashboardExprs returns every query of a Grafana dashboard: each "expr"
// (panel targets, annotations) and each variable's "query", wherever they
// are nested.
func dashboardExprs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && (k == "expr" || k == "query" && x["type"] == "query") {
				out = append(out, s)
			}
			out = append(out, dashboardExprs(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, dashboardExprs(e)...)
		}
	}
	return out
}
