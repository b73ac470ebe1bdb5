package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestCheckoutWatchSumsShards: the order queue depth is summed over the
// shards' /metrics, the highest sum and the last are kept, the orders
// accepted and pre-ordered are summed at the last reading, and a shard
// that cannot be read spoils that reading only (and is said).
func TestCheckoutWatchSumsShards(t *testing.T) {
	var depth atomic.Int64
	var broken atomic.Bool
	shard := func(scale int64) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if broken.Load() && scale == 2 {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "# HELP %s Orders.\n%s_total 999\n%s{region=\"r\",shard=\"%d\"} %d\nother 1\n",
				queueDepthMetric, queueDepthMetric, queueDepthMetric, scale, depth.Load()*scale)
			fmt.Fprintf(w, "%s{shard=\"%d\"} %d\n%s{shard=\"%d\"} %d\n", acceptedMetric, scale, 100*scale, preorderMetric, scale, depth.Load()*scale)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	urls := []string{shard(1), shard(2)}
	w := watchCheckout(urls, time.Now(), time.Hour) // readings taken by hand below
	defer w.close()
	for _, d := range []int64{5, 40, 10} {
		depth.Store(d)
		w.sample(t.Context())
	}
	if f := w.figures(); f["order_queue_peak"] != 120 || f["orders_preorder_share"] != 10 {
		t.Errorf("figures %v, want the peak 120 and 10%% pre-ordered", f)
	}
	broken.Store(true)
	depth.Store(1000)
	w.sample(t.Context()) // one shard down: not a reading
	broken.Store(false)
	depth.Store(3)
	line := w.end() // the last reading: 3 + 6
	for _, want := range []string{"peaked at 120 orders", "; 9 when the run ended", "of the 300 orders it accepted, 3.0% hold pre-ordered units", "(1 readings missed a shard)"} {
		if !strings.Contains(line, want) {
			t.Errorf("footnote %q lacks %q", line, want)
		}
	}
	// A reading missed a shard: the peak may have been in it, so no peak
	// figure (a budget on it has no data), while the counters are whole.
	if f := w.figures(); f["orders_preorder_share"] != 3 {
		t.Errorf("figures %v, want 3%% pre-ordered", f)
	} else if _, ok := f["order_queue_peak"]; ok {
		t.Errorf("figures %v: a peak though a reading missed a shard", f)
	}
	var nothing *checkoutWatch
	nothing.close()
	if nothing.end() != "" || nothing.figures() != nil {
		t.Error("a nil watch has a footnote or figures")
	}
	none := watchCheckout([]string{"http://127.0.0.1:1"}, time.Now(), time.Hour)
	if line := none.end(); line != "" {
		t.Errorf("no reading, yet a footnote: %q", line)
	}
}
