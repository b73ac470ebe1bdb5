package budget

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentstorm/agentstorm/report"
)

// Budget language (see docs/ci.md for the reference with examples):
//
//	budget  := filter* [STEP] metric OP value [abort]
//	filter  := ("region" | "step" | "name" | "shard") "=" WORD
//	metric  := pNN[.N] | pNN(STEP) | max | mean | min | under(DURATION)
//	         | errors | rps | requests | dropped | FIGURE
//	         | abandoned[(STEP)] | sales | lost_sales   (see sessions.go)
//	OP      := "<" | "<=" | ">" | ">=" | "==" | "!="
//	value   := DURATION (1.5ms, 100ms, 2s, 250us) | NUMBER% | NUMBER
//	abort   := "abort" ["after" DURATION] ["min" INTEGER ["samples"]]
//
// A leading WORD that is not followed by an operator is the step name;
// "name=" is k6's alias of "step=". "write" names every step that writes
// (POST, PUT, PATCH, DELETE) unless a step is called "write". "errors" with
// a percentage is the share of requests that failed, without one the count.

// Metric computes one figure of a View. Implementations are small values;
// Options.Figures adds named figures without new code, and new
// metric kinds only need these three methods.
type Metric interface {
	// Name is the metric as written in canonical form ("p99", "under(100ms)").
	Name() string
	// Unit is the unit of Value's result.
	Unit() report.Unit
	// Value returns the figure for v and the number of samples it rests on;
	// ok is false when v has no data for it (no latencies, no requests).
	Value(v *View) (value float64, samples int64, ok bool)
}

// Filter selects the part of a run a budget judges. Empty fields select
// everything.
type Filter struct {
	// Step is the step name ("" all; "write" every write step unless a
	// step has that name).
	Step string
	// Region is the region name ("" all).
	Region string
	// Shard is the shard name ("" all); kept for figures recorded per shard.
	Shard string
}

// Budget is one parsed budget expression.
type Budget struct {
	// Expr is the expression as written (trimmed).
	Expr string
	// Source says where it came from ("--budget", "profile.yaml:126:5").
	Source string
	// Filter selects steps and regions.
	Filter Filter
	// Metric computes the judged figure.
	Metric Metric
	// Op and Limit are the comparison: the budget is met when
	// "actual Op Limit" holds. Limit is in Metric.Unit().
	Op    report.Op
	Limit float64
	// Abort makes the budget stop a run when it fails live on a
	// one-second interval, once Grace has passed since the start and the
	// interval has at least MinSamples samples.
	Abort      bool
	Grace      time.Duration
	MinSamples int64

	steps   []int // resolved step ids; nil: all
	regions []int // resolved region ids; nil: all
}

// Default abort settings for "abort" without "after"/"min".
const (
	// DefaultAbortGrace is the time from the start before a live abort may fire.
	DefaultAbortGrace = 10 * time.Second
	// DefaultAbortMinSamples is the fewest samples an interval needs to be judged live.
	DefaultAbortMinSamples = 100
)

// Options tell the parser what the run has, so names can be checked.
type Options struct {
	// Steps, Regions and Writes are the run's (as report.Options).
	Steps, Regions []string
	Writes         []bool
	// Shards are the known shard names, for "shard=" filters (empty: no
	// shard filter is accepted).
	Shards []string
	// Figures are extra run-wide figures a budget may name (for example
	// "lost_orders": report.UnitCount); their values come from View.Figures.
	Figures map[string]report.Unit
	// Metrics are extra metric kinds by name (the Metric interface: a name,
	// a unit and a value computed from the View), for figures a later
	// part of agentstorm computes its own way.
	Metrics map[string]Metric
}

// Error is a budget expression that does not parse or names
// something the run does not have.
type Error struct {
	// Expr is the expression; Column the 1-based position (in characters)
	// of the problem.
	Expr   string
	Column int
	// Msg says what was expected and what was found.
	Msg string
}

