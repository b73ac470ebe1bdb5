package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentstorm/agentstorm/report"
)

const dashboardFile = "../deploy/k8s/grafana-dashboard.json"

// exported are the series a scrape reads, by name (histograms as their
// _bucket, _sum and _count series): label name → values seen.
type exported map[string]map[string]map[string]bool

// exportedSeries runs a small storm (two steps, two regions, answers of
// several outcomes, a dropped session, completed and abandoned sessions, a
// sale, a chaos action) through the
// exporter and scrapes its text format. job and instance are added, as
// every scrape and remote write adds them.
func exportedSeries(t *testing.T) exported {
	t.Helper()
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Regions: []string{"us-east", "ap-tokyo"}, Start: start, Model: report.ModelClosed})
	m := New(rec.Steps(), rec.Regions(), map[string]string{"segment": "0/2"})
	for sec := 1; sec <= 3; sec++ {
		for i := 0; i < 50; i++ { // with an expected interval: a corrected figure too
			rec.Record(i, i%2, (i/2)%2, time.Duration(20+i)*time.Millisecond, report.OK, 10*time.Millisecond)
		}
		rec.Record(0, 1, 1, 0, report.ConnRefused, 0)
		rec.Record(0, 1, 1, 10*time.Second, report.Timeout, 0)
		rec.Record(0, 0, 0, 5*time.Millisecond, report.BadStatus, 0)
		rec.RecordDropped(0, 1)
		rec.RecordSale(1, 0, 4999)
		rec.RecordSession(1, 0, report.SessionCompleted, 0, false)
		rec.RecordSession(0, 1, report.SessionAbandoned, report.AbandonSlow, true)
		rec.RecordSession(1, 1, report.SessionAbandoned, report.AbandonTimeout, false)
		iv := rec.Rotate(start.Add(time.Duration(sec) * time.Second))
		m.Observe(iv, Snapshot{Active: 10, Connected: 10, Dials: int64(10 * sec), DialErrors: 1})
		rec.Release(iv)
	}
	m.ChaosAction(start.Add(2*time.Second), 2*time.Second, "kill_shard", "kill_shard shard 1", []string{"ap-tokyo"}, false)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(scrapeText(t, srv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	out := exported{}
	add := func(name string, m *dto.Metric, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]map[string]bool{}
		}
		set := func(k, v string) {
			if out[name][k] == nil {
				out[name][k] = map[string]bool{}
			}
			out[name][k][v] = true
		}
		for _, l := range m.GetLabel() {
			set(l.GetName(), l.GetValue())
		}
		set("job", "agentstorm")
		set("instance", "pod-0")
		for i := 0; i+1 < len(extra); i += 2 {
			set(extra[i], extra[i+1])
		}
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "agentstorm_") {
			continue
		}
		for _, m := range f.GetMetric() {
			if f.GetType() != dto.MetricType_HISTOGRAM {
				add(name, m)
				continue
			}
			for _, b := range m.GetHistogram().GetBucket() {
				add(name+"_bucket", m, "le", formatLe(b.GetUpperBound()))
			}
			add(name+"_bucket", m, "le", "+Inf")
			add(name+"_sum", m)
			add(name+"_count", m)
		}
	}
	return out
}

// token is one PromQL token: an identifier, a string (unquoted), or
// punctuation and operators.
type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number or duration, 'p' punctuation/operator
	text string
}

// lexPromQL splits a PromQL expression into tokens. It knows the parts of
// the language the dashboard uses and fails on anything else.
func lexPromQL(t *testing.T, expr string) []token {
	t.Helper()
	var out []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(expr) && (expr[j] == '_' || expr[j] == ':' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z' || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			out = append(out, token{'i', expr[i:j]})
			i = j
		case c >= '0' && c <= '9' || c == '.':
			j := i + 1
			for j < len(expr) && (expr[j] == '.' || expr[j] >= '0' && expr[j] <= '9' || expr[j] >= 'a' && expr[j] <= 'z') {
				j++
			}
			out = append(out, token{'n', expr[i:j]})
			i = j
		case c == '"':
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				t.Fatalf("query %q: unterminated string", expr)
			}
			s, err := strconv.Unquote(expr[i : j+1])
			if err != nil {
				t.Fatalf("query %q: string %s: %v", expr, expr[i:j+1], err)
			}
			out = append(out, token{'s', s})
			i = j + 1
		case strings.ContainsRune("=!<>", rune(c)) && i+1 < len(expr) && strings.ContainsRune("=~", rune(expr[i+1])):
			out = append(out, token{'p', expr[i : i+2]})
			i += 2
		case strings.ContainsRune("{}()[],=<>+-*/%^", rune(c)):
			out = append(out, token{'p', expr[i : i+1]})
			i++
		default:
			t.Fatalf("query %q: unexpected %q at %d", expr, c, i)
		}
	}
	return out
}

// promKeywords are identifiers that are not metric names when not
// followed by "(".
var promKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
	"group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}

