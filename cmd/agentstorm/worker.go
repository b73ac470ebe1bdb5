package main

// The worker protocol. `agentstorm run` starts worker processes of itself
// (`agentstorm worker`, hidden) when a storm needs more sockets than one
// process may open; each runs one segment of the storm (agents.Segment) and
// streams its measurements to its stdout, which the coordinator reads:
//
//   - the stream is an hlog (report.LogWriter: HdrHistogram V2 interval log
//     with agentstorm's comment lines), so it is also a file `agentstorm
//     report merge` reads: the header with #agentstorm-meta, then every
//     second an #agentstorm-interval comment with the counts of each
//     step × region and its histogram lines, and at the end #agentstorm-end;
//   - after each interval the worker writes one line
//     "#agentstorm-worker {JSON workerStats}" with its counters (active
//     agents, connections open, dials, failed dials, dropped sessions). It
//     marks the interval as complete: a reader keeps an interval only once
//     this line has arrived, so a worker killed in the middle of a write
//     leaves no half interval behind.
//
// A worker stops cleanly on SIGTERM or SIGINT: the agents stop, the last
// partial interval and the end line are written and flushed, and it exits 0.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// workerGCPercent is a worker's GOGC once its agents are connected, unless
// the environment sets one.
const workerGCPercent = 25

// setWorkerGC sets a worker's garbage collection (when GOGC is not set). A
// worker's heap is mostly its agents' state, which lives for the whole run:
// collecting at 25% growth instead of Go's 100% keeps the heap's headroom
// small (measured at 50,000 agents with 4 workers: 16 KiB of RSS per agent
// at 100, 11.4 at 25). But while a closed model's agents connect the heap
// only grows, and at 25% the collector would mark it about five times over
// (1 + 1/1.25 + 1/1.25² + ...) just when the storm is heaviest: so the
// collector is off until every agent has connected, under a memory limit
// (capacity agents at 16 KiB, plus 64 MiB) should that take long, then one
// collection and 25% from there. The returned function watches the stats
// for that moment; nil when there is nothing to watch.
func setWorkerGC(closed bool, capacity int) func(agents.Stats) {
	if !closed {
		debug.SetGCPercent(workerGCPercent)
		return nil
	}
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64<<20 + int64(capacity)*16<<10)
	done := false
	return func(st agents.Stats) {
		if done || st.FullAt == 0 {
			return
		}
		done = true
		debug.SetGCPercent(workerGCPercent)
		debug.SetMemoryLimit(math.MaxInt64)
		go runtime.GC()
	}
}

// workerStatsPrefix starts the line that closes each interval of a
// worker's stream.
const workerStatsPrefix = "#agentstorm-worker "

// workerStats are a worker's counters, written after each interval. Every
// field is a snapshot at the interval's end (not a difference).
type workerStats struct {
	// Segment is "I/N".
	Segment string `json:"segment"`
	// ElapsedMs is the time since the storm's start.
	ElapsedMs int64 `json:"elapsed_ms"`
	// Active is the agents running (closed) or in a session (open).
	Active int64 `json:"active"`
	// Agents is the agent goroutines alive.
	Agents int64 `json:"agents"`
	// Connected is the connections open.
	Connected int64 `json:"connected"`
	// Dials and DialErrors count connection attempts and their failures.
	Dials      int64 `json:"dials"`
	DialErrors int64 `json:"dial_errors"`
	// Dropped is the open model's sessions that found no idle agent.
	Dropped int64 `json:"dropped"`
	// FullAtMs is when this worker's connections first reached its share
	// of the peak, since the start (0: not yet).
	FullAtMs int64 `json:"full_at_ms,omitempty"`
	// Final is set on the stats line after the last interval.
	Final bool `json:"final,omitempty"`
}

func statsOf(seg agents.Segment, st agents.Stats) workerStats {
	return workerStats{
		Segment: seg.String(), ElapsedMs: st.Elapsed.Milliseconds(), Active: st.Active, Agents: st.Agents,
		Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors, Dropped: st.Dropped,
		FullAtMs: (st.FullAt + time.Millisecond - 1).Milliseconds(), // rounded up: > 0 once full
	}
}

// workerFlags are the flags a worker takes besides run's.
type workerFlags struct {
	regionURLs []string
}

func workerCommand() command {
	return command{
		name:    "worker",
		summary: "run one segment of a storm and stream its interval histograms to stdout (started by 'run')",
		hidden:  true,
		run:     runWorker,
	}
}

