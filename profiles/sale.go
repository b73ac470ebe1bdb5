package profiles

import (
	"math"

	"go.yaml.in/yaml/v3"
)

// maxMoney bounds a value in the currency's major unit, so cents fit an
// int64 with room to add up a run's sales.
const maxMoney = 1e12

// sale parses a step's sale: true | false | {value: 42.50} into s: whether
// the step is a sale and, when a value is given, its value in cents. An
// explicit value wins, 0 included (a free order: a sale worth 0); without
// one the step takes the profile's order_value: (resolveSessions).
func (l *loader) sale(n *yaml.Node, what string, s *Step) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		s.Sale = l.boolean(n, what)
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errf(n, "sale: true, or sale: {value: 42.50}", "%s: expected true, false or {value: AMOUNT}; got %s", what, kindName(n))
		return
	}
	f := l.fields(n, what, []string{"value"})
	if f == nil {
		return
	}
	s.Sale = true
	v := f["value"]
	if v == nil {
		l.errf(n, "e.g. sale: {value: 42.50}", "%s: missing value:", what)
		return
	}
	s.SaleValue, s.saleValueSet = l.money(v, what+".value")
}

// money parses an amount in the currency's major unit (85.00) into cents.
func (l *loader) money(n *yaml.Node, what string) (int64, bool) {
	v, ok := l.number(n, what)
	if !ok {
		return 0, false
	}
	if v < 0 || v > maxMoney {
		l.errf(n, "an amount like 85.00 (cents are kept)", "%s: %v is out of range; expected 0..%.0f", what, v, float64(maxMoney))
		return 0, false
	}
	return int64(math.Round(v * 100)), true
}
