package profiles

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// LoadFile loads and validates the profile at path; data files are read
// relative to its directory. An invalid profile gives LoadErrors. No
// variable is set: ${NAME} needs a default (see LoadFileWith).
func LoadFile(path string) (*Profile, error) { return LoadFileWith(path, nil) }

// LoadFileWith is LoadFile with the variables of lookup: every ${NAME},
// ${NAME:-default} and ${secret:NAME} in the profile's values takes its
// value from lookup (nil: none is set), once, at load time.
func LoadFileWith(path string, lookup Lookup) (*Profile, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, LoadErrors{{File: path, Msg: fmt.Sprintf("cannot read profile: %v", err), Hint: "check the path"}}
	}
	p, err := LoadWith(path, src, filepath.Dir(path), lookup)
	if err != nil {
		return nil, err
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return p, nil
}

// Load loads and validates a profile from src; name is the file name used
// in error positions and dir is the base directory for data files. Every
// problem is reported at once, as LoadErrors. No variable is set (see
// LoadWith).
func Load(name string, src []byte, dir string) (*Profile, error) {
	return LoadWith(name, src, dir, nil)
}

// LoadWith is Load with the variables of lookup (nil: none is set). A
// secret's value never appears in the errors: see Profile.Redact.
func LoadWith(name string, src []byte, dir string, lookup Lookup) (p *Profile, err error) {
	l := newLoader(name, src, lookup)
	l.dir = dir
	defer func() {
		// The YAML library has panicked on hostile input before; a profile
		// must never crash the tool.
		if r := recover(); r != nil {
			p = nil
			l.errs = append(l.errs, LoadError{File: name, Msg: fmt.Sprintf("cannot parse profile: %v", r), Hint: "this is a bug in agentstorm; please report it with the file"})
			err = l.redactedErrs()
		}
	}()
	p = l.load()
	if len(l.errs) > 0 {
		return nil, l.redactedErrs()
	}
	return p, nil
}

func newLoader(name string, src []byte, lookup Lookup) *loader {
	return &loader{file: name, src: string(src), lookup: lookup, vars: map[string]int{}, secretVals: map[string]bool{}, p: &Profile{File: name}}
}

// redactedErrs returns the errors, sorted, with every secret redacted.
func (l *loader) redactedErrs() LoadErrors {
	for i := range l.errs {
		e := &l.errs[i]
		e.Msg, e.Hint = l.p.Redact(e.Msg), l.p.Redact(e.Hint)
	}
	return l.errs.sorted()
}

// loader walks a profile's YAML nodes, collecting every error.
type loader struct {
	file    string
	src     string
	dir     string
	lookup  Lookup // ${NAME} values; nil: none is set
	errs    LoadErrors
	p       *Profile
	vars    map[string]int  // variable name -> slot
	setters []namedSetter   // where each variable is set
	defined map[string]bool // variables set so far in the flow being compiled
	flow    string          // flow being compiled
	curPerm *permSpec       // permute: of the step being compiled

	customersBroken bool // population.customers has an error already reported

	display     bool                     // secrets become Redacted (profiles show)
	spans       map[*yaml.Node][]varSpan // where variables landed in each value
	secretNodes map[*yaml.Node]bool      // values that hold a secret
	secretVals  map[string]bool          // every secret's value
	badVars     map[*yaml.Node]bool      // values with a bad ${...}: reported once
}

type permSpec struct {
	keys   []string
	values [][]string
	single bool
}

func (l *loader) errf(n *yaml.Node, hint, format string, args ...any) {
	if l.badVars[n] {
		return // its variable's error says it all
	}
	e := LoadError{File: l.file, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

// errAt reports an error at byte offset off of scalar n's value, when the
// value is on one line; otherwise at the scalar.
func (l *loader) errAt(n *yaml.Node, off int, hint, format string, args ...any) {
	if l.badVars[n] {
		return
	}
	e := LoadError{File: l.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if !strings.Contains(n.Value, "\n") && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		e.Column += l.origOffset(n, off)
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			e.Column++
		}
	}
	l.errs = append(l.errs, e)
}

// parse parses the source into a YAML document and substitutes its
// variables; nil when it cannot be parsed or is empty (errors reported).
func (l *loader) parse(display bool) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(l.src), &doc); err != nil {
		l.errs = append(l.errs, syntaxError(l.file, []byte(l.src), err))
		return nil
	}
	if len(doc.Content) == 0 {
		l.errs = append(l.errs, LoadError{File: l.file, Line: 1, Column: 1, Msg: "empty profile; expected a mapping with workload: and flows:", Hint: "start from `agentstorm profiles show smoke`"})
		return nil
	}
	l.expandVars(&doc, display)
	return &doc
}

