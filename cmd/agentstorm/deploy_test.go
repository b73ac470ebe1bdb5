package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report/finish"
)

// The Kubernetes example in deploy/k8s cannot run here; these tests check
// what can be checked: the YAML parses, the Job's command line is accepted
// by agentstorm's own flag parser for every index, the segments cover the
// storm, the merge Job reads every segment's log, and the monitoring
// objects select the storm's pods and name metrics that exist.

const k8sDir = "../../deploy/k8s"

// yamlDocs parses every document of a YAML file into generic maps.
func yamlDocs(t *testing.T, name string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(k8sDir, name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if errors.Is(err, io.EOF) {
				return docs
			}
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, d)
	}
}

// dig follows a path of map keys and list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not a map", path)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a list long enough", path)
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

var kubeVar = regexp.MustCompile(`\$\(([A-Z_][A-Z0-9_]*)\)`)

// expand does Kubernetes' $(VAR) expansion of container args.
func expand(s string, env map[string]string) string {
	return kubeVar.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func TestK8sStormJob(t *testing.T) {
	docs := yamlDocs(t, "storm-job.yaml")
	if len(docs) != 1 || docs[0]["kind"] != "Job" {
		t.Fatalf("storm-job.yaml: want one Job, got %d docs", len(docs))
	}
	job := docs[0]
	spec := dig(t, job, "spec")
	if dig(t, spec, "completionMode") != "Indexed" {
		t.Fatal("the storm Job must be Indexed (JOB_COMPLETION_INDEX → --segment)")
	}
	n := dig(t, spec, "completions").(int)
	if p := dig(t, spec, "parallelism").(int); p != n {
		t.Fatalf("parallelism %d != completions %d: the segments must run together", p, n)
	}
	podLabels := dig(t, spec, "template", "metadata", "labels").(map[string]any)
	c := dig(t, spec, "template", "spec", "containers", 0)
	if cmd := strs(dig(t, c, "command")); len(cmd) != 1 || cmd[0] != "agentstorm" {
		t.Fatalf("command %v", cmd)
	}
	args := strs(dig(t, c, "args"))
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("args %v: want run ...", args)
	}
	env := map[string]string{}
	hasIndexEnv := false
	for _, e := range dig(t, c, "env").([]any) {
		m := e.(map[string]any)
		name := m["name"].(string)
		if v, ok := m["value"].(string); ok {
			env[name] = v
		}
		if name == "JOB_COMPLETION_INDEX" {
			hasIndexEnv = true
		}
	}
	if !hasIndexEnv {
		t.Fatal("JOB_COMPLETION_INDEX is not declared in env, so $(JOB_COMPLETION_INDEX) would not expand")
	}
	metricsPort := 0
	for _, p := range dig(t, c, "ports").([]any) {
		if m := p.(map[string]any); m["name"] == "metrics" {
			metricsPort = m["containerPort"].(int)
		}
	}
	var hlogs []string
	var starts []time.Time
	results := t.TempDir()
	peaks := 0
	for i := 0; i < n; i++ {
		env["JOB_COMPLETION_INDEX"] = strconv.Itoa(i)
		var a []string
		for _, s := range args[1:] {
			a = append(a, expand(s, env))
		}
		var f runFlags
		fs := newRunFlagSet(&f)
		if err := fs.Parse(a); err != nil {
			t.Fatalf("index %d: `agentstorm run %s`: %v", i, strings.Join(a, " "), err)
		}
		if msg := f.validate(fs); msg != "" {
			t.Fatalf("index %d: %s", i, msg)
		}
		seg, err := agents.ParseSegment(f.segment)
		if err != nil || seg != (agents.Segment{Index: i, Count: n}) {
			t.Fatalf("index %d: --segment %q → %v, %v; want %d/%d", i, f.segment, seg, err, i, n)
		}
		st, err := parseStartAt(f.startAt)
		if err != nil || st.IsZero() {
			t.Fatalf("index %d: --start-at %q: %v", i, f.startAt, err)
		}
		starts = append(starts, st)
		if !strings.HasSuffix(f.metricsAddr, ":"+strconv.Itoa(metricsPort)) {
			t.Errorf("--metrics-addr %q does not serve the container port named metrics (%d)", f.metricsAddr, metricsPort)
		}
		// The pod's /results volume is a temporary directory here.
		var localOuts []string
		for _, o := range f.outs {
			localOuts = append(localOuts, strings.Replace(o, "=/results/", "="+results+"/", 1))
		}
		outs, err := finish.ParseSpecs(localOuts, true)
		if err != nil {
			t.Fatalf("index %d: --out: %v", i, err)
		}
		for _, o := range outs {
			if o.Kind == "hlog" {
				hlogs = append(hlogs, strings.Replace(o.Path, results+"/", "/results/", 1))
			}
		}
		prof, err := profiles.Named(f.profile, f.env.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.overrides(fs).Apply(prof); err != nil {
			t.Fatal(err)
		}
		peaks += seg.Share(prof.Workload.Peak())
		if prof.Workload.Peak() != 50_000 || prof.Workload.Stages[0].Duration != 6*time.Second {
			t.Errorf("index %d: stages %v, want a 6 s ramp to 50,000", i, prof.Workload.Stages)
		}
	}
	if peaks != 50_000 {
		t.Errorf("the %d segments hold %d agents at the peak, want 50,000", n, peaks)
	}
	for _, s := range starts {
		if !s.Equal(starts[0]) {
			t.Error("the segments do not share one --start-at")
		}
	}
	// The merge Job reads exactly the segments' hlogs.
	merge := yamlDocs(t, "merge-job.yaml")
	margs := strs(dig(t, merge[0], "spec", "template", "spec", "containers", 0, "args"))
	if len(margs) < 2 || margs[0] != "report" || margs[1] != "merge" {
		t.Fatalf("merge args %v", margs)
	}
	var rf reportFlags
	fs := newReportFlagSet("agentstorm report", &rf)
	if err := fs.Parse(margs[2:]); err != nil {
		t.Fatalf("merge Job: %v", err)
	}
	var mergeOuts []string
	for _, o := range rf.outs {
		mergeOuts = append(mergeOuts, strings.Replace(o, "=/results/", "="+results+"/", 1))
	}
	if _, err := finish.ParseSpecs(mergeOuts, false); err != nil {
		t.Fatalf("merge Job: --out: %v", err)
	}
	if strings.Join(fs.Args(), " ") != strings.Join(hlogs, " ") {
		t.Errorf("merge Job reads %v, the segments write %v", fs.Args(), hlogs)
	}
	// The PodMonitor selects the storm's pods on the metrics port.
	pm := yamlDocs(t, "podmonitor.yaml")[0]
	if pm["kind"] != "PodMonitor" {
		t.Fatalf("podmonitor.yaml: kind %v", pm["kind"])
	}
	for k, v := range dig(t, pm, "spec", "selector", "matchLabels").(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("PodMonitor selects %s=%v, the storm pods have %v", k, v, podLabels[k])
		}
	}
	if dig(t, pm, "spec", "podMetricsEndpoints", 0, "port") != "metrics" {
		t.Error("PodMonitor does not scrape the port named metrics")
	}
	sc := yamlDocs(t, "prometheus-scrape.yaml")[0]
	if dig(t, sc, "scrape_configs", 0, "job_name") != "agentstorm" {
		t.Error("prometheus-scrape.yaml: the job is not named agentstorm (the Grafana queries select job=\"agentstorm\")")
	}
}
