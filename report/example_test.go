package report_test

import (
	"fmt"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// A run loop records every answer, rotates once a second for the live
// line, and summarises at the end.
func Example() {
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{
		Steps:   []string{"add_to_cart", "checkout"},
		Regions: []string{"eu-west"},
		Writes:  []bool{true, true},
		Model:   report.ModelOpen,
		Start:   start,
	})
	for agent := 0; agent < 1000; agent++ {
		rec.Record(agent, 0, 0, time.Duration(1+agent%40)*time.Millisecond, report.OK, 0)
		rec.Record(agent, 1, 0, time.Duration(20+agent%100)*time.Millisecond, report.OK, 0)
	}
	rec.Record(0, 1, 0, 10*time.Second, report.Timeout, 0)
	rec.SetActiveAgents(1000)

	iv := rec.Rotate(start.Add(time.Second))
	fmt.Println(report.LiveLine(iv, time.Second, time.Minute, iv.ActiveAgents))
	rec.Release(iv)

	s := rec.Summary(time.Second)
	worst, _ := s.WorstWriteStep()
	fmt.Printf("%s: p99 %s, within 100 ms %.2f%%\n", worst.Name,
		report.FormatDuration(worst.Raw.P99), 100*worst.Raw.Compliance())
	// Output:
	// 0:01/1:00  agents 1,000  2,001 req/s  p50 35ms  p99 118ms  <=100ms 90.45%  errors 1 (0.05%)
	// checkout: p99 119ms, within 100 ms 80.92%
}
