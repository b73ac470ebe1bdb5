package hlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// TestSpoolHeaderHasLaterNames: a run whose steps appear as it goes (an
// ingest) gets a log whose header names every step, with the intervals
// spooled before the names were known, read back to the run's totals.
func TestSpoolHeaderHasLaterNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ingest.hlog")
	start := time.Unix(1_700_000_000, 0)
	rec := report.NewRecorder(report.Options{Steps: []string{"a"}, Model: report.ModelClosed, Start: start})
	sp := NewSpool(path, Budgets([]string{"p99 < 1s"}, []string{"--budget"}))
	defer sp.Cleanup()
	meta := map[string]string{"source": "test"}
	for sec := 0; sec < 3; sec++ {
		if sec == 1 {
			rec.AddStep("b", false)
		}
		for i := 0; i < 10; i++ {
			rec.Record(i, sec%len(rec.Steps()), 0, time.Duration(1+i)*time.Millisecond, report.OK, 0)
		}
		iv := rec.Rotate(start.Add(time.Duration(sec+1) * time.Second))
		if err := sp.WriteInterval(rec, meta, iv); err != nil {
			t.Fatal(err)
		}
		rec.Release(iv)
	}
	want := rec.Summary(3 * time.Second)
	if err := sp.Finish(rec, meta, want); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ls := NewSet()
	if err := ls.Read(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ls.Summary()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Steps) != 2 || got.Steps[1] != "b" || got.Overall.Count != 30 || got.PerStep[1].Count != 10 ||
		len(ls.Budgets()) != 1 || ls.Meta().Meta["source"] != "test" {
		t.Errorf("read back: steps %v, %d requests (%d of b), budgets %v", got.Steps, got.Overall.Count, got.PerStep[1].Count, ls.Budgets())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 { // the log and the spool, until Cleanup
		t.Errorf("%d files beside the log, want the log and its spool", len(entries))
	}
}