func (l *loader) load() *Profile {
	doc := l.parse(false)
	if doc == nil {
		return nil
	}
	root := deref(doc.Content[0])
	f := l.fields(root, "profile", []string{"name", "description", "target", "workload", "population", "flows", "budgets", "chaos", "cookies", "compression", "targets", "patience", "order_value"})
	if f == nil {
		return nil
	}
	p := l.p
	if n := f["name"]; n != nil {
		p.Name, _ = l.str(n, "name")
	}
	if n := f["description"]; n != nil {
		p.Description, _ = l.str(n, "description")
	}
	if n := f["target"]; n != nil {
		l.target(n)
	} else {
		p.Target.Bundled = true
	}
	if n := f["targets"]; n != nil {
		l.targets(n)
	}
	if n := f["workload"]; n != nil {
		l.workload(n)
	} else {
		l.errf(root, "add e.g. workload: {model: closed, stages: \"0->20 in 1s, hold 9s\"}", "missing workload:; expected the workload model and its stages")
	}
	l.population(f["population"])
	if n := f["patience"]; n != nil {
		p.Patience = l.patience(n, "patience")
	}
	if n := f["order_value"]; n != nil {
		p.OrderValue, _ = l.money(n, "order_value")
	}
	if n := f["flows"]; n != nil {
		l.flows(n)
	} else {
		l.errf(root, "add flows: with at least one flow of steps", "missing flows:; expected a list of flows")
	}
	if n := f["budgets"]; n != nil {
		l.budgets(n)
	}
	var compression string
	if n := f["compression"]; n != nil {
		compression, _ = l.compression(n, "compression")
	}
	l.applyCompression(compression)
	if n := f["cookies"]; n != nil {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			l.errf(n, "e.g. cookies: false", "cookies: expected true or false; got %s", kindName(n))
		} else {
			p.NoCookies = strings.EqualFold(n.Value, "false")
		}
	}
	if n := f["chaos"]; n != nil {
		p.Chaos = n
		l.chaos(n)
	}
	l.checkTargetRegions(f["target"], f["population"])
	l.resolveSessions()
	return p
}

// deref follows aliases (a bounded number of times).
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "the number " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "nothing (null)"
		}
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// fields checks that n is a mapping with only known keys (reporting unknown
// and duplicate keys) and returns its values by key.
func (l *loader) fields(n *yaml.Node, what string, known []string) map[string]*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errf(n, "write it as key: value lines indented under "+what, "%s: expected a mapping with keys %s; got %s", what, strings.Join(known, ", "), kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		key := k.Value
		if key == "<<" && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if !contains(known, key) {
			l.errf(k, didYouMean(key, known), "unknown key %q in %s; expected one of %s", key, what, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[key]; dup {
			l.errf(k, "remove one of them", "duplicate key %q in %s", key, what)
			continue
		}
		out[key] = v
	}
	// YAML merge keys (<<: *defaults) fill in the keys not written here.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			src = deref(src)
			if src == nil || src.Kind != yaml.MappingNode || src == n {
				l.errf(src, "", "%s: a merge (<<) needs a mapping", what)
				continue
			}
			for i := 0; i+1 < len(src.Content); i += 2 {
				key := src.Content[i].Value
				if _, have := out[key]; have || !contains(known, key) {
					if !contains(known, key) {
						l.errf(src.Content[i], didYouMean(key, known), "unknown key %q in %s (merged with <<); expected one of %s", key, what, strings.Join(known, ", "))
					}
					continue
				}
				out[key] = deref(src.Content[i+1])
			}
		}
	}
	return out
}

