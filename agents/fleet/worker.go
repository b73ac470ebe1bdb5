package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/hlog"
)

// Exit codes of a worker.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Worker is what one worker process runs: a segment of a storm, from a
// shared start, against a target. Its Args are the worker's command line
// (after the executable and its subcommand) and RunWorkerMain parses them.
type Worker struct {
	// Segment is the worker's share of the agents.
	Segment agents.Segment
	// Start is the storm's time zero (zero: when the worker starts).
	Start time.Time
	// Profile is a built-in profile's name or a profile file.
	Profile string
	// Seed seeds the agents' choices (the storm's, the same in every worker).
	Seed uint64
	// Overrides change the profile's workload.
	Overrides profiles.Overrides
	// Timeout replaces every step's request timeout when above 0.
	Timeout time.Duration
	// Insecure skips TLS verification.
	Insecure bool
	// TLS replaces the profile's target.tls field by field.
	TLS profiles.TLS
	// MaxBodySize and MaxHeaderSize are the answer caps in bytes (0: the
	// defaults; see agents.Config).
	MaxBodySize, MaxHeaderSize int
	// SourceAddrs are the local addresses to dial from.
	SourceAddrs []string
	// Target is the base URL of every request, or "" for RegionURLs or
	// the profile's.
	Target string
	// RegionURLs are the base URLs serving each region.
	RegionURLs map[string][]string
}

// Args returns w as a worker's command line.
func (w Worker) Args() []string {
	args := []string{"--segment", w.Segment.String(), "--profile", w.Profile, "--seed", strconv.FormatUint(w.Seed, 10)}
	if !w.Start.IsZero() {
		args = append(args, "--start-at", w.Start.UTC().Format(time.RFC3339Nano))
	}
	o := w.Overrides
	if o.Agents > 0 {
		args = append(args, "--agents="+strconv.Itoa(o.Agents))
	}
	if o.Duration > 0 {
		args = append(args, "--duration="+o.Duration.String())
	}
	if o.Ramp != nil {
		args = append(args, "--ramp="+o.Ramp.String())
	}
	if o.Think != nil {
		args = append(args, "--think="+o.Think.String())
	}
	if w.Timeout > 0 {
		args = append(args, "--timeout="+w.Timeout.String())
	}
	if w.Insecure {
		args = append(args, "--insecure")
	}
	for _, f := range []struct{ name, v string }{{"ca-file", w.TLS.CAFile}, {"client-cert", w.TLS.ClientCert},
		{"client-key", w.TLS.ClientKey}, {"tls-server-name", w.TLS.ServerName}, {"tls-min-version", w.TLS.MinVersion}} {
		if f.v != "" {
			args = append(args, "--"+f.name+"="+f.v)
		}
	}
	if w.MaxBodySize > 0 {
		args = append(args, "--max-body-size="+strconv.Itoa(w.MaxBodySize))
	}
	if w.MaxHeaderSize > 0 {
		args = append(args, "--max-header-size="+strconv.Itoa(w.MaxHeaderSize))
	}
	if len(w.SourceAddrs) > 0 {
		args = append(args, "--source-addr="+strings.Join(w.SourceAddrs, ","))
	}
	if w.Target != "" {
		args = append(args, "--target", w.Target)
	}
	regions := make([]string, 0, len(w.RegionURLs))
	for r := range w.RegionURLs {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		for _, u := range w.RegionURLs[r] {
			args = append(args, "--region-url", r+"="+u)
		}
	}
	return args
}