// matcher is one label matcher of a selector.
type matcher struct{ metric, label, op, value string }

// parsedQuery is what a query uses: metric names, matchers, grouping
// labels (by, without, on, ignoring, group_left/right) and functions.
type parsedQuery struct {
	metrics  []string
	matchers []matcher
	grouping []string
	funcs    []string
}

// parsePromQL finds the metric names, matchers and grouping labels of expr.
func parsePromQL(t *testing.T, expr string) parsedQuery {
	t.Helper()
	toks := lexPromQL(t, expr)
	var q parsedQuery
	labelList := func(i int) int { // toks[i] is "(": read "label, ..." to ")"
		for i++; i < len(toks) && toks[i].text != ")"; i++ {
			if toks[i].kind == 'i' {
				q.grouping = append(q.grouping, toks[i].text)
			} else if toks[i].text != "," {
				t.Fatalf("query %q: %q in a label list", expr, toks[i].text)
			}
		}
		return i
	}
	depth := 0 // inside [...]
	for i := 0; i < len(toks); i++ {
		tk := toks[i]
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1].text
		}
		switch {
		case tk.text == "[":
			depth++
		case tk.text == "]":
			depth--
		case depth > 0 || tk.kind != 'i':
		case promKeywords[tk.text] && tk.text != "bool" && tk.text != "and" && tk.text != "or" && tk.text != "unless" && tk.text != "offset" && next == "(":
			i = labelList(i + 1)
		case promKeywords[tk.text]:
		case next == "(" || next == "by" || next == "without": // a function, or an aggregation with its grouping first
			q.funcs = append(q.funcs, tk.text)
		default:
			q.metrics = append(q.metrics, tk.text)
			if next != "{" {
				continue
			}
			for i += 2; i < len(toks) && toks[i].text != "}"; i++ {
				if toks[i].text == "," {
					continue
				}
				if i+2 >= len(toks) || toks[i].kind != 'i' || toks[i+1].kind != 'p' || toks[i+2].kind != 's' {
					t.Fatalf("query %q: bad matcher at %q", expr, toks[i].text)
				}
				q.matchers = append(q.matchers, matcher{tk.text, toks[i].text, toks[i+1].text, toks[i+2].text})
				i += 2
			}
		}
	}
	return q
}

// grafanaVars are what Grafana puts for the dashboard's variables: every
// step and region ("All" is .*), and the rate interval.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "15s", "$step", ".*", "$region", ".*")