// pairs checks that n is a mapping and returns its key and value nodes.
func (l *loader) pairs(n *yaml.Node, what, expected string) [][2]*yaml.Node {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		l.errf(n, "", "%s: expected %s; got %s", what, expected, kindName(n))
		return nil
	}
	var out [][2]*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if seen[k.Value] {
			l.errf(k, "remove one of them", "duplicate key %q in %s", k.Value, what)
			continue
		}
		seen[k.Value] = true
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errf(n, "", "%s: expected a string; got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) integer(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if v, ok := parseCount(n.Value); ok && n.Tag != "!!bool" {
			if v < lo || v > hi {
				l.errf(n, "", "%s: %d is out of range; expected %d..%d", what, v, lo, hi)
				return 0, false
			}
			return v, true
		}
	}
	l.errf(n, "e.g. 5000, 50_000 or 50k", "%s: expected a whole number; got %s", what, kindName(n))
	return 0, false
}

// parseCount parses 50000, 50_000, 50k, 1.5k or 2m.
func parseCount(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1e6, s[:len(s)-1]
	}
	if mult == 1 {
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f*mult != math.Trunc(f*mult) || math.Abs(f*mult) > 1e15 {
		return 0, false
	}
	return int64(f * mult), true
}

func (l *loader) number(n *yaml.Node, what string) (float64, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return float64(v), true
		}
	}
	l.errf(n, "", "%s: expected a number; got %s", what, kindName(n))
	return 0, false
}

// parseDuration parses a Go duration ("100ms", "2s", "1m30s"); a bare 0 is
// accepted.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative")
	}
	return d, nil
}

func (l *loader) duration(n *yaml.Node, what string) (time.Duration, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if d, err := parseDuration(n.Value); err == nil {
			return d, true
		}
	}
	l.errf(n, "units: ms, s, m, h; e.g. 250ms, 6s, 1m30s", "%s: bad duration %s; expected a duration like 100ms or 2s", what, kindName(n))
	return 0, false
}

// ---- target ----

func (l *loader) target(n *yaml.Node) {
	t := &l.p.Target
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "bundled" {
			t.Bundled = true
			return
		}
		if l.baseURL(n, "target") {
			t.BaseURL = strings.TrimSuffix(n.Value, "/")
		}
	case yaml.MappingNode:
		if isLongTarget(n) {
			l.longTarget(n)
			return
		}
		t.Regions = map[string]string{}
		for _, kv := range l.pairs(n, "target", "a map of region to base URL") {
			if l.baseURL(kv[1], "target."+kv[0].Value) {
				t.Regions[kv[0].Value] = strings.TrimSuffix(kv[1].Value, "/")
			}
		}
		if len(n.Content) == 0 {
			l.errf(n, "", "target: the region map is empty; expected region: base URL lines")
		}
	default:
		l.errf(n, "e.g. target: https://shop.example.com", "target: expected bundled, a base URL, or a map of region to base URL; got %s", kindName(n))
	}
}

// isLongTarget reports whether a target mapping is the long form
// ({url: URL, tls: {...}} or {regions: {...}, tls: {...}}) rather than a
// region map: it has a url:, regions: or tls: key.
func isLongTarget(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "url", "regions", "tls":
			return true
		}
	}
	return false
}

// longTarget reads target: {url: URL | regions: {...}, tls: {...}}.
func (l *loader) longTarget(n *yaml.Node) {
	f := l.fields(n, "target", []string{"url", "regions", "tls"})
	switch u, r := f["url"], f["regions"]; {
	case u != nil && r != nil:
		l.errf(r, "keep one", "target: has both url: and regions:")
	case u != nil:
		if u.Kind != yaml.ScalarNode {
			l.errf(u, "", "target.url: expected a base URL like https://shop.example.com; got %s", kindName(u))
			return
		}
		l.target(u)
	case r != nil:
		if r.Kind != yaml.MappingNode {
			l.errf(r, "e.g. regions: {us-east: https://us.shop.example}", "target.regions: expected a map of region to base URL; got %s", kindName(r))
			return
		}
		l.target(r)
	default:
		l.errf(n, "e.g. url: https://shop.example.com", "target: expected url: or regions: beside tls:")
	}
	if l.p.Target.Bundled && f["tls"] != nil {
		l.errf(f["tls"], "", "target.tls: the bundled target speaks plain http")
		return
	}
	if v := f["tls"]; v != nil {
		l.tls(v, &l.p.Target.TLS)
	}
}