// parseWorker parses a worker's command line (Args).
func parseWorker(args []string) (Worker, error) {
	var w Worker
	var segment, startAt string
	var regionURLs []string
	var ramp, think time.Duration
	fs := pflag.NewFlagSet("agentstorm worker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&segment, "segment", "", "segment I/N")
	fs.StringVar(&startAt, "start-at", "", "the storm's start, RFC 3339")
	fs.StringVar(&w.Profile, "profile", profiles.DefaultBuiltin, "profile name or file")
	fs.Uint64Var(&w.Seed, "seed", 1, "seed")
	fs.IntVar(&w.Overrides.Agents, "agents", 0, "peak agents")
	fs.DurationVar(&w.Overrides.Duration, "duration", 0, "run length")
	fs.DurationVar(&ramp, "ramp", 0, "ramp")
	fs.DurationVar(&think, "think", 0, "think time")
	fs.DurationVar(&w.Timeout, "timeout", 0, "request timeout")
	fs.BoolVar(&w.Insecure, "insecure", false, "skip TLS verification")
	fs.StringVar(&w.TLS.CAFile, "ca-file", "", "CA file")
	fs.StringVar(&w.TLS.ClientCert, "client-cert", "", "client certificate")
	fs.StringVar(&w.TLS.ClientKey, "client-key", "", "client key")
	fs.StringVar(&w.TLS.ServerName, "tls-server-name", "", "TLS server name")
	fs.StringVar(&w.TLS.MinVersion, "tls-min-version", "", "lowest TLS version")
	fs.IntVar(&w.MaxBodySize, "max-body-size", 0, "answer body cap, bytes")
	fs.IntVar(&w.MaxHeaderSize, "max-header-size", 0, "answer header cap, bytes")
	fs.StringSliceVar(&w.SourceAddrs, "source-addr", nil, "local addresses to dial from")
	fs.StringVar(&w.Target, "target", "", "base URL")
	fs.StringArrayVar(&regionURLs, "region-url", nil, "REGION=URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return w, err
	}
	if fs.NArg() > 0 {
		return w, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if fs.Changed("ramp") {
		w.Overrides.Ramp = &ramp
	}
	if fs.Changed("think") {
		w.Overrides.Think = &think
	}
	switch {
	case w.Overrides.Agents < 0 || (fs.Changed("agents") && w.Overrides.Agents == 0):
		return w, fmt.Errorf("--agents %d: want a number of agents above 0", w.Overrides.Agents)
	case w.Overrides.Duration < 0 || (fs.Changed("duration") && w.Overrides.Duration == 0):
		return w, fmt.Errorf("--duration %s: want a length above 0", w.Overrides.Duration)
	case ramp < 0 || think < 0 || w.Timeout < 0:
		return w, errors.New("--ramp, --think and --timeout: want 0 or more")
	case w.Target == "bundled":
		return w, errors.New("--target bundled: give --target URL (a worker storms a target already running)")
	case w.Target != "" && !strings.HasPrefix(w.Target, "http://") && !strings.HasPrefix(w.Target, "https://"):
		return w, fmt.Errorf("--target %q: want a base URL such as http://127.0.0.1:8081", w.Target)
	}
	var err error
	if w.Segment, err = agents.ParseSegment(segment); err != nil {
		return w, fmt.Errorf("--segment: %w", err)
	}
	if startAt != "" {
		if w.Start, err = time.Parse(time.RFC3339Nano, startAt); err != nil {
			return w, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-11-26T18:00:00Z", startAt)
		}
	}
	if w.RegionURLs, err = ParseRegionURLs(regionURLs); err != nil {
		return w, err
	}
	return w, nil
}

// ParseRegionURLs parses REGION=URL values (nil for none).
func ParseRegionURLs(list []string) (map[string][]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := map[string][]string{}
	for _, v := range list {
		r, u, ok := strings.Cut(v, "=")
		if !ok || r == "" || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			return nil, fmt.Errorf("--region-url %q: want REGION=http://HOST:PORT", v)
		}
		m[r] = append(m[r], u)
	}
	return m, nil
}

// RunWorkerMain is a worker process: it runs the segment of the storm its
// command line (Worker.Args) names and streams its measurements to stdout
// as an hlog with a stats line before each interval; diagnostics go to
// stderr. ctx's end (the process's SIGTERM or SIGINT) stops it cleanly.
// It returns the exit code: 0 ok, 1 the run or the stream failed, 2 bad
// usage.
func RunWorkerMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	w, err := parseWorker(args)
	if err != nil {
		fmt.Fprintf(stderr, "agentstorm worker: %s\n", err)
		return exitUsage
	}
	// The run passes its --env values in the environment, not the command line.
	return w.Run(ctx, os.LookupEnv, stdout, stderr)
}

// Run runs w's segment in this process, as RunWorkerMain does, and streams
// it to stdout; lookup gives the profile's ${NAME} variables. It returns
// the exit code as RunWorkerMain does. It sets the process's garbage
// collection for a swarm while it runs (see setWorkerGC) unless GOGC is
// set.
func (w Worker) Run(ctx context.Context, lookup profiles.Lookup, stdout, stderr io.Writer) int {
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "agentstorm worker: %s\n", msg)
		return exitUsage
	}
	prof, err := profiles.Named(w.Profile, lookup)
	if err != nil {
		return usage(fmt.Sprintf("profile %s: %v", w.Profile, err))
	}
	if err := w.Overrides.Apply(prof); err != nil {
		return usage(err.Error())
	}
	capacity, _ := AgentCapacity(prof)
	var afterRamp func(agents.Stats)
	if os.Getenv("GOGC") == "" {
		// Given back at the end: the coordinator runs a segment too.
		pct, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
		defer func() {
			debug.SetGCPercent(pct)
			debug.SetMemoryLimit(limit)
		}()
		afterRamp = setWorkerGC(prof.Workload.Model == profiles.Closed || prof.Workload.TargetsInFlight(), capacity, w.Start.Add(peakAt(prof.Workload)+time.Second))
	}
	cfg := agents.Config{Seed: w.Seed, Timeout: w.Timeout, Insecure: w.Insecure, TLS: w.TLS, MaxAgents: capacity,
		MaxBodySize: w.MaxBodySize, MaxHeaderSize: w.MaxHeaderSize,
		Segment: w.Segment, Start: w.Start, RegionURLs: w.RegionURLs, BaseURL: w.Target}
	if len(w.SourceAddrs) > 0 {
		if cfg.SourceAddrs, err = agents.ParseSourceAddrs(w.SourceAddrs); err != nil {
			return usage("--source-addr: " + err.Error())
		}
	}
	meta := map[string]string{"segment": w.Segment.String(), "profile": prof.Name, "seed": fmt.Sprint(w.Seed)}
	code, err := runSegment(ctx, prof, cfg, meta, stdout, afterRamp)
	if err != nil {
		fmt.Fprintf(stderr, "agentstorm worker %s: %v\n", w.Segment, err)
	}
	return code
}

