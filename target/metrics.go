package target

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// route identifies a handler for metrics.
type route int

const (
	routeUnknown route = iota
	routeCreateCart
	routeGetCart
	routeAddItem
	routeRemoveItem
	routeCheckout
	routeInventory
	routeQuotes
	routeOrder
	routeHealthz
	routeMetrics
	routeChaos
	numRoutes
)

var routeNames = [numRoutes]string{
	"unknown", "create_cart", "get_cart", "add_item", "remove_item", "checkout",
	"inventory", "shipping_quotes", "order_status", "healthz", "metrics", "chaos",
}

var classNames = [6]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

// shardMetrics holds the shard's Prometheus registry. Request counters are resolved per
// route and status class up front so counting a request is one atomic add.
type shardMetrics struct {
	reg      *prometheus.Registry
	requests [numRoutes][6]prometheus.Counter
	handler  fasthttp.RequestHandler
}

func newShardMetrics(s *Shard) *shardMetrics {
	m := &shardMetrics{reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"shard": strconv.Itoa(s.cfg.ID), "region": s.cfg.Region}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentstorm_target_requests_total", Help: "HTTP requests answered, by route and status class.",
		ConstLabels: labels,
	}, []string{"route", "code"})
	for r := range m.requests {
		for c := range m.requests[r] {
			m.requests[r][c] = reqs.WithLabelValues(routeNames[r], classNames[c])
		}
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	m.reg.MustRegister(reqs,
		gauge("agentstorm_target_order_queue_depth", "Orders accepted (durable) and not yet created.",
			func() float64 { return float64(s.store.queued.Load()) }),
		counter("agentstorm_target_orders_accepted_total", "Orders accepted with 202 since start (durable before the answer).",
			func() float64 { return float64(s.store.accepted.Load()) }),
		counter("agentstorm_target_orders_preorder_total", "Of the orders accepted, those holding pre-ordered units (inventory short or degraded).",
			func() float64 { return float64(s.store.preorder.Load()) }),
		counter("agentstorm_target_orders_created_total", "Orders created by the worker since start.",
			func() float64 { return float64(s.store.created.Load()) }),
		counter("agentstorm_target_orders_rejected_total", "Orders the worker rejected (purchase limit) since start.",
			func() float64 { return float64(s.store.rejected.Load()) }),
		counter("agentstorm_target_order_commits_total", "Group commits of checkouts: appends to the order log, each made durable by one fdatasync.",
			func() float64 { return float64(s.store.batches.Load()) }),
		gauge("agentstorm_target_inventory_failed", "1 while inventory is failed by chaos.",
			func() float64 { return b2f(s.chaos.Load().state.InventoryFailed) }),
		gauge("agentstorm_target_orders_paused", "1 while the order worker is paused by chaos.",
			func() float64 { return b2f(s.chaos.Load().state.OrdersPaused) }),
		gauge("agentstorm_target_latency_rules", "Chaos latency rules in force.",
			func() float64 { return float64(len(s.chaos.Load().rules)) }),
		gauge("agentstorm_target_open_connections", "Client connections open now.",
			func() float64 { return float64(s.stats().open.Load()) }),
		counter("agentstorm_target_connections_refused_total", "Connections refused with 503 over the connection cap.",
			func() float64 { return float64(s.stats().refused.Load()) }),
		counter("agentstorm_target_accept_retries_total", "Accept errors (such as EMFILE) waited out.",
			func() float64 { return float64(s.stats().retries.Load()) }),
		gauge("agentstorm_target_skus", "SKUs in the shard's inventory.",
			func() float64 { return float64(s.inv.count.Load()) }),
	)
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return m
}

// count records one answered request.
func (m *shardMetrics) count(r route, status int) {
	c := status/100 - 1
	if c < 0 || c > 4 {
		c = 5
	}
	m.requests[r][c].Inc()
}
