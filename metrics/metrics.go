// Package metrics serves a storm's measurements to Prometheus while it runs,
// so that the processes of one storm (worker processes, Kubernetes pods)
// can be scraped and shown together live, e.g. in Grafana, by an engine
// built for it.
//
// Latency is exported as one histogram, agentstorm_request_duration_seconds
// (labelled step and region), carried two ways at once:
//
//   - as a native histogram (schema 3, buckets about 9% wide), which a
//     Prometheus with native histograms enabled scrapes in the protobuf
//     format and merges across processes without loss of shape;
//   - as classic buckets (le = Buckets, 1 ms … 60 s, dense around 100 ms,
//     with a bound at exactly 0.1 s), in every exposition format, for
//     Prometheus without native histograms, VictoriaMetrics, Datadog and
//     anything else that reads the text format.
//
// A Grafana panel computes the whole storm's p99 with
//
//	histogram_quantile(0.99, sum by (step, le) (rate(agentstorm_request_duration_seconds_bucket[1m])))
//
// (classic) or the same over agentstorm_request_duration_seconds without
// "_bucket" and "le" (native), and the share within 100 ms, the same
// figure as the run's compliance, from the bucket le="0.1" over _count.
//
// In the closed model, the latency corrected for coordinated omission is
// exported the same way as agentstorm_request_duration_corrected_seconds
// (only for cells with a correction); the run judges the less flattering
// of the two figures, and so does the dashboard.
//
// Alongside: agentstorm_requests_total{step,region,outcome},
// agentstorm_errors_total{step,region}, agentstorm_dropped_sessions_total,
// agentstorm_agents_active, agentstorm_connections_open,
// agentstorm_dials_total, agentstorm_dial_errors_total, and for a game day
// agentstorm_chaos_action_time_seconds (see ChaosAction).
//
// Session outcomes (agents with patience, flows with a sale step; see
// report.Sessions): agentstorm_sessions_total{step,region,outcome,reason}
// counts the sessions that ended, in the cell where they ended, by outcome
// (completed, abandoned, failed) and, for abandoned ones, reason (slow,
// error, timeout; empty otherwise); agentstorm_sales_total{step,region}
// the sale steps answered OK, agentstorm_sales_value_total{step,region}
// their value in the profile's minor currency unit (cents), and
// agentstorm_lost_sales_total{step,region} the abandoned sessions that had
// not made their sale. The abandoned share of the sessions is
//
//	sum(rate(agentstorm_sessions_total{outcome="abandoned"}[1m])) / sum(rate(agentstorm_sessions_total[1m]))
//
// Each of these series appears with its first count, so a storm without
// sessions exports what it always did.
//
// deploy/k8s/grafana-dashboard.json is a dashboard of these metrics for a
// live storm; its queries are tested against what this package exports.
//
// Metrics are fed from the recorder's interval histograms (once a second),
// not per answer, so the recording path of the agents stays as it is: no
// allocation and no extra atomic per request.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentstorm/agentstorm/report"
)

// Snapshot are the counters of a storm process that are not in an
// interval: cumulative dials, and gauges.
type Snapshot struct {
	// Active is the agents running (closed model) or in a session (open).
	Active int64
	// Connected is the connections open now.
	Connected int64
	// Dials and DialErrors are cumulative connection attempts and failures.
	Dials, DialErrors int64
}

// Buckets are the classic buckets' upper bounds, in seconds. The bound at
// exactly 0.1 s makes the share within 100 ms exact: every latency is
// observed at the lowest value its HDR bucket holds, so the le="0.1" bucket
// counts what report.CountAtOrBelow(h, report.ComplianceLimit) counts (HDR
// equivalence: values up to 100.031 ms are within 100 ms), and the same
// holds at every other bound. The bounds are 10 ms apart from 10 ms to
// 100 ms and 25–50 ms apart up to 300 ms, so a p99 near the limit is
// read to within a few milliseconds; they reach the recorder's 60 s.
var Buckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1,
	0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60,
}

