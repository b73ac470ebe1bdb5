package main

import (
	"fmt"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// budgetOptions returns the parser's view of a summary's run.
func budgetOptions(s *report.Summary) budget.Options {
	// machine_busy is known even to a run that could not measure it: a
	// budget on it then has no data and is missed, as in the run itself.
	o := budget.Options{Steps: s.Steps, Regions: s.Regions, Writes: s.Writes, Figures: machineFigureUnits()}
	units := runFigureUnits() // a run's figures keep their units; others are plain numbers
	for k := range s.Figures {
		o.Figures[k] = report.UnitNumber
		if u, ok := units[k]; ok {
			o.Figures[k] = u
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
