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
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

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
	// Final is set on the stats line after the last interval.
	Final bool `json:"final,omitempty"`
}

func statsOf(seg agents.Segment, st agents.Stats) workerStats {
	return workerStats{
		Segment: seg.String(), ElapsedMs: st.Elapsed.Milliseconds(), Active: st.Active, Agents: st.Agents,
		Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors, Dropped: st.Dropped,
	}
}

// workerFlags are the flags a worker takes besides run's.
type workerFlags struct {
	segment    string
	startAt    string
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

// newWorkerFlagSet is run's flag set plus the worker's own flags.
func newWorkerFlagSet(f *runFlags, w *workerFlags) *pflag.FlagSet {
	fs := newRunFlagSet(f)
	fs.StringVar(&w.segment, "segment", "", "the segment to run, I/N (required)")
	fs.StringVar(&w.startAt, "start-at", "", "the storm's start, RFC 3339 (default: now)")
	fs.StringArrayVar(&w.regionURLs, "region-url", nil, "REGION=URL: a base URL serving REGION (repeatable; instead of --target)")
	return fs
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
	seg, err := agents.ParseSegment(w.segment)
	if err != nil {
		return usage("--segment: " + err.Error())
	}
	start, err := parseStartAt(w.startAt)
	if err != nil {
		return usage(err.Error())
	}
	regionURLs, err := parseRegionURLs(w.regionURLs)
	if err != nil {
		return usage(err.Error())
	}
	if f.target == "bundled" {
		return usage("--target bundled: a worker needs the target's URLs (--target URL or --region-url)")
	}
	prof, err := loadRunProfile(f.profile)
	if err != nil {
		return usage(fmt.Sprintf("profile %s: %v", f.profile, err))
	}
	if err := applyRunOverrides(prof, &f, fs); err != nil {
		return usage(err.Error())
	}
	capacity, _ := agentCapacity()
	cfg := agents.Config{Seed: f.seed, Timeout: f.timeout, Insecure: f.insecure, MaxAgents: capacity,
		Segment: seg, Start: start, RegionURLs: regionURLs}
	if f.target != "" {
		cfg.BaseURL = f.target
	}
	if len(f.sourceAddrs) > 0 {
		if cfg.SourceAddrs, err = agentsSourceAddrs(f.sourceAddrs); err != nil {
			return usage("--source-addr: " + err.Error())
		}
	}
	code, err := runSegment(ctx, env, prof, cfg, map[string]string{"segment": seg.String(), "profile": prof.Name, "seed": fmt.Sprint(f.seed)}, env.stdout)
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm worker %s: %v\n", seg, err)
	}
	return code
}

// runSegment runs cfg's segment of prof and streams it to out as an hlog
// with a worker stats line after each interval. SIGINT/SIGTERM (env's
// interrupts) or ctx stop it cleanly.
func runSegment(ctx context.Context, env *cliEnv, prof *profiles.Profile, cfg agents.Config, meta map[string]string, out io.Writer) (int, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-env.interrupts:
			cancel()
		case <-runCtx.Done():
		}
	}()
	opts := agents.RecorderOptions(prof)
	opts.Start = cfg.Start
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
