package budget_test

import (
	"fmt"
	"os"
	"time"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// Budgets are parsed against the run's steps and regions, judged on the
// summary's totals, and printed as the table that ends the text summary.
func ExampleEvaluate() {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart", "checkout"}, Model: report.ModelOpen, Start: start})
	for i := 0; i < 1000; i++ {
		rec.Record(i, 0, 0, time.Duration(5+i%20)*time.Millisecond, report.OK, 0)
		rec.Record(i, 1, 0, time.Duration(50+i%100)*time.Millisecond, report.OK, 0)
	}
	rec.Release(rec.Rotate(start.Add(10 * time.Second)))
	s := rec.Summary(10 * time.Second)

	budgets, err := budget.ParseAll(
		[]string{"add_to_cart p99 < 100ms", "checkout under(100ms) >= 99.5%", "rps >= 150"}, nil,
		budget.Options{Steps: s.Steps, Regions: s.Regions})
	if err != nil {
		fmt.Println(err)
		return
	}
	results := budget.Evaluate(budgets, s)
	for _, r := range results {
		fmt.Println(r.Describe())
	}
	fmt.Println("all met:", report.BudgetsMet(results))

	_, err = budget.Parse("checkout p99 < 100", budget.Options{Steps: s.Steps})
	fmt.Fprintln(os.Stdout, err)
	// Output:
	// add_to_cart p99 < 100ms: actual 24ms, limit < 100ms: met
	// checkout under(100ms) >= 99.5%: actual 51.00%, limit >= 99.5%: MISSED
	// rps >= 150: actual 200/s, limit >= 150/s: met
	// all met: false
	// budget "checkout p99 < 100": column 16: expected a unit after 100 (ns, us, ms, s, m, h), as in 100ms
	//   checkout p99 < 100
	//                  ^
}
