// Command orderstats reads the order stores a bundled-target run kept
// (agentstorm run --keep-data) and prints, as one JSON line, the orders
// accepted, how many hold pre-ordered units, and how many were still
// queued (accepted, not yet created) when the shards stopped.
//
//	go run ./bench/orderstats DATA_DIR
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// stats is what the stores say.
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
	var st stats
	err := filepath.WalkDir(os.Args[1], func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "orders.bbolt" {
			return err
		}
		db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer db.Close()
		st.Stores++
		return db.View(func(tx *bolt.Tx) error {
			if q := tx.Bucket([]byte("queue")); q != nil {
				st.Queued += int64(q.Stats().KeyN)
			}
			b := tx.Bucket([]byte("orders"))
			if b == nil {
				return nil
			}
			return b.ForEach(func(_, v []byte) error {
				var rec struct {
					Preorder bool `json:"preorder"`
				}
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("%s: order record: %w", path, err)
				}
				st.Orders++
				if rec.Preorder {
					st.Preorder++
				}
				return nil
			})
		})
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "orderstats:", err)
		os.Exit(1)
	}
	if st.Orders > 0 {
		st.Share = 100 * float64(st.Preorder) / float64(st.Orders)
	}
	if err := json.NewEncoder(os.Stdout).Encode(st); err != nil {
		fmt.Fprintln(os.Stderr, "orderstats:", err)
		os.Exit(1)
	}
}
