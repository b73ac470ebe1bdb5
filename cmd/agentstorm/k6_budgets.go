package main

import (
	"strings"
	"unicode"

	"github.com/agentstorm/agentstorm/k6"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// checkK6Budgets checks the budgets' syntax before the input is read,
// when the step and region names are not known yet: every word of the
// expressions is allowed as a name, so only the grammar, metrics, units
// and k6 figures are checked here. The names are checked after the read.
func checkK6Budgets(exprs, sources []string) error {
	if len(exprs) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var words []string
	for _, e := range exprs {
		for _, w := range strings.FieldsFunc(e, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.:/?&%~", r))
		}) {
			if !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	_, err := budget.ParseAll(exprs, sources, budget.Options{Steps: words, Regions: words, Figures: figureUnitsOrNumber(words)})
	return err
}

// figureUnitsOrNumber is k6's figure units, plus every other word as a
// plain-number figure (a custom metric's name), for checkK6Budgets.
func figureUnitsOrNumber(words []string) map[string]report.Unit {
	u := k6.FigureUnits()
	for _, w := range words {
		if _, ok := u[w]; !ok && !budget.IsKeyword(w) {
			u[w] = report.UnitNumber
		}
	}
	return u
}

// k6Live keeps the live checker current as steps and regions appear: the
// abort budgets are parsed again whenever the recorder has grown, and
// those that name a step not seen yet wait until it appears.
type k6Live struct {
	exprs, sources []string
	steps, regions int
	lc             *budget.LiveChecker
}

func (l *k6Live) checker(rec *report.Recorder) *budget.LiveChecker {
	if len(l.exprs) == 0 {
		return nil
	}
	if len(rec.Steps()) == l.steps && len(rec.Regions()) == l.regions {
		return l.lc
	}
	l.steps, l.regions = len(rec.Steps()), len(rec.Regions())
	o := budget.Options{Steps: rec.Steps(), Regions: rec.Regions(), Figures: k6.FigureUnits()}
	var list []*budget.Budget
	for _, e := range l.exprs {
		if b, err := budget.Parse(e, o); err == nil {
			list = append(list, b)
		}
	}
	l.lc = budget.NewLiveChecker(list)
	return l.lc
}