// runSegment runs cfg's segment of prof and streams it to out as an hlog
// with a stats line before each interval and after the last. ctx's end
// stops it cleanly.
func runSegment(ctx context.Context, prof *profiles.Profile, cfg agents.Config, meta map[string]string, out io.Writer, onStats func(agents.Stats)) (int, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := agents.RecorderOptions(prof)
	opts.Start = cfg.Start
	// One lock stripe: a worker holds a share of the storm, so contention
	// is low, and each stripe costs a dense histogram per cell.
	opts.Stripes = 1
	rec := report.NewRecorder(opts)
	bw := bufio.NewWriterSize(out, 4<<10)
	lw, err := hlog.NewWriter(bw, hlog.MetaOf(rec, meta, nil))
	if err != nil {
		return exitFailed, err
	}
	var streamErr error
	cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
		if streamErr != nil {
			return
		}
		if err := writeStats(bw, statsOf(cfg.Segment, st)); err != nil {
			streamErr = err
			cancel()
			return
		}
		err := lw.WriteInterval(iv)
		if err == nil {
			err = bw.Flush() // the interval is whole on the wire now
		}
		if err != nil {
			streamErr = fmt.Errorf("stream: %w", err)
			cancel()
		}
		if onStats != nil {
			onStats(st)
		}
	}
	sw, err := agents.New(cfg, prof, rec)
	if err != nil {
		return exitUsage, err
	}
	runErr := sw.Run(runCtx)
	if streamErr != nil {
		return exitFailed, streamErr
	}
	sum := rec.Summary(sw.Elapsed())
	for _, fl := range sw.Failures() {
		sum.Failures = append(sum.Failures, report.CheckFailure{Step: fl.Step, Kind: fl.Kind, Status: fl.Status, Count: fl.Count})
	}
	final := statsOf(cfg.Segment, sw.Stats())
	final.Final = true
	if err := writeStats(bw, final); err != nil {
		return exitFailed, err
	}
	if err := lw.Close(sum); err != nil {
		return exitFailed, err
	}
	if err := bw.Flush(); err != nil {
		return exitFailed, fmt.Errorf("stream: %w", err)
	}
	if runErr != nil {
		return exitFailed, runErr
	}
	return exitOK, nil
}

// workerGCPercent is a worker's GOGC once its agents are connected, unless
// the environment sets one.
const workerGCPercent = 25

// setWorkerGC sets a worker's garbage collection (when GOGC is not set). A
// worker's heap is mostly its agents' state, which lives for the whole run:
// collecting at 25% growth instead of Go's 100% keeps the heap's headroom
// small (measured at 50,000 agents with 4 workers: 16 KiB of RSS per agent
// at 100, 11.4 at 25). But while a ramp's agents connect (closed model, or
// open-model in-flight levels: ramped is true) the heap
// only grows, and at 25% the collector would mark it about five times over
// (1 + 1/1.25 + 1/1.25² + ...) just when the storm is heaviest: so the
// collector is off until the ramp is over, under a memory limit (capacity
// agents at 16 KiB, plus 64 MiB) should that take long, then one collection
// that gives the ramp's garbage back to the system, and 25% from there. The
// ramp is over when every agent of the segment has connected or, as a few
// may still be redialling, a second after the stages reach their peak
// (rampOver); waiting for the last connect alone kept 3 of every 4 KiB of a
// worker's RSS garbage for as long as a dial kept failing. The returned
// function watches the stats for that moment; nil when there is nothing to
// watch.
func setWorkerGC(ramped bool, capacity int, rampOver time.Time) func(agents.Stats) {
	if !ramped {
		debug.SetGCPercent(workerGCPercent)
		return nil
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64<<20 + int64(capacity)*16<<10)
	done := false
	return func(st agents.Stats) {
		if done || (st.FullAt == 0 && time.Now().Before(rampOver)) {
			return
		}
		done = true
		debug.SetGCPercent(workerGCPercent)
		debug.SetMemoryLimit(math.MaxInt64)
		go debug.FreeOSMemory()
	}
}

// peakAt returns when w's level first reaches its peak (to 50 ms).
func peakAt(w profiles.Workload) time.Duration {
	peak, end := float64(w.Peak()), w.Duration()
	for t := time.Duration(0); t < end; t += 50 * time.Millisecond {
		if w.LevelAt(t) >= peak {
			return t
		}
	}
	return end
}