func (l *loader) baseURL(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode {
		l.errf(n, "", "%s: expected a base URL like https://shop.example.com; got %s", what, kindName(n))
		return false
	}
	u, err := url.Parse(n.Value)
	if err == nil && u.User != nil {
		// Not echoed: the URL holds a password.
		l.errf(n, `send it in a header instead: headers: {Authorization: "Basic ${secret:SHOP_BASIC_AUTH}"}`, "%s: a base URL with user:password@ is not supported; the URL is written to every report", what)
		return false
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		hint := "write scheme and host, e.g. http://127.0.0.1:8080"
		if n.Value != "bundled" && editDistance(n.Value, "bundled") <= 2 {
			hint = `did you mean "bundled"?`
		}
		l.errf(n, hint, "%s: %q is not a base URL; expected http:// or https:// with a host and no query", what, n.Value)
		return false
	}
	return true
}

// checkTargetRegions checks that every population region has a base URL
// when the target is a region map.
func (l *loader) checkTargetRegions(target, population *yaml.Node) {
	t := l.p.Target
	if len(t.Regions) == 0 || l.p.Population == nil {
		return
	}
	names := make([]string, 0, len(t.Regions))
	for r := range t.Regions {
		names = append(names, r)
	}
	sort.Strings(names)
	for i, r := range l.p.Population.regions {
		if _, ok := t.Regions[r]; ok {
			continue
		}
		at := target
		if pos := l.p.Population.regionNodes; i < len(pos) && pos[i] != nil {
			at = pos[i]
		}
		l.errf(at, "add it to target: or remove it from population.regions; "+didYouMean(r, names), "region %q has no base URL in target:", r)
	}
}

// ---- workload ----

func (l *loader) workload(n *yaml.Node) {
	f := l.fields(n, "workload", []string{"model", "levels", "stages", "max_agents", "think"})
	if f == nil {
		return
	}
	w := &l.p.Workload
	if m := f["model"]; m != nil {
		s, _ := l.str(m, "workload.model")
		switch Model(s) {
		case Closed, Open:
			w.Model = Model(s)
		default:
			l.errf(m, didYouMean(s, []string{"closed", "open"}), "workload.model: unknown model %q; expected closed (concurrent agents) or open (sessions per second)", s)
		}
	} else {
		l.errf(n, "closed: N concurrent agents; open: N sessions started per second", "workload: missing model:; expected closed or open")
	}
	if lv := f["levels"]; lv != nil {
		s, _ := l.str(lv, "workload.levels")
		switch Levels(s) {
		case PerSecond, InFlight:
			w.Levels = Levels(s)
			if w.Model == Closed {
				l.errf(lv, "remove it: the closed model's levels are agents", "workload.levels applies to the open model only")
			}
		default:
			l.errf(lv, didYouMean(s, []string{string(PerSecond), string(InFlight)}), "workload.levels: unknown %q; expected per_second (sessions started per second) or in_flight (sessions in flight)", s)
		}
	}
	if s := f["stages"]; s != nil {
		w.Stages = l.stages(s)
	} else {
		l.errf(n, `e.g. stages: "0->50000 in 6s, hold 60s, ->0 in 5s"`, "workload: missing stages:; expected the ramp and hold plan")
	}
	if m := f["max_agents"]; m != nil {
		v, _ := l.integer(m, "workload.max_agents", 0, 1<<31-1)
		w.MaxAgents = int(v)
		if w.Model == Closed {
			l.errf(m, "remove it: the stage levels are the agent count", "workload.max_agents applies to the open model only")
		}
	}
	if t := f["think"]; t != nil {
		w.Think = l.think(t)
	}
}