// newWorkerFlagSet is run's flag set (--segment is required) plus the
// worker's own flags.
func newWorkerFlagSet(f *runFlags, w *workerFlags) *pflag.FlagSet {
	fs := newRunFlagSet(f)
	fs.StringArrayVar(&w.regionURLs, "region-url", nil, "REGION=URL: a base URL serving REGION (repeatable; instead of --target)")
	return fs
}

// maxAutoWorkers caps the worker processes run starts on its own: a storm
// needing more is split across machines with --segment.
const maxAutoWorkers = 64

// machineAgents is the most agents run spreads over worker processes on
// one machine: maxAutoWorkers processes at 80% of capacity each.
func machineAgents(capacity int) int {
	return maxAutoWorkers * max(capacity*4/5, 1)
}

// workersFor returns how many worker processes the storm needs: requested
// when > 0, else 1 while the storm's agents fit in 90% of one process's
// capacity, else enough processes to hold at most 80% of capacity each,
// never more than maxAutoWorkers (run rejects bigger storms first).
func workersFor(prof *profiles.Profile, capacity, requested int) int {
	if requested > 0 {
		return requested
	}
	need := stormAgents(prof)
	if need <= capacity*9/10 {
		return 1
	}
	per := max(capacity*4/5, 1)
	return min((need+per-1)/per, maxAutoWorkers)
}

// stormAgents is the most agents the whole storm has alive at once.
func stormAgents(prof *profiles.Profile) int {
	if prof.Workload.Model == profiles.Open {
		if prof.Workload.MaxAgents > 0 {
			return prof.Workload.MaxAgents
		}
		return agents.DefaultOpenMaxAgents
	}
	return prof.Workload.Peak()
}

// shardConns is the most connections the bundled target's shards are
// planned for (a shard's cap is target.DefaultMaxConns, 15,000).
const shardConns = 12000

// bundledShards returns how many shards the bundled target needs for the
// storm: at least one per region, and enough that no shard expects more
// than shardConns connections. Shard i serves region i % len(regions), and
// the agents of a region spread evenly over its shards; a region's share
// of the agents is estimated by drawing regions as the agents do.
func bundledShards(prof *profiles.Profile) int {
	var regions []string
	if prof.Population != nil {
		regions = prof.Population.Regions()
	}
	nr := max(len(regions), 1)
	total := stormAgents(prof)
	share := make([]float64, nr)
	if nr == 1 {
		share[0] = 1
	} else {
		rng := rand.New(rand.NewPCG(1, 2))
		const draws = 20000
		for i := 0; i < draws; i++ {
			r, _ := prof.Population.PickRegion(rng)
			share[r] += 1.0 / draws
		}
	}
	for s := nr; s < 1024; s++ {
		ok := true
		for r := 0; r < nr; r++ {
			shards := s / nr
			if r < s%nr {
				shards++
			}
			// 5% over the expected share for the draw's spread.
			if float64(total)*share[r]*1.05/float64(shards) > shardConns {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
	}
	return 1024
}

// workerArgs returns the command line of a worker running seg of the storm
// that f and fs describe: the flags that shape the storm, passed on as
// given, and where the target is.
func workerArgs(f *runFlags, fs *pflag.FlagSet, seg agents.Segment, start time.Time, baseURL string, regionURLs map[string][]string) []string {
	args := []string{"worker", "--segment", seg.String(), "--start-at", start.UTC().Format(time.RFC3339Nano),
		"--profile", f.profile, "--seed", fmt.Sprint(f.seed)}
	for _, name := range []string{"agents", "duration", "ramp", "think", "timeout", "insecure"} {
		if fl := fs.Lookup(name); fl != nil && fl.Changed {
			args = append(args, "--"+name+"="+fl.Value.String())
		}
	}
	if len(f.sourceAddrs) > 0 {
		args = append(args, "--source-addr="+strings.Join(f.sourceAddrs, ","))
	}
	if baseURL != "" {
		args = append(args, "--target", baseURL)
	}
	regions := make([]string, 0, len(regionURLs))
	for r := range regionURLs {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, r := range regions {
		for _, u := range regionURLs[r] {
			args = append(args, "--region-url", r+"="+u)
		}
	}
	return args
}

// parseStartAt parses --start-at ("" is the zero time).
func parseStartAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-11-26T18:00:00Z", s)
	}
	return t, nil
}

// parseRegionURLs parses --region-url REGION=URL values.
func parseRegionURLs(list []string) (map[string][]string, error) {
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

// runWorker is `agentstorm worker`: one segment, measurements to stdout as
// an hlog stream, diagnostics to stderr.
func runWorker(ctx context.Context, env *cliEnv, args []string) int {
	var f runFlags
	var w workerFlags
	fs := newWorkerFlagSet(&f, &w)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm worker: %v\n", err)
		return exitUsage
	}
	usage := func(msg string) int {
		fmt.Fprintf(env.stderr, "agentstorm worker: %s\n", msg)
		return exitUsage
	}
	if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if msg := f.validate(fs); msg != "" {
		return usage(msg)
	}
	seg, err := agents.ParseSegment(f.segment)
	if err != nil {
		return usage("--segment: " + err.Error())
	}
	start, err := parseStartAt(f.startAt)
	if err != nil {
		return usage(err.Error())
	}
	regionURLs, err := parseRegionURLs(w.regionURLs)
	if err != nil {
		return usage(err.Error())
	}
	prof, err := loadRunProfile(f.profile, f.env.lookup)
	if err != nil {
		return usage(fmt.Sprintf("profile %s: %v", f.profile, err))
	}
	if err := applyRunOverrides(prof, &f, fs); err != nil {
		return usage(err.Error())
	}
	capacity, _ := agentCapacity()
	var afterRamp func(agents.Stats)
	if os.Getenv("GOGC") == "" {
		afterRamp = setWorkerGC(prof.Workload.Model == profiles.Closed, capacity)
	}
	cfg := agents.Config{Seed: f.seed, Timeout: f.timeout, Insecure: f.insecure, MaxAgents: capacity,
		Segment: seg, Start: start, RegionURLs: regionURLs}
	if f.target != "" {
		cfg.BaseURL = f.target
	}
	if len(f.sourceAddrs) > 0 {
		if cfg.SourceAddrs, err = agents.ParseSourceAddrs(f.sourceAddrs); err != nil {
			return usage("--source-addr: " + err.Error())
		}
	}
	code, err := runSegment(ctx, env, prof, cfg, map[string]string{"segment": seg.String(), "profile": prof.Name, "seed": fmt.Sprint(f.seed)}, env.stdout, afterRamp)
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm worker %s: %v\n", seg, err)
	}
	return code
}

