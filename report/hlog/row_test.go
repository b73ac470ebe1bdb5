package hlog

import (
	"testing"

	"github.com/agentstorm/agentstorm/report"
)

// TestRowsOfOlderLogs: a cell row written before the body_too_large and
// header_too_large classes existed (9 outcome counts) still reads, into
// the same classes; a row of any other length is refused.
func TestRowsOfOlderLogs(t *testing.T) {
	iv := &report.Interval{Steps: []string{"a"}, Regions: []string{"r"}, Cells: make([]report.CellInterval, 1)}
	old := []int64{0, 0, 10, 1, 2, 3, 4, 5, 6, 7, 8, 40, 1, 2} // step, region, 9 counts, under, clamped, dropped
	if err := addRow(iv, old); err != nil {
		t.Fatal(err)
	}
	c := iv.Cell(0, 0)
	if c.Counts[report.OK] != 10 || c.Counts[report.OtherError] != 8 || c.Counts[report.BodyTooLarge] != 0 || c.Under != 40 || c.Dropped != 2 {
		t.Errorf("old row read as %+v", c)
	}
	row := appendRow(nil, c)[0]
	if len(row) != rowLen {
		t.Fatalf("row length %d", len(row))
	}
	if err := addRow(iv, row[:len(row)-1]); err == nil {
		t.Error("a row of a wrong length was accepted")
	}
}
