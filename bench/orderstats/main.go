// Command orderstats reads the order logs a bundled-target run kept
// (agentstorm run --keep-data) and prints, as one JSON line, the orders
// accepted, how many hold pre-ordered units, and how many were still
// queued (accepted, not yet created or rejected) when the shards stopped.
//
//	go run ./bench/orderstats DATA_DIR
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/agentstorm/agentstorm/target"
)

// stats is what the logs say.
type stats struct {
	Stores   int     `json:"stores"`
	Orders   int64   `json:"orders"`
	Preorder int64   `json:"preorder"`
	Share    float64 `json:"preorder_share_pct"`
	Queued   int64   `json:"queued_at_stop"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: orderstats DATA_DIR")
		os.Exit(2)
	}
	st, err := read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "orderstats:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(st); err != nil {
		fmt.Fprintln(os.Stderr, "orderstats:", err)
		os.Exit(1)
	}
}

// read sums the order logs under dir.
func read(dir string) (stats, error) {
	var st stats
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch d.Name() {
		case "orders.bbolt":
			return fmt.Errorf("%s: an order store of an older agentstorm (bbolt), not read by this version", path)
		case target.OrderLogName:
		default:
			return nil
		}
		st.Stores++
		_, err = target.ReadOrderLog(path, func(r target.OrderLogRecord) error {
			if r.Kind == target.OrderDecided {
				st.Queued--
				return nil
			}
			var rec struct {
				Preorder bool `json:"preorder"`
			}
			if err := json.Unmarshal(r.JSON, &rec); err != nil {
				return fmt.Errorf("order %d: %w", r.Number, err)
			}
			st.Orders++
			st.Queued++
			if rec.Preorder {
				st.Preorder++
			}
			return nil
		})
		return err
	})
	if st.Orders > 0 {
		st.Share = 100 * float64(st.Preorder) / float64(st.Orders)
	}
	return st, err
}