// runSegment runs cfg's segment of prof and streams it to out as an hlog
// with a worker stats line after each interval. SIGINT/SIGTERM (env's
// interrupts) or ctx stop it cleanly.
func runSegment(ctx context.Context, env *cliEnv, prof *profiles.Profile, cfg agents.Config, meta map[string]string, out io.Writer, onStats func(agents.Stats)) (int, error) {
	runCtx, cancel := cancelOnInterrupt(ctx, env)
	defer cancel()
	opts := agents.RecorderOptions(prof)
	opts.Start = cfg.Start
	// One lock stripe: a worker holds a share of the storm, so contention
	// is low, and each stripe costs a dense histogram per cell.
	opts.Stripes = 1
	rec := report.NewRecorder(opts)
	bw := bufio.NewWriterSize(out, 4<<10)
	lw, err := report.NewLogWriter(bw, report.MetaOf(rec, meta, nil))
	if err != nil {
		return exitFailed, err
	}
	var streamErr error
	cfg.OnInterval = func(iv *report.Interval, st agents.Stats) {
		if streamErr != nil {
			return
		}
		if err := lw.WriteInterval(iv); err != nil {
			streamErr = err
			cancel()
			return
		}
		if err := writeStatsLine(bw, statsOf(cfg.Segment, st)); err != nil {
			streamErr = err
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
	if err := writeStatsLine(bw, final); err != nil {
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

func writeStatsLine(bw *bufio.Writer, st workerStats) error {
	j, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	bw.WriteString(workerStatsPrefix)
	bw.Write(j)
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return nil
}

// workerInterval is one interval of a worker's stream, as read back.
type workerInterval struct {
	// Iv holds the counts and the packed histograms of each cell
	// (Iv.All is nil).
	Iv *report.Interval
	// Stats are the worker's counters at the interval's end.
	Stats workerStats
}

// streamReader reads a worker's stream: it copies every complete interval
// (and the header and end lines) to a log file and hands each interval,
// decoded, to a callback.
type streamReader struct {
	steps, regions []string
	cellOf         map[string]int // hlog tag without ";figure=corrected" → cell
	baseMs         int64

	// pending holds the lines of the interval being read, written out
	// only once its stats line arrives.
	pending []string
	cur     *report.Interval
	last    workerStats // the last stats line read
	ended   bool        // the end line was read
}

func newStreamReader(steps, regions []string) *streamReader {
	sr := &streamReader{steps: steps, regions: regions, cellOf: map[string]int{}}
	for s, sn := range steps {
		for r, rn := range regions {
			sr.cellOf["step="+report.EscapeTag(sn)+";region="+report.EscapeTag(rn)] = s*len(regions) + r
		}
	}
	return sr
}

// hlogIntervalLine is the JSON of report's #agentstorm-interval comment.
type hlogIntervalLine struct {
	Start       float64   `json:"start"`
	End         float64   `json:"end"`
	Active      int       `json:"active"`
	Connections int64     `json:"connections"`
	Cells       [][]int64 `json:"cells"`
}

// read reads r to its end. Complete intervals go to log and to onInterval;
// an interval cut short by the end of the stream is dropped.
func (sr *streamReader) read(r io.Reader, log io.Writer, onInterval func(*workerInterval)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(log, 64<<10)
	defer bw.Flush()
	inHeader := true
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			// A line without its newline is a cut write: dropped.
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read worker stream: %w", err)
		}
		body := strings.TrimRight(line, "\r\n")
		switch {
		case strings.HasPrefix(body, "#agentstorm-meta "):
			var m report.LogMeta
			if err := json.Unmarshal([]byte(body[len("#agentstorm-meta "):]), &m); err != nil {
				return fmt.Errorf("worker stream: bad metadata: %w", err)
			}
			if strings.Join(m.Steps, "\x00") != strings.Join(sr.steps, "\x00") || strings.Join(m.Regions, "\x00") != strings.Join(sr.regions, "\x00") {
				return fmt.Errorf("worker stream: steps %v regions %v, want %v %v (a different profile?)", m.Steps, m.Regions, sr.steps, sr.regions)
			}
			sr.baseMs = m.StartMs - m.StartMs%1000
			bw.WriteString(line)
		case strings.HasPrefix(body, "#agentstorm-interval "):
			inHeader = false
			var il hlogIntervalLine
			if err := json.Unmarshal([]byte(body[len("#agentstorm-interval "):]), &il); err != nil {
				return fmt.Errorf("worker stream: bad interval: %w", err)
			}
			sr.pending = append(sr.pending[:0], line)
			sr.cur = sr.newInterval(&il)
			if err := sr.cellCounts(&il); err != nil {
				return err
			}
		case strings.HasPrefix(body, workerStatsPrefix):
			var st workerStats
			if err := json.Unmarshal([]byte(body[len(workerStatsPrefix):]), &st); err != nil {
				return fmt.Errorf("worker stream: bad stats line: %w", err)
			}
			sr.last = st
			if sr.cur == nil {
				continue
			}
			for _, l := range sr.pending {
				bw.WriteString(l)
			}
			bw.WriteString(line)
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write worker log: %w", err)
			}
			sr.cur.ActiveAgents = int(st.Active)
			if onInterval != nil {
				onInterval(&workerInterval{Iv: sr.cur, Stats: st})
			}
			sr.pending, sr.cur = sr.pending[:0], nil
		case strings.HasPrefix(body, "#agentstorm-end "):
			sr.ended = true
			bw.WriteString(line)
		case inHeader || body == "" || body[0] == '#' || body[0] == '"':
			bw.WriteString(line)
		default:
			if sr.cur == nil {
				return errors.New("worker stream: a histogram line outside an interval")
			}
			sr.pending = append(sr.pending, line)
			if err := sr.histLine(body); err != nil {
				return err
			}
		}
	}
}

func (sr *streamReader) newInterval(il *hlogIntervalLine) *report.Interval {
	base := time.UnixMilli(sr.baseMs)
	return &report.Interval{
		Start:       base.Add(time.Duration(math.Round(il.Start*1000)) * time.Millisecond),
		End:         base.Add(time.Duration(math.Round(il.End*1000)) * time.Millisecond),
		Steps:       sr.steps,
		Regions:     sr.regions,
		Cells:       make([]report.CellInterval, len(sr.steps)*len(sr.regions)),
		Connections: il.Connections,
	}
}

func (sr *streamReader) cellCounts(il *hlogIntervalLine) error {
	iv := sr.cur
	for c := range iv.Cells {
		iv.Cells[c].Step, iv.Cells[c].Region = c/len(sr.regions), c%len(sr.regions)
	}
	for _, row := range il.Cells {
		if len(row) != 2+report.NumOutcomes+3 {
			return fmt.Errorf("worker stream: interval cell has %d numbers, want %d", len(row), 2+report.NumOutcomes+3)
		}
		if row[0] < 0 || int(row[0]) >= len(sr.steps) || row[1] < 0 || int(row[1]) >= len(sr.regions) {
			return fmt.Errorf("worker stream: interval cell names step %d region %d", row[0], row[1])
		}
		ci := &iv.Cells[int(row[0])*len(sr.regions)+int(row[1])]
		for k := 0; k < report.NumOutcomes; k++ {
			ci.Counts[k] += row[2+k]
			iv.Counts[k] += row[2+k]
		}
		ci.Under += row[2+report.NumOutcomes]
		ci.Clamped += row[3+report.NumOutcomes]
		ci.Dropped += row[4+report.NumOutcomes]
		iv.Under += ci.Under
		iv.Clamped += ci.Clamped
		iv.Dropped += ci.Dropped
	}
	return nil
}

// histLine decodes one "Tag=...,start,length,max,HISTOGRAM" line into its
// cell of the current interval.
func (sr *streamReader) histLine(line string) error {
	if !strings.HasPrefix(line, "Tag=") {
		return fmt.Errorf("worker stream: histogram line without a tag: %.40q", line)
	}
	tag, rest, ok := strings.Cut(line[4:], ",")
	if !ok {
		return fmt.Errorf("worker stream: tag without a histogram: %.40q", line)
	}
	corrected := strings.HasSuffix(tag, ";figure=corrected")
	c, ok := sr.cellOf[strings.TrimSuffix(tag, ";figure=corrected")]
	if !ok {
		return fmt.Errorf("worker stream: unknown tag %q", tag)
	}
	parts := strings.SplitN(rest, ",", 4)
	if len(parts) != 4 {
		return fmt.Errorf("worker stream: bad histogram line for %s", tag)
	}
	h, err := hdr.DecodePacked([]byte(parts[3]))
	if err != nil {
		return fmt.Errorf("worker stream: histogram of %s: %w", tag, err)
	}
	ci := &sr.cur.Cells[c]
	if corrected {
		ci.Corrected = h
	} else {
		ci.Latency = h
	}
	return nil
}

// coordConfig configures runCoordinator.
type coordConfig struct {
	// Command returns the command of worker i: this executable with
	// "worker", the storm's flags, --segment i/Workers and --start-at Start.
	Command func(i int) *exec.Cmd
	// Workers is the number of worker processes.
	Workers int
	// Start is the storm's shared start time.
	Start time.Time
	// Planned is the storm's planned length (for the stats).
	Planned time.Duration
	// Steps and Regions are the recorder's names (every worker must match).
	Steps, Regions []string
	// Dir receives each worker's hlog (worker-I.hlog) and stderr (worker-I.log).
	Dir string
	// FailOnLoss stops the whole storm when a worker dies.
	FailOnLoss bool
	// OnInterval gets every merged interval in order, with the workers'
	// summed stats; it is called from one goroutine. The interval is the
	// caller's only for the call.
	OnInterval func(iv *report.Interval, st agents.Stats)
	// OnLoss is told of each worker that died (from the merging goroutine).
	OnLoss func(l workerLoss)
	// LateAfter is how long past its end a second's interval waits for a
	// slow worker before it is emitted without it (its data then joins the
	// next interval); 0 means 5 s (a worker starved of CPU on a busy
	// machine can be seconds late, and a second's figures should stay its
	// own).
	LateAfter time.Duration
}

// workerLoss describes a worker that died before the end of the storm.
type workerLoss struct {
	// Segment is the worker's segment.
	Segment agents.Segment
	// At is when the loss was noticed, since the storm's start.
	At time.Duration
	// Why is the exit status or the stream's error.
	Why string
	// Intervals is the number of whole intervals it had streamed (kept).
	Intervals int
	// Requests is the number of requests in them.
	Requests int64
	// Log is the worker's stderr file.
	Log string
}

func (l workerLoss) String() string {
	return fmt.Sprintf("worker %d (segment %s) died at %s: %s; its %d intervals (%s requests) are kept; its stderr: %s",
		l.Segment.Index, l.Segment, report.FormatDuration(l.At.Round(time.Millisecond)), l.Why, l.Intervals, commas(int(l.Requests)), l.Log)
}

// coordResult is what runCoordinator returns.
type coordResult struct {
	// Logs are the workers' hlog files (for report.LogSet), by segment.
	Logs []string
	// Losses are the workers that died.
	Losses []workerLoss
	// Stats are the workers' final summed counters.
	Stats agents.Stats
	// Started is how many workers started.
	Started int
}

// workerState is the coordinator's view of one worker.
type workerState struct {
	seg       agents.Segment
	cmd       *exec.Cmd
	last      workerStats // latest stats line
	lastK     int         // index of the last second delivered
	intervals int
	requests  int64
	done      bool // its stream has ended
	lost      bool
	logPath   string
}

// workerEvent is sent from a worker's reader to the merger.
type workerEvent struct {
	w    int
	iv   *workerInterval // nil when the worker has ended
	err  error           // the end: the stream's or the process's error
	dead bool            // the end: the worker did not finish cleanly
}

// secondOf returns the index of the second an interval ending at end
// belongs to: 1 for the first second of the storm. An interval ending just
// after a whole second (the rotation's delay) belongs to that second.
func secondOf(start, end time.Time) int {
	return max(int(math.Ceil(end.Sub(start).Seconds()-0.2)), 0)
}

// runCoordinator starts cfg.Workers workers, merges their streams second by
// second for OnInterval, and returns when every worker has ended. ctx's
// cancellation sends each worker SIGTERM (they stop, flush and end their
// streams); workers still alive 5 s later are killed.
func runCoordinator(ctx context.Context, cfg coordConfig) (*coordResult, error) {
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 5 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &coordResult{}
	ws := make([]*workerState, cfg.Workers)
	events := make(chan workerEvent, 4*cfg.Workers)
	var readers sync.WaitGroup
	for i := range ws {
		seg := agents.Segment{Index: i, Count: cfg.Workers}
		st := &workerState{seg: seg, lastK: -1, logPath: filepath.Join(cfg.Dir, fmt.Sprintf("worker-%d.log", i))}
		ws[i] = st
		hlogPath := filepath.Join(cfg.Dir, fmt.Sprintf("worker-%d.hlog", i))
		res.Logs = append(res.Logs, hlogPath)
		if err := startWorker(cfg, i, st, hlogPath, events, &readers); err != nil {
			st.done, st.lost = true, true
			l := workerLoss{Segment: seg, At: max(time.Since(cfg.Start), 0), Why: err.Error(), Log: st.logPath}
			res.Losses = append(res.Losses, l)
			if cfg.OnLoss != nil {
				cfg.OnLoss(l)
			}
			if cfg.FailOnLoss {
				cancel()
			}
			continue
		}
		res.Started++
	}
	if res.Started == 0 {
		readers.Wait()
		return res, errors.New("no worker process could be started")
	}
	go func() { readers.Wait(); close(events) }()

	// Stop: SIGTERM to every worker when ctx ends, SIGKILL 5 s later.
	stopDone := make(chan struct{})
	defer close(stopDone)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopDone:
			return
		}
		for _, w := range ws {
			if w.cmd != nil && w.cmd.Process != nil {
				_ = w.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		select {
		case <-time.After(5 * time.Second):
		case <-stopDone:
			return
		}
		for _, w := range ws {
			if w.cmd != nil && w.cmd.Process != nil {
				_ = w.cmd.Process.Kill()
			}
		}
	}()

	m := newMerger(cfg)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				m.flush(ws, true)
				res.Stats = m.stats(ws)
				return res, nil
			}
			w := ws[ev.w]
			if ev.iv != nil {
				k := secondOf(cfg.Start, ev.iv.Iv.End)
				w.last = ev.iv.Stats
				w.lastK = max(w.lastK, k)
				w.intervals++
				w.requests += ev.iv.Iv.Count()
				m.add(k, ev.iv.Iv)
			} else {
				w.done = true
				if ev.dead && !w.lost {
					w.lost = true
					why := "its stream ended early"
					if ev.err != nil {
						why = ev.err.Error()
					}
					l := workerLoss{Segment: w.seg, At: max(time.Since(cfg.Start), 0), Why: why, Intervals: w.intervals, Requests: w.requests, Log: w.logPath}
					res.Losses = append(res.Losses, l)
					if cfg.OnLoss != nil {
						cfg.OnLoss(l)
					}
					if cfg.FailOnLoss {
						cancel()
					}
				}
				// Its agents and connections are gone either way.
				w.last.Active, w.last.Agents, w.last.Connected = 0, 0, 0
			}
			m.flush(ws, false)
		case <-tick.C:
			m.flush(ws, false)
		}
	}
}