// Error returns `budget "EXPR": column N: MSG` with a caret line.
func (e *Error) Error() string {
	return fmt.Sprintf("budget %q: column %d: %s\n  %s\n  %s^", e.Expr, e.Column, e.Msg, e.Expr,
		strings.Repeat(" ", max(e.Column-1, 0)))
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokNumber // text includes any unit suffix: 100ms, 99.5%, 2s
	tokOp
	tokLParen
	tokRParen
	tokEq
)

type token struct {
	kind tokKind
	text string
	col  int // 1-based rune column
}

func describe(t token) string {
	if t.kind == tokEOF {
		return "the end of the expression"
	}
	return strconv.Quote(t.text)
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.' || r == '/' || r == ':' || r == '*'
}

func tokenize(expr string) ([]token, *Error) {
	var toks []token
	col := 1
	for i := 0; i < len(expr); {
		r, _ := utf8.DecodeRuneInString(expr[i:])
		start, startCol := i, col
		adv := func(n int) { // n runes
			for k := 0; k < n; k++ {
				_, s := utf8.DecodeRuneInString(expr[i:])
				i += s
				col++
			}
		}
		switch {
		case unicode.IsSpace(r):
			adv(1)
			continue
		case r == '(':
			adv(1)
			toks = append(toks, token{tokLParen, "(", startCol})
		case r == ')':
			adv(1)
			toks = append(toks, token{tokRParen, ")", startCol})
		case r == '<' || r == '>' || r == '!' || r == '=':
			adv(1)
			if i < len(expr) && expr[i] == '=' {
				adv(1)
			}
			text := expr[start:i]
			switch text {
			case "=":
				toks = append(toks, token{tokEq, text, startCol})
			case "!":
				return nil, &Error{Expr: expr, Column: startCol, Msg: `expected an operator (<, <=, >, >=, ==, !=); got "!"`}
			default:
				toks = append(toks, token{tokOp, text, startCol})
			}
		case unicode.IsDigit(r) || (r == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9'):
			for i < len(expr) {
				c, _ := utf8.DecodeRuneInString(expr[i:])
				if !(unicode.IsDigit(c) || c == '.' || c == '_' || c == ',') {
					break
				}
				adv(1)
			}
			for i < len(expr) {
				c, _ := utf8.DecodeRuneInString(expr[i:])
				if !(unicode.IsLetter(c) || c == '%') {
					break
				}
				adv(1)
			}
			toks = append(toks, token{tokNumber, expr[start:i], startCol})
		case isWordRune(r):
			for i < len(expr) {
				c, _ := utf8.DecodeRuneInString(expr[i:])
				if !isWordRune(c) {
					break
				}
				adv(1)
			}
			toks = append(toks, token{tokWord, expr[start:i], startCol})
		default:
			return nil, &Error{Expr: expr, Column: startCol, Msg: fmt.Sprintf("unexpected character %q", r)}
		}
	}
	toks = append(toks, token{tokEOF, "", col})
	return toks, nil
}

type parser struct {
	expr string
	toks []token
	pos  int
	o    *Options
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) peekAt(k int) token {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) *Error {
	return &Error{Expr: p.expr, Column: t.col, Msg: fmt.Sprintf(format, args...)}
}

const metricHelp = "p50, p90, p99, p99.9, max, mean, min, under(100ms), errors, rps, requests, dropped, abandoned, sales or lost_sales"

// Parse parses one budget expression against the run's steps and
// regions. Errors are *Error values naming the column and what was
// expected; unknown step or region names list the known ones.
func Parse(expr string, o Options) (*Budget, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return nil, &Error{Expr: expr, Column: 1, Msg: "empty budget: expected for example `add_to_cart p99 < 100ms` or `errors < 0.1%`"}
	}
	toks, berr := tokenize(expr)
	if berr != nil {
		return nil, berr
	}
	p := &parser{expr: expr, toks: toks, o: &o}
	b, berr := p.parse()
	if berr != nil {
		return nil, berr
	}
	return b, nil
}

