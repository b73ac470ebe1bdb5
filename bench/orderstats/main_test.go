package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/target"
)

// TestReadRunsShards writes orders through real shards (one in-stock, one pre-order, one
// left queued) and reads their logs back.
func TestReadRunsShards(t *testing.T) {
	dir := t.TempDir()
	for i, stock := range []int64{10, 1} {
		s, err := target.StartShard(target.ShardConfig{ID: i, DataDir: filepath.Join(dir, "shard", string(rune('0'+i))),
			StockPerSKU: stock, ControlToken: "t", Logf: t.Logf})
		if err != nil {
			t.Fatal(err)
		}
		s.SetChaos(target.ChaosState{OrdersPaused: true}) // every order stays queued
		cart := post(t, s.URL()+"/v1/carts", `{"customer_id":"c","region":"us-east"}`, "", 201)
		post(t, s.URL()+"/v1/carts/"+cart+"/items", `{"sku":"s","qty":2}`, "", 200)
		post(t, s.URL()+"/v1/carts/"+cart+"/checkout", `{"destination":"US","carrier":"ups","speed":"standard"}`, "k", 202)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stores != 2 || st.Orders != 2 || st.Preorder != 1 || st.Queued != 2 || st.Share != 50 {
		t.Fatalf("stats %+v; want 2 stores, 2 orders, 1 pre-order (50%%), 2 queued", st)
	}
	// An old bbolt store is named, not skipped.
	old := filepath.Join(dir, "old", "orders.bbolt")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := read(dir); err == nil || !strings.Contains(err.Error(), old) {
		t.Fatalf("read with an old store: %v", err)
	}
}

// post sends body to url (with an Idempotency-Key if key is set), checks the status and
// returns the answer's cart_id, if any.
func post(t *testing.T, url, body, key string, want int) string {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		CartID string `json:"cart_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != want {
		t.Fatalf("POST %s: %d (%v), want %d", url, resp.StatusCode, err, want)
	}
	return ans.CartID
}