// startWorker starts worker i and a goroutine reading its stream into
// hlogPath and events.
func startWorker(cfg coordConfig, i int, st *workerState, hlogPath string, events chan<- workerEvent, readers *sync.WaitGroup) error {
	logf, err := os.Create(st.logPath)
	if err != nil {
		return fmt.Errorf("create its log: %w", err)
	}
	hf, err := os.Create(hlogPath)
	if err != nil {
		logf.Close()
		return fmt.Errorf("create its hlog: %w", err)
	}
	cmd := cfg.Command(i)
	cmd.Stderr = logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A coordinator that dies takes its workers with it.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		hf.Close()
		return fmt.Errorf("worker %d: %w", i, err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		hf.Close()
		return fmt.Errorf("start worker %d: %w", i, err)
	}
	st.cmd = cmd
	readers.Add(1)
	go func() {
		defer readers.Done()
		sr := newStreamReader(cfg.Steps, cfg.Regions)
		rerr := sr.read(out, hf, func(w *workerInterval) { events <- workerEvent{w: i, iv: w} })
		if rerr != nil {
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, out)
		}
		werr := cmd.Wait()
		_ = hf.Close()
		_ = logf.Close()
		ev := workerEvent{w: i}
		switch {
		case rerr != nil:
			ev.err, ev.dead = rerr, true
		case werr != nil:
			ev.err, ev.dead = fmt.Errorf("exit: %w", werr), true
		case !sr.ended:
			ev.err, ev.dead = errors.New("its stream ended without an end line"), true
		}
		events <- ev
	}()
	return nil
}