// ParseAll parses every expression; source names where each came from
// (same length as exprs, or nil). It returns every error, one per line
// (errors.Join of the *Error values, each prefixed by its source).
func ParseAll(exprs, sources []string, o Options) ([]*Budget, error) {
	var out []*Budget
	var errs []error
	for i, e := range exprs {
		b, err := Parse(e, o)
		src := ""
		if i < len(sources) {
			src = sources[i]
		}
		if err != nil {
			if src != "" {
				err = fmt.Errorf("%s: %w", src, err)
			}
			errs = append(errs, err)
			continue
		}
		b.Source = src
		out = append(out, b)
	}
	return out, errors.Join(errs...)
}

var filterKeys = map[string]bool{"region": true, "step": true, "name": true, "shard": true}

// metricWords are the built-in metrics' words (besides percentiles, "p"
// and a number, and the function form under(DURATION)).
var metricWords = map[string]func() Metric{
	"median": func() Metric { return latencyMetric{name: "p50", q: 50} },
	"max":    func() Metric { return latencyMetric{name: "max"} },
	"min":    func() Metric { return latencyMetric{name: "min"} },
	"mean":   func() Metric { return latencyMetric{name: "mean"} },
	"avg":    func() Metric { return latencyMetric{name: "mean"} },
	// errors is a share or a count: parse decides by the limit's unit.
	"errors":     func() Metric { return errorsMetric{} },
	"error_rate": func() Metric { return errorsMetric{} },
	"failures":   func() Metric { return errorsMetric{} },
	"rps":        func() Metric { return rpsMetric{} },
	"throughput": func() Metric { return rpsMetric{} },
	"requests":   func() Metric { return requestsMetric{} },
	"count":      func() Metric { return requestsMetric{} },
	"dropped":    func() Metric { return droppedMetric{} },
	// abandoned and lost_sales are shares or counts, as errors.
	"abandoned":  func() Metric { return sessionMetric{kind: sessAbandoned} },
	"sales":      func() Metric { return sessionMetric{kind: sessSales} },
	"lost_sales": func() Metric { return sessionMetric{kind: sessLost} },
}

// clauseWords are the words of the function-form metric and the abort clause.
var clauseWords = map[string]bool{"under": true, "within": true, "abort": true, "after": true, "min": true, "samples": true}

// isPercentile reports whether a lower-case word looks like a percentile
// metric (p and a digit).
func isPercentile(w string) bool { return len(w) > 1 && w[0] == 'p' && w[1] >= '0' && w[1] <= '9' }

// builtinMetric returns the built-in metric a lower-case word names (a
// valid percentile, or one of metricWords).
func builtinMetric(w string) (Metric, bool) {
	if isPercentile(w) {
		q, err := strconv.ParseFloat(w[1:], 64)
		if err != nil || q <= 0 || q > 100 {
			return nil, false
		}
		return latencyMetric{name: "p" + w[1:], q: q}, true
	}
	if f, ok := metricWords[w]; ok {
		return f(), true
	}
	return nil, false
}

// IsKeyword reports whether w (in any case) is a word of the budget
// language itself: a built-in metric, a percentile, a filter key, or a
// word of the under(...) and abort clauses. Such a word cannot name a run
// figure.
func IsKeyword(w string) bool {
	w = strings.ToLower(w)
	_, metric := metricWords[w]
	return metric || isPercentile(w) || filterKeys[w] || clauseWords[w]
}

