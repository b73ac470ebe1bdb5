// Command longrun measures what a long run costs in memory: it records N
// latencies into one store and prints the process's memory afterwards. The
// stores are our report.Recorder (HDR histograms, rotated like a run rotates
// its intervals), a []float64 of every value (what k6's Trend sink keeps) and
// a slice of k6-like sample structs (time, value, series pointer, tags).
//
//	longrun -store recorder -n 1000000000
//	longrun -store floats -n 100000000
//	longrun -store samples -n 10000000
//
// It prints one line: store n rss_kib peak_rss_kib heap_inuse_bytes seconds p99_ms.
// Run each store in its own process (bench/vs-longrun.sh does) so the RSS is
// the store's alone.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/agentstorm/agentstorm/bench/internal/procstat"
	"github.com/agentstorm/agentstorm/report"
)

// sample has the shape of k6's metrics.Sample: a pointer to its time series
// (metric and tags), the time, the value and a metadata map; 48 bytes.
type sample struct {
	series   *series
	time     time.Time
	value    float64
	metadata map[string]string
}

// series stands for k6's TimeSeries (shared by every sample of one metric
// and tag set).
type series struct{ name string }

// rng is xorshift64*: a cheap, allocation-free source of latencies.
type rng uint64

// latency returns a latency between 0.5 ms and 50.5 ms.
func (r *rng) latency() time.Duration {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return 500*time.Microsecond + time.Duration((x*2685821657736338717)%50_000_000)
}

func main() {
	store := flag.String("store", "recorder", "recorder | floats | samples")
	n := flag.Int64("n", 10_000_000, "latencies to record")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "recording goroutines (recorder only)")
	rotateEvery := flag.Int64("rotate-every", 10_000_000, "recorder: rotate the interval histograms after this many records, as a run does every second")
	flag.Parse()
	if *n <= 0 || *workers <= 0 || *rotateEvery <= 0 {
		fmt.Fprintln(os.Stderr, "longrun: -n, -workers and -rotate-every must be > 0")
		os.Exit(2)
	}
	start := time.Now()
	var p99 float64
	var keep any // the store, kept alive until its memory is read
	switch *store {
	case "recorder":
		p99, keep = runRecorder(*n, *workers, *rotateEvery)
	case "floats":
		p99, keep = runFloats(*n)
	case "samples":
		p99, keep = runSamples(*n)
	default:
		fmt.Fprintf(os.Stderr, "longrun: -store %q: want recorder, floats or samples\n", *store)
		os.Exit(2)
	}
	secs := time.Since(start).Seconds()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err := procstat.StatusKiB(0, "VmRSS")
	if err != nil {
		fmt.Fprintf(os.Stderr, "longrun: %v\n", err)
		os.Exit(1)
	}
	hwm, err := procstat.StatusKiB(0, "VmHWM")
	if err != nil {
		fmt.Fprintf(os.Stderr, "longrun: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s %d %d %d %d %.1f %.3f\n", *store, *n, rss, hwm, ms.HeapInuse, secs, p99)
	runtime.KeepAlive(keep)
}

// runRecorder records n latencies from workers goroutines into one Recorder
// cell, rotating (and releasing) intervals every rotateEvery records.
func runRecorder(n int64, workers int, rotateEvery int64) (float64, any) {
	rec := report.NewRecorder(report.Options{Steps: []string{"add_to_cart"}, Regions: []string{"us-east"}, Model: report.ModelOpen})
	rounds := (n + rotateEvery - 1) / rotateEvery
	left := n
	for round := int64(0); round < rounds; round++ {
		batch := min(rotateEvery, left)
		left -= batch
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			share := batch / int64(workers)
			if w == 0 {
				share += batch % int64(workers)
			}
			wg.Add(1)
			go func(w int, share int64) {
				defer wg.Done()
				r := rng(uint64(round)*1_000_003 + uint64(w)*7_919 + 1)
				for i := int64(0); i < share; i++ {
					rec.Record(w, 0, 0, r.latency(), report.OK, 0)
				}
			}(w, share)
		}
		wg.Wait()
		rec.Release(rec.Rotate(time.Now()))
	}
	s := rec.Summary(time.Second)
	if s.Overall.Count != n {
		fmt.Fprintf(os.Stderr, "longrun: recorder counted %d, want %d\n", s.Overall.Count, n)
		os.Exit(1)
	}
	return float64(s.Overall.Raw.P99) / float64(time.Millisecond), rec
}

// runFloats appends every latency (ms) to a []float64, as k6's Trend sink does.
func runFloats(n int64) (float64, any) {
	var v []float64
	r := rng(1)
	for i := int64(0); i < n; i++ {
		v = append(v, float64(r.latency())/1e6)
	}
	return p99Of(v), v
}

// runSamples appends a k6-like sample struct per latency.
func runSamples(n int64) (float64, any) {
	var v []sample
	s := &series{name: "http_req_duration{step:add_to_cart}"}
	r := rng(1)
	t := time.Now()
	for i := int64(0); i < n; i++ {
		v = append(v, sample{series: s, time: t.Add(time.Duration(i)), value: float64(r.latency()) / 1e6})
	}
	f := make([]float64, 0, 1_000_000)
	for i := int64(0); i < n; i += max(n/1_000_000, 1) {
		f = append(f, v[i].value)
	}
	return p99Of(f), v
}

// p99Of sorts v in place and returns its nearest-rank p99 (what a
// Trend sink does at the end of a test).
func p99Of(v []float64) float64 {
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[min(len(v)-1, len(v)*99/100)]
}