// merger sums the workers' intervals by second and emits each second once
// every live worker has delivered it (or it is LateAfter late). Data that
// arrives for a second already emitted joins the next one, so totals are
// exact even when a worker lags.
type merger struct {
	cfg     coordConfig
	pending map[int]*report.Interval
	emitted int // the last second emitted
	all     *hdr.Histogram
}

func newMerger(cfg coordConfig) *merger {
	return &merger{cfg: cfg, pending: map[int]*report.Interval{}, all: report.NewHistogram()}
}

func (m *merger) add(k int, iv *report.Interval) {
	late := k <= m.emitted
	if late {
		k = m.emitted + 1
	}
	acc := m.pending[k]
	if acc == nil {
		acc = &report.Interval{Start: iv.Start, End: iv.End, Steps: iv.Steps, Regions: iv.Regions,
			Cells: make([]report.CellInterval, len(iv.Cells))}
		if late {
			// Late data joins second k: the interval is that second.
			acc.Start = m.cfg.Start.Add(time.Duration(k-1) * time.Second)
			acc.End = m.cfg.Start.Add(time.Duration(k) * time.Second)
		}
		for c := range acc.Cells {
			acc.Cells[c].Step, acc.Cells[c].Region = iv.Cells[c].Step, iv.Cells[c].Region
		}
		m.pending[k] = acc
	}
	if !late {
		if iv.Start.Before(acc.Start) {
			acc.Start = iv.Start
		}
		if iv.End.After(acc.End) {
			acc.End = iv.End
		}
	}
	for k := range iv.Counts {
		acc.Counts[k] += iv.Counts[k]
	}
	acc.Under += iv.Under
	acc.Clamped += iv.Clamped
	acc.Dropped += iv.Dropped
	acc.Connections += iv.Connections
	acc.ActiveAgents += iv.ActiveAgents
	for c := range iv.Cells {
		src, dst := &iv.Cells[c], &acc.Cells[c]
		for k := range src.Counts {
			dst.Counts[k] += src.Counts[k]
		}
		dst.Under += src.Under
		dst.Clamped += src.Clamped
		dst.Dropped += src.Dropped
		dst.Latency = mergePacked(dst.Latency, src.Latency)
		dst.Corrected = mergePacked(dst.Corrected, src.Corrected)
	}
}

