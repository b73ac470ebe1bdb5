package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// Remote write is the push path for storms whose processes may end before
// a scrape (the pods of a short Kubernetes Job): the Prometheus
// remote-write 1.0 protocol (a snappy-compressed protobuf WriteRequest
// POSTed to the receiver), which Prometheus (--web.enable-remote-write-receiver),
// Grafana Mimir and Cloud, Cortex, Thanos Receive and VictoriaMetrics
// accept. What is pushed is what a scrape of the same Metrics reads in the
// text format: the counters, the gauges and the latency's classic buckets
// (_bucket{le}, _sum, _count), so the same queries and dashboard serve both
// paths. The native histogram is not pushed: remote write 1.0 carries it
// only to receivers that enabled it, and the classic buckets hold the
// compliance exactly.
//
// The protocol's four messages are encoded here with protowire rather than
// by importing Prometheus' own prompb package, which would bring the whole
// Prometheus server module into the build for four messages.

// PushOptions configure a Pusher.
type PushOptions struct {
	// Every is the time between pushes (default 5 s). A push carries the
	// cumulative counters, so a failed push loses no count: the next one
	// brings it.
	Every time.Duration
	// Job and Instance are added to every series as a scrape would add
	// them (defaults "agentstorm" and the host name, which is the pod's
	// name in Kubernetes), so the series of each process stay apart.
	Job, Instance string
	// Client sends the pushes (default: a client with a 10 s timeout). The
	// URL's user:password, if any, is sent as basic authentication.
	Client *http.Client
}

// Pusher pushes a Metrics' series to a remote-write receiver every
// PushOptions.Every until Close, which pushes the final state once more.
type Pusher struct {
	url    string
	gather prometheus.Gatherer
	o      PushOptions
	extra  [][2]string // job, instance
	stop   chan struct{}
	done   chan struct{}

	mu             sync.Mutex // guards the counters below and the buffers
	pushes, failed int
	lastErr        error
	pb, series     []byte
}

// PushTo starts pushing m's metrics to the remote-write URL (http or
// https). It returns an error for a URL that is not one.
func (m *Metrics) PushTo(rawURL string, o PushOptions) (*Pusher, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("metrics: remote write URL %q: want http(s)://HOST[:PORT]/PATH, such as http://prometheus:9090/api/v1/write", redactURL(rawURL))
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	if o.Job == "" {
		o.Job = "agentstorm"
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	p := &Pusher{url: rawURL, gather: m.reg, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	p.extra = append(p.extra, [2]string{"instance", o.Instance}, [2]string{"job", o.Job})
	go p.loop()
	return p, nil
}

func (p *Pusher) loop() {
	defer close(p.done)
	t := time.NewTicker(p.o.Every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), p.o.Every)
			_ = p.Push(ctx)
			cancel()
		}
	}
}

// Push pushes the current state once.
func (p *Pusher) Push(ctx context.Context) error {
	fams, err := p.gather.Gather()
	if err != nil {
		return p.count(fmt.Errorf("metrics: remote write: gather: %w", err))
	}
	p.mu.Lock()
	p.pb = p.appendWriteRequest(p.pb[:0], fams, time.Now().UnixMilli())
	body := snappy.Encode(nil, p.pb)
	p.mu.Unlock()
	return p.count(p.post(ctx, body))
}

// count records a push's outcome and returns err.
func (p *Pusher) count(err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushes++
	if err != nil {
		p.failed++
		p.lastErr = err
	}
	return err
}

func (p *Pusher) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("metrics: remote write to %s: %w", redactURL(p.url), err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "agentstorm")
	resp, err := p.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("metrics: remote write to %s: %w", redactURL(p.url), stripURL(err))
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &pushError{status: resp.StatusCode, msg: fmt.Sprintf("metrics: remote write to %s: %s: %s", redactURL(p.url), resp.Status, bytes.TrimSpace(msg))}
	}
	return nil
}

