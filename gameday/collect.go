package gameday

import (
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/tidwall/gjson"

	"github.com/agentstorm/agentstorm/report"
)

// Order is one order id answered 202, as an agent recorded it.
type Order struct {
	ID string `json:"id"`
	// Key is the checkout's Idempotency-Key ("" when the step had none).
	Key string `json:"key,omitempty"`
	// BaseURL is the endpoint that answered (where the order is looked up).
	BaseURL string `json:"base_url"`
	// Region is the agent's region id.
	Region int `json:"region"`
	// At is when it was answered, since the start.
	At time.Duration `json:"-"`
}

// ModeCounts counts add-to-cart answers by mode in one second.
type ModeCounts struct {
	InStock, Preorder, Other, Errors int64
}

// Collector records what the agents saw that the audits need: every order
// id answered 202 (with its idempotency key and endpoint) and the
// add-to-cart answers by mode, per second. Observe is safe for concurrent
// use.
type Collector struct {
	start    time.Time
	cartStep string

	mu     sync.Mutex
	orders map[string]*Order   // by order id
	keys   map[string][]string // idempotency key -> distinct order ids
	modes  []ModeCounts        // per second since start
}

// NewCollector returns a collector for a storm started at start; cartStep
// is the name of the add-to-cart step whose answers' `mode` is counted.
func NewCollector(start time.Time, cartStep string) *Collector {
	return &Collector{start: start, cartStep: cartStep, orders: map[string]*Order{}, keys: map[string][]string{}}
}

// Observe records one attempt of a step: status 0 means no answer. An
// answer 202 with a JSON `order_id` is an accepted order; an answer of the
// add-to-cart step is counted by its `mode` (in_stock, preorder), anything
// else as an error.
func (c *Collector) Observe(step string, region int, baseURL string, status int, body, idemKey []byte) {
	now := time.Since(c.start)
	// A view of body, not a copy: values are compared or copied before
	// they are kept (gjson.GetBytes would copy every result it returns).
	view := unsafe.String(unsafe.SliceData(body), len(body))
	if status == 202 {
		id := gjson.Get(view, "order_id")
		if id.Type == gjson.String && id.Str != "" {
			c.addOrder(id.Str, idemKey, baseURL, region, now)
		}
	}
	if step != c.cartStep {
		return
	}
	sec := int(now / time.Second)
	if sec < 0 {
		return
	}
	kind := 3
	if status == 200 {
		switch gjson.Get(view, "mode").Str {
		case "in_stock":
			kind = 0
		case "preorder":
			kind = 1
		default:
			kind = 2
		}
	}
	c.mu.Lock()
	for len(c.modes) <= sec {
		c.modes = append(c.modes, ModeCounts{})
	}
	m := &c.modes[sec]
	switch kind {
	case 0:
		m.InStock++
	case 1:
		m.Preorder++
	case 2:
		m.Other++
	default:
		m.Errors++
	}
	c.mu.Unlock()
}

// addOrder records an order id answered 202. id and key may be views of
// the answer's buffers: they are copied before they are kept.
func (c *Collector) addOrder(id string, key []byte, baseURL string, region int, at time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.orders[id]
	if o == nil {
		o = &Order{ID: strings.Clone(id), Key: string(key), BaseURL: baseURL, Region: region, At: at}
		c.orders[o.ID] = o
	}
	if len(key) == 0 {
		return
	}
	ids := c.keys[string(key)]
	if !slices.Contains(ids, id) {
		c.keys[string(key)] = append(ids, o.ID)
	}
}

// Orders returns every distinct order id recorded.
func (c *Collector) Orders() []Order {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Order, 0, len(c.orders))
	for _, o := range c.orders {
		out = append(out, *o)
	}
	return out
}

// DuplicateKeys returns the idempotency keys that were answered with more
// than one order id, with those ids.
func (c *Collector) DuplicateKeys() map[string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for k, ids := range c.keys {
		if len(ids) > 1 {
			out[k] = append([]string(nil), ids...)
		}
	}
	return out
}

// Modes returns the add-to-cart answers by mode, per second since start.
func (c *Collector) Modes() []ModeCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ModeCounts(nil), c.modes...)
}

// RegionSecond is one region's answers in one second.
type RegionSecond struct {
	Count, Errors int64
	// Latency is the second's latency histogram (µs) over every step; nil
	// when there were no answers.
	Latency *hdr.PackedHistogram
	// Sessions are the sessions that ended (and the sales made) in the
	// second, every step.
	Sessions report.Sessions
}

// Timeline keeps per-second, per-region counts and latency histograms from
// the recorder's intervals (the input of blast radius and recovery). Add is
// called from one goroutine (the interval callback); read it after the run.
type Timeline struct {
	start    time.Time
	regions  []string
	secs     [][]RegionSecond // [second][region]
	sessions bool             // some second has sessions or sales
}

// NewTimeline returns an empty timeline for a storm started at start.
func NewTimeline(start time.Time, regions []string) *Timeline {
	return &Timeline{start: start, regions: append([]string(nil), regions...)}
}

// Regions returns the region names, by id.
func (t *Timeline) Regions() []string { return t.regions }

// Add folds one interval in (by the second its start falls in); the
// interval may be released afterwards.
func (t *Timeline) Add(iv *report.Interval) {
	sec := int(iv.Start.Sub(t.start) / time.Second)
	if iv.Start.Sub(t.start) < 0 || sec < 0 {
		sec = 0
	}
	for len(t.secs) <= sec {
		t.secs = append(t.secs, make([]RegionSecond, len(t.regions)))
	}
	row := t.secs[sec]
	for i := range iv.Cells {
		ci := &iv.Cells[i]
		if ci.Region < 0 || ci.Region >= len(row) {
			continue
		}
		rs := &row[ci.Region]
		var n int64
		for _, v := range ci.Counts {
			n += v
		}
		rs.Count += n
		rs.Errors += n - ci.Counts[report.OK]
		if !ci.Sessions.IsZero() {
			rs.Sessions.Add(&ci.Sessions)
			t.sessions = true
		}
		if ci.Latency != nil && ci.Latency.TotalCount() > 0 {
			if rs.Latency == nil {
				rs.Latency = ci.Latency.Clone()
			} else {
				rs.Latency.Merge(ci.Latency)
			}
		}
	}
}

// Seconds returns how many seconds the timeline covers.
func (t *Timeline) Seconds() int { return len(t.secs) }

// Window sums region's seconds [from, to) (region -1: every region) into
// counts and a merged histogram.
func (t *Timeline) Window(region, from, to int) (count, errors int64, lat *hdr.PackedHistogram) {
	from = max(from, 0)
	to = min(to, len(t.secs))
	for s := from; s < to; s++ {
		for r := range t.secs[s] {
			if region >= 0 && r != region {
				continue
			}
			rs := &t.secs[s][r]
			count += rs.Count
			errors += rs.Errors
			if rs.Latency != nil {
				if lat == nil {
					lat = rs.Latency.Clone()
				} else {
					lat.Merge(rs.Latency)
				}
			}
		}
	}
	return count, errors, lat
}