var (
	rampRe = regexp.MustCompile(`^(?:([0-9][0-9_.]*[kKmM]?)\s*)?(?:->|→)\s*([0-9][0-9_.]*[kKmM]?)\s+(?:in|over)\s+(\S+)$`)
	holdRe = regexp.MustCompile(`^hold\s+(?:for\s+)?(\S+)$`)
)

// stages parses the one-line form ("0->50000 in 6s, hold 60s, ->0 in 5s")
// or a list of such items and {to: N, over: D} / {hold: D} mappings.
func (l *loader) stages(n *yaml.Node) []Stage {
	var out []Stage
	level := 0
	good := true
	addItem := func(node *yaml.Node, text string, off int) {
		st, ok := l.stageItem(node, text, off, &level)
		if !ok {
			good = false
		}
		out = append(out, st...)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		off := 0
		for _, part := range strings.Split(n.Value, ",") {
			lead := len(part) - len(strings.TrimLeft(part, " \t"))
			addItem(n, strings.TrimSpace(part), off+lead)
			off += len(part) + 1
		}
	case yaml.SequenceNode:
		for _, it := range n.Content {
			it = deref(it)
			if it.Kind == yaml.ScalarNode {
				addItem(it, strings.TrimSpace(it.Value), len(it.Value)-len(strings.TrimLeft(it.Value, " \t")))
				continue
			}
			f := l.fields(it, "workload.stages item", []string{"from", "to", "over", "hold"})
			if f == nil {
				good = false
				continue
			}
			if h := f["hold"]; h != nil {
				if f["to"] != nil || f["over"] != nil || f["from"] != nil {
					l.errf(it, "split it into two items", "workload.stages item: hold cannot be combined with from/to/over")
				}
				d, ok := l.duration(h, "workload.stages hold")
				good = good && ok
				out = append(out, Stage{Duration: d, Target: level})
				continue
			}
			if fr := f["from"]; fr != nil {
				v, ok := l.integer(fr, "workload.stages from", 0, 1<<31-1)
				good = good && ok
				if int(v) != level {
					out = append(out, Stage{Target: int(v)})
					level = int(v)
				}
			}
			to, over := f["to"], f["over"]
			if to == nil || over == nil {
				l.errf(it, "e.g. {to: 50000, over: 6s} or {hold: 60s}", "workload.stages item: expected to: and over:, or hold:")
				good = false
				continue
			}
			v, ok1 := l.integer(to, "workload.stages to", 0, 1<<31-1)
			d, ok2 := l.duration(over, "workload.stages over")
			good = good && ok1 && ok2
			out = append(out, Stage{Duration: d, Target: int(v)})
			level = int(v)
		}
	default:
		l.errf(n, `e.g. stages: "0->50000 in 6s, hold 60s, ->0 in 5s"`, "workload.stages: expected a string or a list; got %s", kindName(n))
		return nil
	}
	if !good {
		return out
	}
	var total time.Duration
	peak := 0
	for _, s := range out {
		total += s.Duration
		peak = max(peak, s.Target)
	}
	if len(out) == 0 || total <= 0 {
		l.errf(n, `e.g. "0->20 in 1s, hold 9s"`, "workload.stages: the plan lasts 0s; expected at least one stage with a duration")
	} else if peak == 0 {
		l.errf(n, "ramp to a level above 0, e.g. 0->20 in 1s", "workload.stages: every level is 0; expected some agents")
	}
	return out
}

