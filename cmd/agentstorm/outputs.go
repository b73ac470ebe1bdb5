package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// outSpec is one --out KIND=PATH.
type outSpec struct {
	kind, path string
}

// outputWriters are the output kinds written from a summary. "hlog" is
// not here: a run streams it while it runs, and a report merges its input
// logs into it.
var outputWriters = map[string]func(io.Writer, *report.Summary) error{
	"json":     report.WriteJSON,
	"junit":    report.WriteJUnit,
	"hgrm":     report.WriteHgrm,
	"markdown": report.WriteMarkdown,
	"html":     report.WriteHTML,
	"text":     report.WriteText,
}

// outputAliases map other spellings to the kinds.
var outputAliases = map[string]string{"md": "markdown", "xml": "junit", "txt": "text", "htm": "html"}

// outputKinds lists every kind for messages.
func outputKinds(withHlog bool) string {
	kinds := make([]string, 0, len(outputWriters)+1)
	for k := range outputWriters {
		kinds = append(kinds, k)
	}
	if withHlog {
		kinds = append(kinds, "hlog")
	}
	sort.Strings(kinds)
	return strings.Join(kinds, ", ")
}

// parseOuts parses --out values. withHlog allows the hlog kind.
func parseOuts(list []string, withHlog bool) ([]outSpec, error) {
	var out []outSpec
	seen := map[string]bool{}
	for _, v := range list {
		kind, path, ok := strings.Cut(v, "=")
		kind = strings.ToLower(strings.TrimSpace(kind))
		if a, isAlias := outputAliases[kind]; isAlias {
			kind = a
		}
		if !ok || path == "" || kind == "" {
			return nil, fmt.Errorf("--out %q: want KIND=PATH, such as --out html=report.html (kinds: %s)", v, outputKinds(withHlog))
		}
		if _, known := outputWriters[kind]; !known && !(withHlog && kind == "hlog") {
			return nil, fmt.Errorf("--out %q: unknown kind %q (kinds: %s)", v, kind, outputKinds(withHlog))
		}
		if dir := filepath.Dir(path); dir != "" {
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("--out %q: the directory %s does not exist: create it first", v, dir)
			}
		}
		if seen[path] {
			return nil, fmt.Errorf("--out %q: %s is written twice", v, path)
		}
		if kind == "hlog" && seen["\x00hlog"] {
			return nil, fmt.Errorf("--out %q: --out hlog given twice: a run writes one interval log", v)
		}
		if kind == "hlog" {
			seen["\x00hlog"] = true // a key no path can be
		}
		seen[path] = true
		out = append(out, outSpec{kind: kind, path: path})
	}
	return out, nil
}

// writeOutputs writes every output but hlog, each through a temporary file
// renamed into place, and the markdown summary to $GITHUB_STEP_SUMMARY when
// that is set. It reports each file written to w and returns the errors.
func writeOutputs(w io.Writer, specs []outSpec, s *report.Summary) error {
	var errs []error
	for _, o := range specs {
		if o.kind == "hlog" {
			continue
		}
		write := outputWriters[o.kind]
		if err := report.WriteFileAtomic(o.path, func(fw io.Writer) error { return write(fw, s) }); err != nil {
			errs = append(errs, fmt.Errorf("--out %s=%s: %w", o.kind, o.path, err))
			continue
		}
		fmt.Fprintf(w, "Wrote %s: %s\n", o.kind, o.path)
		if o.kind == "hgrm" { // one distribution per file: the steps' beside the run's
			paths, err := report.WriteHgrmSteps(o.path, s)
			for _, p := range paths {
				fmt.Fprintf(w, "Wrote %s: %s\n", o.kind, p)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("--out %s=%s: %w", o.kind, o.path, err))
			}
		}
	}
	if p := os.Getenv("GITHUB_STEP_SUMMARY"); p != "" {
		if err := appendStepSummary(p, s); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(w, "Wrote markdown: $GITHUB_STEP_SUMMARY\n")
		}
	}
	return errors.Join(errs...)
}

// appendStepSummary appends the markdown summary to GitHub's step summary
// file (appended, as GitHub's documentation says: other steps write it too).
func appendStepSummary(path string, s *report.Summary) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", err)
	}
	werr := report.WriteMarkdown(f, s)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", werr)
	}
	if cerr != nil {
		return fmt.Errorf("$GITHUB_STEP_SUMMARY: %w", cerr)
	}
	return nil
}

// budgetOptions returns the parser's view of a summary's run.
func budgetOptions(s *report.Summary) report.BudgetOptions {
	o := report.BudgetOptions{Steps: s.Steps, Regions: s.Regions, Writes: s.Writes}
	if len(s.Figures) > 0 {
		o.Figures = map[string]report.Unit{}
		gd := gameDayFigures() // game-day audit figures keep their units
		for k := range s.Figures {
			o.Figures[k] = report.UnitNumber
			if u, ok := gd[k]; ok {
				o.Figures[k] = u
			}
		}
	}
	return o
}

// profileBudgets returns a profile's budget expressions and their sources
// ("file:line:column", or "profile NAME" for built-ins without a file).
func profileBudgets(p *profiles.Profile) (exprs, sources []string) {
	for _, b := range p.Budgets {
		src := p.File
		if src == "" {
			src = "profile " + p.Name
		}
		exprs = append(exprs, b.Expr)
		sources = append(sources, fmt.Sprintf("%s:%d:%d", src, b.Line, b.Column))
	}
	return exprs, sources
}

// flagBudgets returns --budget values with their source.
func flagBudgets(list []string) (exprs, sources []string) {
	for _, e := range list {
		exprs = append(exprs, e)
		sources = append(sources, "--budget")
	}
	return exprs, sources
}

// logBudgets pairs budget expressions with their sources for an hlog's
// header, where `agentstorm report` finds them again.
func logBudgets(exprs, sources []string) []report.LogBudget {
	lb := make([]report.LogBudget, len(exprs))
	for i := range exprs {
		lb[i] = report.LogBudget{Expr: exprs[i], Source: sources[i]}
	}
	return lb
}

// budgetExit ends a command that judged budgets: each missed budget is
// reported on stderr as "agentstorm CMD: budget missed: ...", and the exit
// code is 99 if any was missed, else 1 if an output failed (outErr), else 0.
func budgetExit(env *cliEnv, cmd string, results []report.BudgetResult, outErr bool) int {
	if !report.BudgetsMet(results) {
		for i := range results {
			if !results[i].Met {
				fmt.Fprintf(env.stderr, "agentstorm %s: budget missed: %s\n", cmd, results[i].Describe())
			}
		}
		return exitBudgetMet
	}
	if outErr {
		return exitFailed
	}
	return exitOK
}
