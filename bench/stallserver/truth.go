package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// truth is what the server's log says about one run.
type truth struct {
	Count      int     // logged requests
	Overflow   int64   // requests not logged (log full)
	WindowS    float64 // first to last arrival, seconds
	StallFrom  float64 // stall start, seconds past the first arrival (-1: none in the log)
	StallTo    float64
	InStall    int       // requests that arrived during the stall
	Service    quantiles // answer - arrival of every logged request
	Rate       float64   // the constant-rate schedule of the truth, per second
	Scheduled  int       // sends in that schedule
	True       quantiles // answer of the stand-in request - intended send time
	ArrivalRPS float64   // logged requests per second of window
}

// quantiles are latency percentiles in milliseconds.
type quantiles struct{ P50, P90, P99, P999, Max float64 }

// computeTruth turns a log into the true latency distribution of a client
// that sends at a constant rate over the run, as wrk2 and the open model
// define latency: from the intended send time to the answer.
//
// The schedule is t_i = A0 + i/rate for every t_i from the first logged
// arrival A0 to the last. The request the server received first at or after
// t_i stands in for the one a client would have sent at t_i: its answer time
// E_j is when that send would have been answered, and the true latency of
// t_i is E_j - t_i. While the server is stalled, every request that arrives,
// and the first one after a closed client sent nothing, is answered only when
// the stall ends, so the stall's waiting time is in the truth whatever the
// client did. Outside the stall the stand-in adds at most the gap to the next
// arrival (microseconds for a busy closed client, 1/rate for an open one).
// stallStart and stallEnd are in the log's time base (0: no stall).
func computeTruth(log []entry, rate float64, stallStart, stallEnd int64) truth {
	t := truth{Count: len(log), Rate: rate, StallFrom: -1, StallTo: -1}
	if len(log) == 0 {
		return t
	}
	sorted := append([]entry(nil), log...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].arrive < sorted[b].arrive })
	a0, a1 := sorted[0].arrive, sorted[len(sorted)-1].arrive
	t.WindowS = float64(a1-a0) / 1e9
	if t.WindowS > 0 {
		t.ArrivalRPS = float64(len(sorted)) / t.WindowS
	}
	if stallStart != 0 {
		t.StallFrom = float64(stallStart-a0) / 1e9
		t.StallTo = float64(stallEnd-a0) / 1e9
	}
	svc := make([]float64, len(sorted))
	for i, e := range sorted {
		svc[i] = float64(e.answer-e.arrive) / 1e6
		if stallStart != 0 && e.arrive >= stallStart && e.arrive < stallEnd {
			t.InStall++
		}
	}
	t.Service = quantilesOf(svc)

	step := 1e9 / rate
	n := int(float64(a1-a0)/step) + 1
	lat := make([]float64, 0, n)
	j := 0
	for i := 0; i < n; i++ {
		ti := a0 + int64(float64(i)*step)
		for j < len(sorted) && sorted[j].arrive < ti {
			j++
		}
		if j == len(sorted) {
			break
		}
		lat = append(lat, float64(sorted[j].answer-ti)/1e6)
	}
	t.Scheduled = len(lat)
	t.True = quantilesOf(lat)
	return t
}

// quantilesOf sorts v and returns its nearest-rank percentiles.
func quantilesOf(v []float64) quantiles {
	if len(v) == 0 {
		return quantiles{}
	}
	sort.Float64s(v)
	at := func(q float64) float64 {
		k := int(math.Ceil(q*float64(len(v)))) - 1
		return v[min(max(k, 0), len(v)-1)]
	}
	return quantiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), P999: at(0.999), Max: v[len(v)-1]}
}

// write prints the figures as "key value" lines (milliseconds, seconds).
func (t truth) write(w io.Writer) {
	fmt.Fprintf(w, "count %d\noverflow %d\nwindow_s %.3f\narrival_rps %.0f\n", t.Count, t.Overflow, t.WindowS, t.ArrivalRPS)
	fmt.Fprintf(w, "stall_from_s %.3f\nstall_to_s %.3f\nin_stall %d\n", t.StallFrom, t.StallTo, t.InStall)
	fmt.Fprintf(w, "service_p50_ms %.3f\nservice_p90_ms %.3f\nservice_p99_ms %.3f\nservice_p999_ms %.3f\nservice_max_ms %.3f\n",
		t.Service.P50, t.Service.P90, t.Service.P99, t.Service.P999, t.Service.Max)
	fmt.Fprintf(w, "rate %.0f\nscheduled %d\n", t.Rate, t.Scheduled)
	fmt.Fprintf(w, "true_p50_ms %.3f\ntrue_p90_ms %.3f\ntrue_p99_ms %.3f\ntrue_p999_ms %.3f\ntrue_max_ms %.3f\n",
		t.True.P50, t.True.P90, t.True.P99, t.True.P999, t.True.Max)
}

// writeCSV writes the log as arrival_ns,answer_ns since the first arrival.
func writeCSV(path string, log []entry) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	bw := bufio.NewWriter(f)
	var a0 int64
	for i, e := range log {
		if i == 0 || e.arrive < a0 {
			a0 = e.arrive
		}
	}
	fmt.Fprintln(bw, "arrival_ns,answer_ns")
	for _, e := range log {
		fmt.Fprintf(bw, "%d,%d\n", e.arrive-a0, e.answer-a0)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("dump %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dump %s: %w", path, err)
	}
	return nil
}