// pushError is a receiver's refusal; 5xx and 429 are worth a retry.
type pushError struct {
	status int
	msg    string
}

func (e *pushError) Error() string { return e.msg }

func retryable(err error) bool {
	var pe *pushError
	if errors.As(err, &pe) {
		return pe.status/100 == 5 || pe.status == http.StatusTooManyRequests
	}
	return err != nil
}

// Close stops the periodic pushes and pushes the final state, retrying a
// refusal worth retrying (5xx, 429, no connection) until ctx is done. It
// returns nil when the final push landed, else an error that says how many
// pushes failed and the last failure.
func (p *Pusher) Close(ctx context.Context) error {
	close(p.stop)
	<-p.done
	err := p.Push(ctx)
	for wait := 250 * time.Millisecond; retryable(err); wait *= 2 {
		select {
		case <-ctx.Done():
			return p.failure()
		case <-time.After(wait):
		}
		err = p.Push(ctx)
	}
	if err != nil {
		return p.failure()
	}
	return nil
}

func (p *Pusher) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Errorf("%d of %d pushes failed, the final one too; last: %w", p.failed, p.pushes, p.lastErr)
}

// redactURL hides a URL's password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// stripURL returns a *url.Error's inner error: its text would repeat the
// URL with its password.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// appendWriteRequest appends a remote-write 1.0 WriteRequest holding every
// series of fams at timestamp ts (Unix ms) to b.
//
//	WriteRequest { repeated TimeSeries timeseries = 1; }
//	TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
//	Label        { string name = 1; string value = 2; }
//	Sample       { double value = 1; int64 timestamp = 2; }
func (p *Pusher) appendWriteRequest(b []byte, fams []*dto.MetricFamily, ts int64) []byte {
	var labels [][2]string
	add := func(name string, m *dto.Metric, le string, v float64) {
		labels = append(labels[:0], [2]string{"__name__", name})
		labels = append(labels, p.extra...)
		for _, l := range m.GetLabel() {
			labels = setLabel(labels, l.GetName(), l.GetValue())
		}
		if le != "" {
			labels = append(labels, [2]string{"le", le})
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
		s := p.series[:0]
		for _, l := range labels {
			if l[1] == "" { // an empty value is no label
				continue
			}
			lb := protowire.AppendTag(nil, 1, protowire.BytesType)
			lb = protowire.AppendString(lb, l[0])
			lb = protowire.AppendTag(lb, 2, protowire.BytesType)
			lb = protowire.AppendString(lb, l[1])
			s = protowire.AppendTag(s, 1, protowire.BytesType)
			s = protowire.AppendBytes(s, lb)
		}
		var sb []byte
		sb = protowire.AppendTag(sb, 1, protowire.Fixed64Type)
		sb = protowire.AppendFixed64(sb, math.Float64bits(v))
		sb = protowire.AppendTag(sb, 2, protowire.VarintType)
		sb = protowire.AppendVarint(sb, uint64(ts))
		s = protowire.AppendTag(s, 2, protowire.BytesType)
		s = protowire.AppendBytes(s, sb)
		p.series = s
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	for _, f := range fams {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m, "", m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m, "", m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m, "", m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, bk := range h.GetBucket() {
					if !math.IsInf(bk.GetUpperBound(), 1) {
						add(name+"_bucket", m, formatLe(bk.GetUpperBound()), float64(bk.GetCumulativeCount()))
					}
				}
				add(name+"_bucket", m, "+Inf", float64(h.GetSampleCount()))
				add(name+"_sum", m, "", h.GetSampleSum())
				add(name+"_count", m, "", float64(h.GetSampleCount()))
			}
		}
	}
	return b
}

// setLabel sets name to value in labels, replacing one of the same name.
func setLabel(labels [][2]string, name, value string) [][2]string {
	for i := range labels {
		if labels[i][0] == name {
			labels[i][1] = value
			return labels
		}
	}
	return append(labels, [2]string{name, value})
}

// formatLe writes a bucket bound as the text exposition does.
func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