func (p *parser) parse() (*Budget, *Error) {
	b := &Budget{Expr: p.expr}
	var stepTok token
	setStep := func(t token) *Error {
		if b.Filter.Step != "" {
			return p.errAt(t, "a second step %q: a budget judges one step (or all)", t.text)
		}
		b.Filter.Step, stepTok = t.text, t
		return nil
	}
	// Filters: key=value.
	for p.peek().kind == tokWord && p.peekAt(1).kind == tokEq {
		key := p.next()
		p.next() // =
		val := p.next()
		if val.kind != tokWord && val.kind != tokNumber {
			return nil, p.errAt(val, "expected a name after %s=; got %s", key.text, describe(val))
		}
		switch strings.ToLower(key.text) {
		case "region":
			if b.Filter.Region != "" {
				return nil, p.errAt(key, "region given twice")
			}
			b.Filter.Region = val.text
			if err := p.resolveRegion(b, val); err != nil {
				return nil, err
			}
		case "step", "name":
			if err := setStep(val); err != nil {
				return nil, err
			}
		case "shard":
			if len(p.o.Shards) == 0 {
				return nil, p.errAt(key, "shard= filters need figures recorded per shard, which this run does not have")
			}
			if !slices.Contains(p.o.Shards, val.text) {
				return nil, p.errAt(val, "unknown shard %q; known shards: %s", val.text, strings.Join(p.o.Shards, ", "))
			}
			b.Filter.Shard = val.text
		default:
			return nil, p.errAt(key, "unknown filter %q: expected region=, step=, name= or shard=", key.text)
		}
	}
	// Optional step: a word not followed by an operator (and not a
	// function-form metric like p99(step)).
	if t := p.peek(); t.kind == tokWord && !strings.EqualFold(t.text, "under") && !strings.EqualFold(t.text, "within") && p.peekAt(1).kind != tokOp && p.peekAt(1).kind != tokLParen && p.peekAt(1).kind != tokEOF {
		if filterKeys[strings.ToLower(t.text)] {
			return nil, p.errAt(p.peekAt(1), "expected = after %s (as in %s=NAME)", t.text, t.text)
		}
		if err := setStep(p.next()); err != nil {
			return nil, err
		}
	}
	// Metric.
	mt := p.next()
	if mt.kind != tokWord {
		return nil, p.errAt(mt, "expected a metric (%s); got %s", metricHelp, describe(mt))
	}
	m, err := p.metric(mt, setStep)
	if err != nil {
		return nil, err
	}
	b.Metric = m
	if b.Filter.Step != "" {
		if err := p.resolveStep(b, stepTok); err != nil {
			return nil, err
		}
	}
	// Operator.
	ot := p.next()
	if ot.kind != tokOp {
		return nil, p.errAt(ot, "expected an operator (<, <=, >, >=, ==, !=) after %s; got %s", m.Name(), describe(ot))
	}
	for op := report.OpLT; op <= report.OpNE; op++ {
		if op.String() == ot.text {
			b.Op = op
		}
	}
	// Value.
	vt := p.next()
	limit, err := p.value(vt, m.Unit(), m.Name())
	if err != nil {
		return nil, err
	}
	b.Limit = limit
	// Errors as a share or a count: decided by the limit's unit.
	if em, ok := m.(errorsMetric); ok {
		em.share = strings.HasSuffix(vt.text, "%")
		b.Metric = em
	}
	if sm, ok := m.(sessionMetric); ok && sm.sharable() {
		sm.share = strings.HasSuffix(vt.text, "%")
		b.Metric = sm
	}
	// Abort clause.
	if t := p.peek(); t.kind == tokWord && strings.EqualFold(t.text, "abort") {
		p.next()
		b.Abort, b.Grace, b.MinSamples = true, DefaultAbortGrace, DefaultAbortMinSamples
		if t := p.peek(); t.kind == tokWord && strings.EqualFold(t.text, "after") {
			p.next()
			dt := p.next()
			d, err := p.duration(dt, "after")
			if err != nil {
				return nil, err
			}
			b.Grace = d
		}
		if t := p.peek(); t.kind == tokWord && strings.EqualFold(t.text, "min") {
			p.next()
			nt := p.next()
			n, perr := strconv.ParseInt(nt.text, 10, 64)
			if nt.kind != tokNumber || perr != nil || n < 1 {
				return nil, p.errAt(nt, "expected a whole number of samples after min (e.g. min 100); got %s", describe(nt))
			}
			b.MinSamples = n
			if t := p.peek(); t.kind == tokWord && strings.EqualFold(t.text, "samples") {
				p.next()
			}
		}
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "unexpected %s after the limit: expected the end, or `abort [after 10s] [min 100]`", describe(t))
	}
	return b, nil
}

