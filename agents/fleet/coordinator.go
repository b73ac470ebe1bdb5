package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/internal/child"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/hlog"
)

// Config configures a Coordinator.
type Config struct {
	// Command returns the command of worker i: this executable's worker
	// subcommand with the Args of Worker for segment i of Workers.
	Command func(i int) *exec.Cmd
	// Local, when set, runs segment 0 in this process instead of a worker
	// process (Worker.Run): it streams the segment to stdout, reports to
	// stderr and returns the worker's exit code; ctx's end stops it. Every
	// process costs its runtime and the binary's pages (~20 MB of RSS), so
	// the coordinator, which must run anyway, holds a segment too.
	Local func(ctx context.Context, seg agents.Segment, stdout, stderr io.Writer) int
	// Workers is the number of segments: worker processes, and this one
	// for segment 0 when Local is set.
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
	OnLoss func(l Loss)
	// LateAfter is how long past its end a second's interval waits for a
	// slow worker before it is emitted without it (its data then joins the
	// next interval); 0 means 5 s (a worker starved of CPU on a busy
	// machine can be seconds late, and a second's figures should stay its
	// own).
	LateAfter time.Duration
}

// Loss describes a worker that died before the end of the storm.
type Loss struct {
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

func (l Loss) String() string {
	return fmt.Sprintf("worker %d (segment %s) died at %s: %s; its %d intervals (%s requests) are kept; its stderr: %s",
		l.Segment.Index, l.Segment, report.FormatDuration(l.At.Round(time.Millisecond)), l.Why, l.Intervals, report.FormatCount(l.Requests), l.Log)
}

// Coordinator runs a storm over worker processes and merges their streams
// into one: one live interval a second, one summary.
type Coordinator struct {
	cfg     Config
	pool    *report.PackedPool // the workers' decoded histograms, recycled by the merger
	logs    []string
	losses  []Loss
	started int
	stats   agents.Stats
}

// New returns a coordinator of cfg.
func New(cfg Config) *Coordinator {
	if cfg.LateAfter <= 0 {
		cfg.LateAfter = 5 * time.Second
	}
	// Enough for every cell's two histograms of every segment, and of the
	// seconds being merged.
	cells := max(len(cfg.Steps)*len(cfg.Regions), 1)
	return &Coordinator{cfg: cfg, pool: report.NewPackedPool(2 * cells * (max(cfg.Workers, 1) + 2))}
}

// Logs are the workers' hlog files, by segment (once Run has started them).
func (c *Coordinator) Logs() []string { return c.logs }

// Losses are the workers that died.
func (c *Coordinator) Losses() []Loss { return c.losses }

// Started is how many workers started.
func (c *Coordinator) Started() int { return c.started }

// Run runs the storm and returns what the in-process swarm returns: the
// summary (the workers' logs merged), the workers' final summed counters,
// and why the run failed: no worker started, every worker lost, a loss
// with FailOnLoss, or a target that took no connection. The summary is nil
// only when nothing at all was recorded. ctx's end stops the workers
// (SIGTERM; SIGKILL 5 s later) and what they recorded is summarised.
func (c *Coordinator) Run(ctx context.Context) (*report.Summary, agents.Stats, error) {
	err := c.run(ctx)
	if err == nil {
		switch {
		case len(c.losses) == len(c.logs):
			err = fmt.Errorf("every worker process failed (%s)", c.losses[0].Why)
		case c.cfg.FailOnLoss && len(c.losses) > 0:
			err = fmt.Errorf("%d of %d segments lost (--fail-on-worker-loss)", len(c.losses), len(c.logs))
		}
	}
	var logs []string
	for _, p := range c.logs {
		if fi, serr := os.Stat(p); serr == nil && fi.Size() > 0 {
			logs = append(logs, p)
		}
	}
	if len(logs) == 0 {
		if err == nil {
			err = errors.New("the workers recorded nothing")
		}
		return nil, c.stats, err
	}
	sum, rerr := readLogs(logs)
	if rerr != nil {
		return nil, c.stats, fmt.Errorf("merge the workers' logs: %w", rerr)
	}
	if err == nil && c.stats.Dials > 0 && sum.Connections == 0 {
		err = fmt.Errorf("%w: %d connection attempts, none succeeded", agents.ErrUnreachable, c.stats.Dials)
	}
	return sum, c.stats, err
}

// readLogs merges the hlog files into one summary.
func readLogs(paths []string) (*report.Summary, error) {
	ls := hlog.NewSet()
	if err := ls.ReadFiles(paths...); err != nil {
		return nil, err
	}
	return ls.Summary()
}

// workerState is the coordinator's view of one worker.
type workerState struct {
	seg       agents.Segment
	cmd       *exec.Cmd
	last      Stats // latest stats line
	lastK     int   // index of the last second delivered
	intervals int
	requests  int64
	done      bool // its stream has ended
	lost      bool
	logPath   string
}

// event is sent from a worker's reader to the merger.
type event struct {
	w     int
	iv    *report.Interval // nil when the worker has ended
	stats Stats            // the worker's counters at iv's end
	err   error            // the end: the stream's or the process's error
	dead  bool             // the end: the worker did not finish cleanly
}

// secondOf returns the index of the second an interval ending at end
// belongs to: 1 for the first second of the storm. An interval ending just
// after a whole second (the rotation's delay) belongs to that second.
func secondOf(start, end time.Time) int {
	return max(int(math.Ceil(end.Sub(start).Seconds()-0.2)), 0)
}

// run starts the workers, merges their streams second by second for
// OnInterval, and returns when every worker has ended.
func (c *Coordinator) run(ctx context.Context) error {
	cfg := c.cfg
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ws := make([]*workerState, cfg.Workers)
	events := make(chan event, 4*cfg.Workers)
	var readers sync.WaitGroup
	lose := func(l Loss) {
		c.losses = append(c.losses, l)
		if cfg.OnLoss != nil {
			cfg.OnLoss(l)
		}
		if cfg.FailOnLoss {
			cancel()
		}
	}
	for i := range ws {
		seg := agents.Segment{Index: i, Count: cfg.Workers}
		st := &workerState{seg: seg, lastK: -1, logPath: filepath.Join(cfg.Dir, fmt.Sprintf("worker-%d.log", i))}
		ws[i] = st
		hlogPath := filepath.Join(cfg.Dir, fmt.Sprintf("worker-%d.hlog", i))
		c.logs = append(c.logs, hlogPath)
		start := c.startWorker
		if i == 0 && cfg.Local != nil {
			start = func(i int, st *workerState, hlogPath string, events chan<- event, readers *sync.WaitGroup) error {
				return c.startLocal(ctx, st, hlogPath, events, readers)
			}
		}
		if err := start(i, st, hlogPath, events, &readers); err != nil {
			st.done, st.lost = true, true
			lose(Loss{Segment: seg, At: max(time.Since(cfg.Start), 0), Why: err.Error(), Log: st.logPath})
			continue
		}
		c.started++
	}
	if c.started == 0 {
		readers.Wait()
		return errors.New("no worker process could be started")
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

	m := newMerger(cfg, c.pool)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				m.flush(ws, true)
				c.stats = m.stats(ws)
				return nil
			}
			w := ws[ev.w]
			if ev.iv != nil {
				k := secondOf(cfg.Start, ev.iv.End)
				w.last = ev.stats
				w.lastK = max(w.lastK, k)
				w.intervals++
				w.requests += ev.iv.Count()
				m.add(k, ev.iv)
			} else {
				w.done = true
				if ev.dead && !w.lost {
					w.lost = true
					why := "its stream ended early"
					if ev.err != nil {
						why = ev.err.Error()
					}
					lose(Loss{Segment: w.seg, At: max(time.Since(cfg.Start), 0), Why: why, Intervals: w.intervals, Requests: w.requests, Log: w.logPath})
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

// startWorker starts worker i as a process (Config.Command) and a
// goroutine reading its stream into hlogPath and events.
func (c *Coordinator) startWorker(i int, st *workerState, hlogPath string, events chan<- event, readers *sync.WaitGroup) error {
	return c.startSegment(i, st, hlogPath, events, readers, func(logf *os.File) (io.Reader, func(error) error, error) {
		cmd := c.cfg.Command(i)
		cmd.Stderr = logf
		child.DieWithParent(cmd) // a coordinator that dies takes its workers with it
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, fmt.Errorf("worker %d: %w", i, err)
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("start worker %d: %w", i, err)
		}
		st.cmd = cmd
		return out, func(readErr error) error {
			if readErr != nil {
				_ = cmd.Process.Kill()
				_, _ = io.Copy(io.Discard, out)
			}
			if err := cmd.Wait(); err != nil {
				return fmt.Errorf("exit: %w", err)
			}
			return nil
		}, nil
	})
}

// startLocal runs segment 0 in this process (Config.Local), as startWorker
// does in a process; ctx's end stops it as SIGTERM stops a worker.
func (c *Coordinator) startLocal(ctx context.Context, st *workerState, hlogPath string, events chan<- event, readers *sync.WaitGroup) error {
	return c.startSegment(0, st, hlogPath, events, readers, func(logf *os.File) (io.Reader, func(error) error, error) {
		pr, pw := io.Pipe()
		code := make(chan int, 1)
		go func() {
			code <- c.cfg.Local(ctx, st.seg, pw, logf)
			_ = pw.Close()
		}()
		return pr, func(readErr error) error {
			if readErr != nil {
				_ = pr.CloseWithError(readErr) // the segment's next write fails: it ends
			}
			if exit := <-code; exit != exitOK {
				return fmt.Errorf("exit status %d", exit)
			}
			return nil
		}, nil
	})
}

// startSegment creates segment i's log files, launches it (launch returns
// its stream and how to wait for its end, told of a stream that could not
// be read) and starts a goroutine reading the stream into hlogPath and
// events, which gets an end event when the segment has ended.
func (c *Coordinator) startSegment(i int, st *workerState, hlogPath string, events chan<- event, readers *sync.WaitGroup,
	launch func(logf *os.File) (io.Reader, func(readErr error) error, error)) error {
	logf, err := os.Create(st.logPath)
	if err != nil {
		return fmt.Errorf("create its log: %w", err)
	}
	hf, err := os.Create(hlogPath)
	if err != nil {
		logf.Close()
		return fmt.Errorf("create its hlog: %w", err)
	}
	out, wait, err := launch(logf)
	if err != nil {
		logf.Close()
		hf.Close()
		return err
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		_, ended, rerr := c.readStream(out, hf, func(iv *report.Interval, s Stats) { events <- event{w: i, iv: iv, stats: s} })
		werr := wait(rerr)
		_ = hf.Close()
		_ = logf.Close()
		ev := event{w: i}
		switch {
		case rerr != nil:
			ev.err, ev.dead = rerr, true
		case werr != nil:
			ev.err, ev.dead = werr, true
		case !ended:
			ev.err, ev.dead = errors.New("its stream ended without an end line"), true
		}
		events <- ev
	}()
	return nil
}

// readStream reads a worker's stream to its end with hlog.Decoder:
// every whole interval is copied to log and handed to onInterval with the
// worker's stats line before it; an interval cut short by the end of the
// stream is dropped. It returns the last stats line read (the final one
// after the last interval, when the worker finished) and whether the
// stream had its end line.
func (c *Coordinator) readStream(r io.Reader, log io.Writer, onInterval func(*report.Interval, Stats)) (last Stats, ended bool, err error) {
	d := hlog.NewStrictDecoder(r, "worker stream")
	d.DecodeInto(c.pool)
	d.CopyTo(log)
	d.OnComment(func(line string) error {
		if !strings.HasPrefix(line, statsPrefix) {
			return nil
		}
		st, perr := parseStats(line)
		last = st
		return perr
	})
	checked := false
	for {
		iv, err := d.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, hlog.ErrTruncated) {
			return last, d.End() != nil, nil
		}
		if err != nil {
			return last, false, err
		}
		if m := d.Meta(); !checked {
			if !slices.Equal(m.Steps, c.cfg.Steps) || !slices.Equal(m.Regions, c.cfg.Regions) {
				return last, false, fmt.Errorf("worker stream: steps %v regions %v, want %v %v (a different profile?)", m.Steps, m.Regions, c.cfg.Steps, c.cfg.Regions)
			}
			checked = true
		}
		iv.ActiveAgents = int(last.Active)
		onInterval(iv.Interval, last)
	}
}