// Metrics holds a storm process's Prometheus metrics. Observe is meant to
// be called from one goroutine (the one that rotates the recorder); the
// HTTP handler may scrape at any time.
type Metrics struct {
	reg *prometheus.Registry

	steps, regions []string              // given to New: the cells' labels
	latency        []prometheus.Observer // per cell: step*regions+region
	correctedVec   *prometheus.HistogramVec
	corrected      []prometheus.Observer // per cell; nil until it has a corrected figure
	requests       [][report.NumOutcomes]prometheus.Counter
	errs           []prometheus.Counter
	dropped        []prometheus.Counter
	sessions       sessionVecs
	cellSessions   []*cellSessions // per cell; nil until it ends a session or makes a sale

	chaos *prometheus.GaugeVec

	active, connected  prometheus.Gauge
	dials, dialErrors  prometheus.Counter
	lastDials, lastErr int64
}

// New returns the metrics of a storm with these steps and regions.
// constLabels are added to every series (e.g. {"segment": "0/4"}); nil for
// none.
func New(steps, regions []string, constLabels map[string]string) *Metrics {
	reg := prometheus.NewRegistry()
	cl := prometheus.Labels(constLabels)
	latencyOpts := func(name, help string) prometheus.HistogramOpts {
		return prometheus.HistogramOpts{
			Name: name, Help: help, ConstLabels: cl,
			Buckets: Buckets,
			// Factor 1.1 is native schema 3 (buckets about 9% wide).
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  256,
			NativeHistogramMinResetDuration: time.Hour,
		}
	}
	lat := prometheus.NewHistogramVec(latencyOpts("agentstorm_request_duration_seconds",
		"Latency of the storm's requests (from the intended start in the open model); classic buckets and a native histogram."),
		[]string{"step", "region"})
	req := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentstorm_requests_total", Help: "Requests by outcome class (ok, bad_status, timeout, conn_refused, ...).", ConstLabels: cl,
	}, []string{"step", "region", "outcome"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentstorm_errors_total", Help: "Requests whose outcome is not ok.", ConstLabels: cl,
	}, []string{"step", "region"})
	drop := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "agentstorm_dropped_sessions_total", Help: "Open-model sessions due to start that found no idle agent.", ConstLabels: cl,
	}, []string{"step", "region"})
	m := &Metrics{
		reg:     reg,
		steps:   append([]string(nil), steps...),
		regions: append([]string(nil), regions...),
		correctedVec: prometheus.NewHistogramVec(latencyOpts("agentstorm_request_duration_corrected_seconds",
			"Closed model: latency corrected for coordinated omission (HdrHistogram's correction by the expected interval); only where there is a correction."),
			[]string{"step", "region"}),
		chaos: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "agentstorm_chaos_action_time_seconds", ConstLabels: cl,
			Help: "When each chaos action of a game day ran (Unix time), one series per action: Grafana annotations with the value as their time.",
		}, []string{"action", "name", "region", "at", "outcome"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentstorm_agents_active", Help: "Agents running (closed model) or in a session (open model).", ConstLabels: cl}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentstorm_connections_open", Help: "Connections to the target open now.", ConstLabels: cl}),
		dials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentstorm_dials_total", Help: "Connection attempts.", ConstLabels: cl}),
		dialErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentstorm_dial_errors_total", Help: "Connection attempts that failed.", ConstLabels: cl}),
	}
	m.sessions = newSessionVecs(cl)
	reg.MustRegister(lat, m.correctedVec, req, errs, drop, m.chaos, m.active, m.connected, m.dials, m.dialErrors,
		m.sessions.ended, m.sessions.sales, m.sessions.value, m.sessions.lost)
	for _, s := range steps {
		for _, r := range regions {
			m.latency = append(m.latency, lat.WithLabelValues(s, r))
			var byOutcome [report.NumOutcomes]prometheus.Counter
			for o := range byOutcome {
				byOutcome[o] = req.WithLabelValues(s, r, report.Outcome(o).String())
			}
			m.requests = append(m.requests, byOutcome)
			m.errs = append(m.errs, errs.WithLabelValues(s, r))
			m.dropped = append(m.dropped, drop.WithLabelValues(s, r))
		}
	}
	m.corrected = make([]prometheus.Observer, len(m.latency))
	m.cellSessions = make([]*cellSessions, len(m.latency))
	return m
}