func (p *parser) resolveStep(b *Budget, t token) *Error {
	name := b.Filter.Step
	for i, s := range p.o.Steps {
		if s == name {
			b.steps = []int{i}
			return nil
		}
	}
	if strings.EqualFold(name, "write") || strings.EqualFold(name, "writes") {
		for i := range p.o.Steps {
			if i < len(p.o.Writes) && p.o.Writes[i] {
				b.steps = append(b.steps, i)
			}
		}
		if len(b.steps) == 0 {
			return p.errAt(t, "%q names the write steps, but no step of this run writes (steps: %s)", name, strings.Join(p.o.Steps, ", "))
		}
		return nil
	}
	if name == "*" || strings.EqualFold(name, "all") {
		b.Filter.Step = ""
		return nil
	}
	known := "none"
	if len(p.o.Steps) > 0 {
		known = strings.Join(p.o.Steps, ", ")
	}
	return p.errAt(t, "unknown step %q; known steps: %s (or write, for every write step)", name, known)
}

func (p *parser) resolveRegion(b *Budget, t token) *Error {
	for i, r := range p.o.Regions {
		if r == t.text {
			b.regions = []int{i}
			return nil
		}
	}
	known := "none"
	if len(p.o.Regions) > 0 {
		known = strings.Join(p.o.Regions, ", ")
	}
	return p.errAt(t, "unknown region %q; known regions: %s", t.text, known)
}