// loadDashboard reads the Grafana dashboard.
func loadDashboard(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardQueries returns every query of the dashboard by where it is:
// panels' targets ("panel TITLE target REFID"), annotations, and the
// variables' label_values(SELECTOR, LABEL) (as "count by (LABEL)
// (SELECTOR)", which uses the same names), with the variables substituted
// by subst.
func dashboardQueries(t *testing.T, d map[string]any, subst *strings.Replacer) map[string]string {
	t.Helper()
	out := map[string]string{}
	var panels []any
	panels, _ = d["panels"].([]any)
	for len(panels) > 0 {
		p := panels[0].(map[string]any)
		panels = panels[1:]
		if sub, ok := p["panels"].([]any); ok { // rows
			panels = append(panels, sub...)
		}
		targets, _ := p["targets"].([]any)
		for _, tg := range targets {
			tm := tg.(map[string]any)
			out[fmt.Sprintf("panel %q target %v", p["title"], tm["refId"])] = tm["expr"].(string)
		}
	}
	ann, _ := d["annotations"].(map[string]any)
	list, _ := ann["list"].([]any)
	for _, a := range list {
		am := a.(map[string]any)
		if e, ok := am["expr"].(string); ok {
			out[fmt.Sprintf("annotation %q", am["name"])] = e
		}
	}
	tpl, _ := d["templating"].(map[string]any)
	vars, _ := tpl["list"].([]any)
	lv := regexp.MustCompile(`^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)
	for _, v := range vars {
		vm := v.(map[string]any)
		if vm["type"] != "query" {
			continue
		}
		m := lv.FindStringSubmatch(vm["query"].(string))
		if m == nil {
			t.Fatalf("variable %v: query %q is not label_values(SELECTOR, LABEL)", vm["name"], vm["query"])
		}
		out[fmt.Sprintf("variable %q", vm["name"])] = fmt.Sprintf("count by (%s) (%s)", m[2], m[1])
	}
	for k, e := range out {
		out[k] = subst.Replace(e)
	}
	return out
}

// TestDashboardQueriesUseExportedSeries parses every PromQL query of the
// Grafana dashboard and checks that each metric it names is exported, each
// label it matches or groups by is a label of those metrics, and each
// value it compares with is one the exporter writes; and that the panels a
// live storm needs are there.
func TestDashboardQueriesUseExportedSeries(t *testing.T) {
	ex := exportedSeries(t)
	queries := dashboardQueries(t, loadDashboard(t), grafanaVars)
	used := map[string]bool{}
	for where, expr := range queries {
		q := parsePromQL(t, expr)
		if len(q.metrics) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		labels := map[string]bool{}
		for _, name := range q.metrics {
			used[name] = true
			if ex[name] == nil {
				t.Errorf("%s: %q uses %s, which is not exported", where, expr, name)
			}
			for l := range ex[name] {
				labels[l] = true
			}
		}
		for _, m := range q.matchers {
			vals, ok := ex[m.metric][m.label]
			if !ok {
				t.Errorf("%s: %s has no label %s (matcher %s%s%q)", where, m.metric, m.label, m.label, m.op, m.value)
				continue
			}
			if m.op == "=" && !vals[m.value] || m.op == "!=" && len(vals) < 2 {
				t.Errorf("%s: %s{%s%s%q}: the exporter writes %s values %v", where, m.metric, m.label, m.op, m.value, m.label, slices.Sorted(maps.Keys(vals)))
			}
			if m.op == "=~" {
				re := regexp.MustCompile("^(?:" + m.value + ")$")
				hit := false
				for v := range vals {
					hit = hit || re.MatchString(v)
				}
				if !hit {
					t.Errorf("%s: %s{%s=~%q} matches none of %v", where, m.metric, m.label, m.value, slices.Sorted(maps.Keys(vals)))
				}
			}
		}
		for _, l := range q.grouping {
			if !labels[l] {
				t.Errorf("%s: %q groups by %s, a label of none of %v", where, expr, l, q.metrics)
			}
		}
		for _, f := range q.funcs {
			if f == "histogram_quantile" && !slices.Contains(q.grouping, "le") {
				t.Errorf("%s: %q: histogram_quantile over classic buckets must keep le", where, expr)
			}
		}
	}
	// What a live storm's dashboard shows: compliance (the le="0.1" bucket
	// over the count), p99 per step and region, req/s, errors by class,
	// active agents, chaos annotations.
	want := map[string]*regexp.Regexp{
		"compliance":         regexp.MustCompile(`agentstorm_request_duration_seconds_bucket\{[^}]*le="0\.1"[^}]*\}.*\) / sum\(rate\(agentstorm_request_duration_seconds_count`),
		"p99 by step":        regexp.MustCompile(`histogram_quantile\(0\.99, sum by \(step, le\)`),
		"p99 by step×region": regexp.MustCompile(`histogram_quantile\(0\.99, sum by \(step, region, le\)`),
		"req/s":              regexp.MustCompile(`sum\(rate\(agentstorm_requests_total\{`),
		"errors by class":    regexp.MustCompile(`sum by \(outcome\) \(rate\(agentstorm_requests_total\{[^}]*outcome!="ok"`),
		"active agents":      regexp.MustCompile(`sum\(agentstorm_agents_active\{`),
		"abandoned share":    regexp.MustCompile(`sum by \(step, reason\) \(rate\(agentstorm_sessions_total\{[^}]*outcome="abandoned"[^}]*\}\[1m\]\)\) / ignoring\(step, reason\) group_left sum\(rate\(agentstorm_sessions_total\{`),
		"lost sales":         regexp.MustCompile(`sum\(rate\(agentstorm_lost_sales_total\{`),
		"corrected figure":   regexp.MustCompile(`label_replace\(histogram_quantile\(0\.99, sum by \(step, le\) \(rate\(agentstorm_request_duration_corrected_seconds_bucket`),
	}
	for what, re := range want {
		found := false
		for _, e := range queries {
			found = found || re.MatchString(e)
		}
		if !found {
			t.Errorf("the dashboard has no %s query (%s)", what, re)
		}
	}
	if ann, ok := queries[`annotation "Chaos actions"`]; !ok || !strings.Contains(ann, "agentstorm_chaos_action_time_seconds") {
		t.Errorf("no chaos annotation over agentstorm_chaos_action_time_seconds: %q", ann)
	}
	for name := range ex {
		if !used[name] && !strings.HasSuffix(name, "_sum") {
			t.Logf("exported but not on the dashboard: %s", name)
		}
	}
}

// TestPromQLParser checks the test's own parser on the shapes it must read.
func TestPromQLParser(t *testing.T) {
	q := parsePromQL(t, `histogram_quantile(0.99, sum by (step, le) (rate(a_bucket{job="x",le!="0.1",step=~"a|b"}[1m]))) / on (step) group_left sum(b) * 1000`)
	if strings.Join(q.metrics, " ") != "a_bucket b" || strings.Join(q.grouping, " ") != "step le step" ||
		strings.Join(q.funcs, " ") != "histogram_quantile sum rate sum" || len(q.matchers) != 3 ||
		q.matchers[1] != (matcher{"a_bucket", "le", "!=", "0.1"}) || q.matchers[2] != (matcher{"a_bucket", "step", "=~", "a|b"}) {
		t.Errorf("parsed %+v", q)
	}
}
