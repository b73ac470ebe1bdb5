package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentstorm/agentstorm/report"
)

// The bundled target's own figures the watch reads, one of each per shard:
// the gauge of orders accepted (durable) and not yet created, and the
// counters of orders accepted and of those holding pre-ordered units.
const (
	queueDepthMetric = "agentstorm_target_order_queue_depth"
	acceptedMetric   = "agentstorm_target_orders_accepted_total"
	preorderMetric   = "agentstorm_target_orders_preorder_total"
)

// checkoutFigureUnits are the figures a run against the bundled target
// adds for budgets and the JSON (see checkoutWatch.figures): the order
// queue's peak and the share of accepted orders holding pre-ordered units.
func checkoutFigureUnits() map[string]report.Unit {
	return map[string]report.Unit{"order_queue_peak": report.UnitCount, "orders_preorder_share": report.UnitPercent}
}

// checkoutWatch reads the bundled target's own order queue depth and order
// counts (every shard's /metrics, summed) once a second while a run storms
// it, for the footnotes: how the queue-levelled checkout absorbed the storm
// and how much of what it sold it sold in pre-order mode.
type checkoutWatch struct {
	urls   []string
	client *http.Client
	start  time.Time
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	read        bool          // at least one reading of every shard
	most, last  int64         // the highest queue depth read, and the last
	accepted    int64         // orders accepted, at the last reading
	preorder    int64         // of those, holding pre-ordered units
	mostAt      time.Duration // when the highest was read, since start
	unreachable int           // readings that missed a shard
}

// watchCheckout starts reading the queue depth of the shards at urls every
// interval, from start; end stops it.
func watchCheckout(urls []string, start time.Time, every time.Duration) *checkoutWatch {
	ctx, cancel := context.WithCancel(context.Background())
	w := &checkoutWatch{urls: urls, client: &http.Client{Timeout: every / 2}, start: start, every: every,
		cancel: cancel, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

func (w *checkoutWatch) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.sample(ctx)
	}
}

// sample reads every shard once and keeps the sums.
func (w *checkoutWatch) sample(ctx context.Context) {
	var sum shardReading
	for _, u := range w.urls {
		r, err := w.readShard(ctx, u)
		if err != nil {
			if ctx.Err() == nil { // not a reading cut by close
				w.mu.Lock()
				w.unreachable++
				w.mu.Unlock()
			}
			return
		}
		sum.queue += r.queue
		sum.accepted += r.accepted
		sum.preorder += r.preorder
	}
	at := time.Since(w.start)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.read || sum.queue > w.most {
		w.most, w.mostAt = sum.queue, at
	}
	w.read, w.last = true, sum.queue
	w.accepted, w.preorder = sum.accepted, sum.preorder
}

// shardReading is one shard's figures.
type shardReading struct{ queue, accepted, preorder int64 }

// readShard reads one shard's figures from its /metrics.
func (w *checkoutWatch) readShard(ctx context.Context, base string) (shardReading, error) {
	var r shardReading
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return r, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, fmt.Errorf("%s/metrics: status %d", base, resp.StatusCode)
	}
	fields := map[string]*int64{queueDepthMetric: &r.queue, acceptedMetric: &r.accepted, preorderMetric: &r.preorder}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, "{")
		if name == line { // no labels
			name, rest, _ = strings.Cut(line, " ")
		}
		dst, ok := fields[name]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			return r, fmt.Errorf("%s/metrics: %q: %w", base, line, err)
		}
		*dst = int64(v)
		found++
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	if found < len(fields) {
		return r, fmt.Errorf("%s/metrics: want %s, %s and %s", base, queueDepthMetric, acceptedMetric, preorderMetric)
	}
	return r, nil
}

// close stops the readings; a nil watch has none. It may be called more
// than once.
func (w *checkoutWatch) close() {
	if w == nil {
		return
	}
	w.cancel()
	<-w.done
}

// figures returns what end read as budget figures (checkoutFigureUnits);
// nil when no reading succeeded or w is nil, and no share before an order
// was accepted. The queue's peak is left out when a reading missed a shard:
// the peak may have been in it, and a budget on it then has no data rather
// than a figure lower than the truth. Call it after end.
func (w *checkoutWatch) figures() map[string]float64 {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.read {
		return nil
	}
	f := map[string]float64{}
	if w.unreachable == 0 {
		f["order_queue_peak"] = float64(w.most)
	}
	if w.accepted > 0 {
		f["orders_preorder_share"] = 100 * float64(w.preorder) / float64(w.accepted)
	}
	return f
}

// end stops the readings, takes a last one (the queue at the run's end) and
// returns the footnote, "" when no reading succeeded or w is nil.
func (w *checkoutWatch) end() string {
	if w == nil {
		return ""
	}
	w.close()
	w.sample(context.Background())
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.read {
		return ""
	}
	line := fmt.Sprintf("Checkout: the bundled target's order queue (answered 202, durable, not yet created) peaked at %s orders %s after the start; %s when the run ended",
		commas(int(w.most)), report.FormatDuration(w.mostAt.Round(time.Second)), commas(int(w.last)))
	if w.accepted > 0 {
		line += fmt.Sprintf("; of the %s orders it accepted, %.1f%% hold pre-ordered units", commas(int(w.accepted)), 100*float64(w.preorder)/float64(w.accepted))
	}
	if w.unreachable > 0 {
		line += fmt.Sprintf(" (%d readings missed a shard)", w.unreachable)
	}
	return line + "."
}