func mergePacked(dst, src *hdr.PackedHistogram) *hdr.PackedHistogram {
	if src == nil {
		return dst
	}
	if dst == nil {
		return src
	}
	dst.Merge(src)
	return dst
}

// flush emits the seconds that are complete (all, when final).
func (m *merger) flush(ws []*workerState, final bool) {
	for {
		k := m.emitted + 1
		acc := m.pending[k]
		if !final {
			ready := true
			for _, w := range ws {
				if !w.done && w.lastK < k {
					ready = false
				}
			}
			late := time.Now().After(m.cfg.Start.Add(time.Duration(k)*time.Second + m.cfg.LateAfter))
			if !ready && !late {
				return
			}
			if acc == nil && !late {
				// Nothing for this second yet, but a later one: skip it
				// only once a later second is pending.
				if !m.hasAfter(k) {
					return
				}
			}
		}
		if acc == nil {
			if !m.hasAfter(k) {
				return
			}
			m.emitted = k
			continue
		}
		delete(m.pending, k)
		m.emitted = k
		m.emit(acc, ws)
	}
}

func (m *merger) hasAfter(k int) bool {
	for j := range m.pending {
		if j > k {
			return true
		}
	}
	return false
}

func (m *merger) emit(iv *report.Interval, ws []*workerState) {
	m.all.Reset()
	for c := range iv.Cells {
		if h := iv.Cells[c].Latency; h != nil {
			h.MergeInto(m.all)
		}
	}
	iv.All = m.all
	st := m.stats(ws)
	st.Elapsed = iv.End.Sub(m.cfg.Start)
	iv.ActiveAgents = int(st.Active)
	if m.cfg.OnInterval != nil {
		m.cfg.OnInterval(iv, st)
	}
	iv.All = nil
}