func (l *loader) stageItem(n *yaml.Node, text string, off int, level *int) ([]Stage, bool) {
	const hint = `write "FROM->TO in DURATION", "->TO in DURATION" or "hold DURATION", e.g. "0->50000 in 6s, hold 60s, ->0 in 5s"`
	if m := holdRe.FindStringSubmatch(text); m != nil {
		d, err := parseDuration(m[1])
		if err != nil {
			l.errAt(n, off+strings.Index(text, m[1]), "units: ms, s, m, h; e.g. 60s, 2m", "workload.stages: bad duration %q; expected a duration like 60s", m[1])
			return nil, false
		}
		return []Stage{{Duration: d, Target: *level}}, true
	}
	m := rampRe.FindStringSubmatch(text)
	if m == nil {
		if text == "" {
			l.errAt(n, off, hint, "workload.stages: empty stage; expected a ramp or a hold")
		} else {
			l.errAt(n, off, hint, "workload.stages: cannot read stage %q; expected a ramp or a hold", text)
		}
		return nil, false
	}
	var out []Stage
	if m[1] != "" {
		from, ok := parseCount(m[1])
		if !ok || from < 0 || from > 1<<31-1 {
			l.errAt(n, off, "e.g. 0, 500, 50k", "workload.stages: bad level %q; expected a whole number", m[1])
			return nil, false
		}
		if int(from) != *level {
			out = append(out, Stage{Target: int(from)})
		}
	}
	to, ok := parseCount(m[2])
	if !ok || to < 0 || to > 1<<31-1 {
		l.errAt(n, off+strings.Index(text, m[2]), "e.g. 0, 500, 50k", "workload.stages: bad level %q; expected a whole number", m[2])
		return nil, false
	}
	d, err := parseDuration(m[3])
	if err != nil {
		l.errAt(n, off+strings.LastIndex(text, m[3]), "units: ms, s, m, h; e.g. 6s", "workload.stages: bad duration %q; expected a duration like 6s", m[3])
		return nil, false
	}
	*level = int(to)
	return append(out, Stage{Duration: d, Target: int(to)}), true
}

// think parses workload.think: none | 2s | 1s..3s | exp(2s).
func (l *loader) think(n *yaml.Node) Think {
	return l.dist(n, "workload.think", "think time",
		"none, a constant (2s), uniform (1s..3s) or exponential with a mean (exp(2s))")
}

// dist parses a duration distribution, none | 2s | 1s..3s | exp(2s), the
// syntax of think times and patience; what names the field in errors,
// noun what it expects.
func (l *loader) dist(n *yaml.Node, what, noun, hint string) Think {
	if n.Kind != yaml.ScalarNode {
		l.errf(n, hint, "%s: expected a %s; got %s", what, noun, kindName(n))
		return Think{}
	}
	s := strings.TrimSpace(n.Value)
	bad := func() Think {
		l.errf(n, hint, "%s: cannot read %q; expected a %s", what, s, noun)
		return Think{}
	}
	switch {
	case s == "none" || s == "0" || s == "":
		return Think{}
	case strings.HasPrefix(s, "exp(") && strings.HasSuffix(s, ")"):
		d, err := parseDuration(s[4 : len(s)-1])
		if err != nil || d == 0 {
			return bad()
		}
		return Think{Kind: ThinkExponential, Mean: d}
	case strings.Contains(s, ".."):
		a, b, _ := strings.Cut(s, "..")
		lo, err1 := parseDuration(a)
		hi, err2 := parseDuration(b)
		if err1 != nil || err2 != nil {
			return bad()
		}
		if lo > hi {
			l.errf(n, "write the smaller duration first", "%s: %s is above %s; expected MIN..MAX", what, a, b)
			return Think{}
		}
		return Think{Kind: ThinkUniform, Min: lo, Max: hi, Mean: (lo + hi) / 2}
	}
	d, err := parseDuration(s)
	if err != nil {
		return bad()
	}
	return Think{Kind: ThinkConstant, Min: d, Max: d, Mean: d}
}

// ---- budgets ----

func (l *loader) budgets(n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		l.errf(n, `e.g. budgets: ["p99(add_to_cart) < 100ms", "errors < 0.1%"]`, "budgets: expected a list of budget expressions; got %s", kindName(n))
		return
	}
	for _, it := range n.Content {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || strings.TrimSpace(it.Value) == "" || it.Tag == "!!null" {
			l.errf(it, `e.g. "p99(add_to_cart) < 100ms"`, "budgets: expected a budget expression (a string); got %s", kindName(it))
			continue
		}
		l.p.Budgets = append(l.p.Budgets, Budget{Expr: strings.TrimSpace(it.Value), Line: it.Line, Column: it.Column})
	}
}