// metric parses the metric starting at t (a word already consumed).
func (p *parser) metric(t token, setStep func(token) *Error) (Metric, *Error) {
	name := strings.ToLower(t.text)
	// Function form: p99(step), max(step), under(100ms).
	if name == "under" || name == "within" {
		if lp := p.next(); lp.kind != tokLParen {
			return nil, p.errAt(lp, "expected ( after under, as in under(100ms); got %s", describe(lp))
		}
		dt := p.next()
		d, err := p.duration(dt, "under(")
		if err != nil {
			return nil, err
		}
		if rp := p.next(); rp.kind != tokRParen {
			return nil, p.errAt(rp, "expected ) to close under(; got %s", describe(rp))
		}
		return underMetric{limit: d}, nil
	}
	m, isBuiltin := builtinMetric(name)
	switch {
	case isBuiltin:
	case isPercentile(name):
		return nil, p.errAt(t, "bad percentile %q: expected p followed by a number above 0 and at most 100 (p50, p99, p99.9)", t.text)
	default:
		if m, ok := p.o.Metrics[t.text]; ok {
			return m, nil
		}
		if u, ok := p.o.Figures[t.text]; ok {
			return figureMetric{name: t.text, unit: u}, nil
		}
		if slices.Contains(p.o.Steps, t.text) {
			return nil, p.errAt(t, "%q is a step, not a metric: put a metric after it, as in `%s p99 < 100ms`", t.text, t.text)
		}
		extra := ""
		if len(p.o.Figures) > 0 {
			extra = ", or a run figure: " + strings.Join(slices.Sorted(maps.Keys(p.o.Figures)), ", ")
		}
		return nil, p.errAt(t, "unknown metric %q: expected %s%s", t.text, metricHelp, extra)
	}
	if p.peek().kind == tokLParen {
		p.next()
		st := p.next()
		if st.kind != tokWord {
			return nil, p.errAt(st, "expected a step name inside %s( ); got %s", t.text, describe(st))
		}
		if rp := p.next(); rp.kind != tokRParen {
			return nil, p.errAt(rp, "expected ) after the step name; got %s", describe(rp))
		}
		if err := setStep(st); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var durUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour,
}

// splitNumber splits "100ms" into 100 and "ms".
func splitNumber(text string) (float64, string, error) {
	i := 0
	for i < len(text) && (text[i] >= '0' && text[i] <= '9' || text[i] == '.' || text[i] == '_' || text[i] == ',') {
		i++
	}
	num := strings.NewReplacer("_", "", ",", "").Replace(text[:i])
	v, err := strconv.ParseFloat(num, 64)
	return v, text[i:], err
}

// unitAfter consumes a separate unit word after a bare number ("100 ms").
func (p *parser) unitAfter(suffix string) string {
	if suffix != "" {
		return suffix
	}
	if t := p.peek(); t.kind == tokWord {
		if _, ok := durUnits[strings.ToLower(t.text)]; ok {
			p.next()
			return t.text
		}
	}
	return suffix
}

func (p *parser) duration(t token, after string) (time.Duration, *Error) {
	if t.kind != tokNumber {
		return 0, p.errAt(t, "expected a duration after %s (e.g. 100ms, 2s); got %s", after, describe(t))
	}
	v, unit, err := splitNumber(t.text)
	if err != nil {
		return 0, p.errAt(t, "bad number %q", t.text)
	}
	unit = p.unitAfter(unit)
	mul, ok := durUnits[strings.ToLower(unit)]
	if !ok {
		if unit == "" {
			return 0, p.errAt(t, "expected a unit after %s (ns, us, ms, s, m, h), as in %sms", t.text, t.text)
		}
		return 0, p.errAt(t, "unknown duration unit %q in %q: expected ns, us, ms, s, m or h", unit, t.text)
	}
	return time.Duration(v * float64(mul)), nil
}

// value parses the limit for a metric of unit u.
func (p *parser) value(t token, u report.Unit, metric string) (float64, *Error) {
	if t.kind != tokNumber {
		return 0, p.errAt(t, "expected a limit after the operator (%s); got %s", exampleLimit(u), describe(t))
	}
	v, suffix, err := splitNumber(t.text)
	if err != nil {
		return 0, p.errAt(t, "bad number %q", t.text)
	}
	switch u {
	case report.UnitDuration:
		d, berr := p.duration(t, metric+" <")
		if berr != nil {
			return 0, berr
		}
		return float64(d) / float64(time.Millisecond), nil
	case report.UnitPercent:
		if suffix != "%" {
			return 0, p.errAt(t, "expected a percentage for %s (e.g. 99.5%%); got %q", metric, t.text)
		}
		if v > 100 {
			return 0, p.errAt(t, "a percentage is at most 100%%; got %q", t.text)
		}
		return v, nil
	default:
		// errors with a percentage is a share; a plain-number figure may be
		// written with % when it is itself a percentage (k6's checks).
		if (metric == "errors" || metric == "abandoned" || metric == "lost_sales" || u == report.UnitNumber) && suffix == "%" {
			if v > 100 {
				return 0, p.errAt(t, "a percentage is at most 100%%; got %q", t.text)
			}
			return v, nil
		}
		if suffix != "" {
			return 0, p.errAt(t, "expected a plain number for %s (%s); got %q", metric, exampleLimit(u), t.text)
		}
		return v, nil
	}
}

func exampleLimit(u report.Unit) string {
	switch u {
	case report.UnitDuration:
		return "a duration such as 100ms"
	case report.UnitPercent:
		return "a percentage such as 99.5%"
	case report.UnitRate:
		return "requests per second such as 20000"
	}
	return "a number such as 0, or a percentage such as 0.1% for errors"
}

// String returns the budget in canonical form (for tables).
func (b *Budget) String() string { return b.Expr }