// stats sums the workers' latest counters.
func (m *merger) stats(ws []*workerState) agents.Stats {
	st := agents.Stats{Planned: m.cfg.Planned}
	full := true
	for _, w := range ws {
		// The storm is full when the last worker is.
		full = full && w.last.FullAtMs > 0
		st.FullAt = max(st.FullAt, time.Duration(w.last.FullAtMs)*time.Millisecond)
		st.Elapsed = max(st.Elapsed, time.Duration(w.last.ElapsedMs)*time.Millisecond)
		st.Active += w.last.Active
		st.Agents += w.last.Agents
		st.Connected += w.last.Connected
		st.Dials += w.last.Dials
		st.DialErrors += w.last.DialErrors
		st.Dropped += w.last.Dropped
	}
	if !full {
		st.FullAt = 0
	}
	return st
}

// coordinatedSummary merges the workers' logs into the storm's summary and
// says whether the run failed: every worker lost, a loss with
// --fail-on-worker-loss, or no worker started. The summary is nil only when
// nothing at all was recorded.
func coordinatedSummary(res *coordResult, cerr error, failOnLoss bool) (*report.Summary, agents.Stats, error) {
	if res == nil {
		return nil, agents.Stats{}, cerr
	}
	var logs []string
	for _, p := range res.Logs {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			logs = append(logs, p)
		}
	}
	runErr := cerr
	switch {
	case runErr != nil:
	case len(res.Losses) == len(res.Logs):
		runErr = fmt.Errorf("every worker process failed (%s)", res.Losses[0].Why)
	case failOnLoss && len(res.Losses) > 0:
		runErr = fmt.Errorf("%d of %d worker processes lost (--fail-on-worker-loss)", len(res.Losses), len(res.Logs))
	}
	if len(logs) == 0 {
		if runErr == nil {
			runErr = errors.New("the workers recorded nothing")
		}
		return nil, res.Stats, runErr
	}
	ls, err := readLogs(logs)
	if err != nil {
		return nil, res.Stats, fmt.Errorf("merge the workers' logs: %w", err)
	}
	sum, err := ls.Summary()
	if err != nil {
		return nil, res.Stats, fmt.Errorf("merge the workers' logs: %w", err)
	}
	if runErr == nil && res.Stats.Dials > 0 && sum.Connections == 0 {
		runErr = fmt.Errorf("%w: %d connection attempts, none succeeded", agents.ErrUnreachable, res.Stats.Dials)
	}
	return sum, res.Stats, runErr
}
