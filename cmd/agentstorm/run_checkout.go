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

// queueDepthMetric is the bundled target's gauge of orders accepted (durable)
// and not yet created, one per shard.
const queueDepthMetric = "agentstorm_target_order_queue_depth"

// checkoutWatch reads the bundled target's own order queue depth (every
// shard's /metrics, summed) once a second while a run storms it, for the
// footnotes: how the queue-levelled checkout absorbed the storm.
type checkoutWatch struct {
	urls   []string
	client *http.Client
	start  time.Time
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	read        bool          // at least one reading of every shard
	most, last  int64         // the highest sum read, and the last
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

// sample reads every shard once and keeps the sum.
func (w *checkoutWatch) sample(ctx context.Context) {
	var sum int64
	for _, u := range w.urls {
		n, err := w.queueDepth(ctx, u)
		if err != nil {
			w.mu.Lock()
			w.unreachable++
			w.mu.Unlock()
			return
		}
		sum += n
	}
	at := time.Since(w.start)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.read || sum > w.most {
		w.most, w.mostAt = sum, at
	}
	w.read, w.last = true, sum
}

// queueDepth reads one shard's gauge.
func (w *checkoutWatch) queueDepth(ctx context.Context, base string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s/metrics: status %d", base, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, queueDepthMetric) {
			continue
		}
		rest := line[len(queueDepthMetric):]
		if rest != "" && rest[0] != '{' && rest[0] != ' ' {
			continue // another metric with this name as its prefix
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s/metrics: %q: %w", base, line, err)
		}
		return int64(v), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s/metrics: no %s", base, queueDepthMetric)
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
	if w.unreachable > 0 {
		line += fmt.Sprintf(" (%d readings missed a shard)", w.unreachable)
	}
	return line + "."
}