// Registry returns the registry holding the metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe adds one interval's counts and latencies and sets the gauges
// from st. Each latency value of the interval's HDR histograms is observed
// at its bucket's value, the lowest value equivalent to it (HDR precision,
// 0.1%, is finer than the native histogram's; see Buckets for why the
// lowest). The closed model's corrected figure goes to
// agentstorm_request_duration_corrected_seconds, whose series appear with
// the first correction: the run judges the less flattering of raw and
// corrected, and a dashboard can too. Cells of steps or regions beyond
// those given to New (a recorder grown since) are ignored.
func (m *Metrics) Observe(iv *report.Interval, st Snapshot) {
	if iv != nil {
		for ci := range iv.Cells {
			c := &iv.Cells[ci]
			if c.Region >= len(m.regions) {
				continue
			}
			i := c.Step*len(m.regions) + c.Region
			if i >= len(m.latency) {
				continue
			}
			var errs int64
			for o, n := range c.Counts {
				if n > 0 {
					m.requests[i][o].Add(float64(n))
					if o != int(report.OK) {
						errs += n
					}
				}
			}
			if errs > 0 {
				m.errs[i].Add(float64(errs))
			}
			if c.Dropped > 0 {
				m.dropped[i].Add(float64(c.Dropped))
			}
			if !c.Sessions.IsZero() {
				m.observeSessions(i, c)
			}
			observeHDR(m.latency[i], c.Latency)
			if c.Corrected != nil {
				if m.corrected[i] == nil {
					m.corrected[i] = m.correctedVec.WithLabelValues(m.steps[c.Step], m.regions[c.Region])
				}
				observeHDR(m.corrected[i], c.Corrected)
			}
		}
	}
	m.active.Set(float64(st.Active))
	m.connected.Set(float64(st.Connected))
	if d := st.Dials - m.lastDials; d > 0 {
		m.dials.Add(float64(d))
		m.lastDials = st.Dials
	}
	if d := st.DialErrors - m.lastErr; d > 0 {
		m.dialErrors.Add(float64(d))
		m.lastErr = st.DialErrors
	}
}

// observeHDR observes every value of h (µs; nil for none) in seconds, at
// its HDR bucket's lowest value.
func observeHDR(obs prometheus.Observer, h *hdr.PackedHistogram) {
	if h == nil {
		return
	}
	h.ForEachBucket(func(us, n int64) bool {
		v := float64(us) / 1e6
		for ; n > 0; n-- {
			obs.Observe(v)
		}
		return true
	})
}

// ChaosAction records a game day's chaos action (or its automatic undo)
// that ran at wall time when, at since the storm's start: action is its
// kind (kill_shard, ...), name its description ("kill_shard shard 1"),
// regions those it hit (none: all), failed whether it failed. Each action
// is its own series (labelled with at, in whole seconds), its value the
// Unix time it ran, so a dashboard marks every one on the time axis. It
// is safe to call from any goroutine.
func (m *Metrics) ChaosAction(when time.Time, at time.Duration, action, name string, regions []string, failed bool) {
	region, outcome := strings.Join(regions, ","), "ok"
	if region == "" {
		region = "all"
	}
	if failed {
		outcome = "failed"
	}
	sec := strconv.FormatFloat(at.Seconds(), 'f', 0, 64) + "s"
	m.chaos.WithLabelValues(action, name, region, sec, outcome).Set(float64(when.UnixMilli()) / 1e3)
}

// Handler returns the HTTP handler serving the metrics (text and protobuf
// exposition; the classic buckets are in both, the native histogram only in
// the protobuf format, which Prometheus asks for when native histograms are
// enabled).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Serve listens on addr (host:port; port 0 picks one) and serves the
// metrics at /metrics until ctx is done. It returns the address it listens
// on once listening, and a channel that yields the server's error (nil
// after a clean stop) when it has stopped.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr().String(), done, nil
}
