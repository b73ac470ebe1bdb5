package main

import (
	"context"
	"fmt"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/metrics"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
	"github.com/agentstorm/agentstorm/report/dashboard"
	"github.com/agentstorm/agentstorm/report/finish"
	"github.com/agentstorm/agentstorm/report/hlog"
)

// prepare sets the time zero, makes the recorder, opens the interval log
// and lists the interval observers: the series, the log, the live budget
// checks (cancel stops the run), the metrics, the game day's timeline, the
// ramp and the live line, told of each interval in that order.
func (s *storm) prepare(ctx context.Context, cancel context.CancelFunc) int {
	env, prof, seg := s.env, s.prof, s.seg
	if s.workers > 1 && s.start.IsZero() {
		// Time for the workers to start and connect their first agents.
		s.start = time.Now().Add(time.Second + time.Duration(s.workers)*100*time.Millisecond)
	}
	if s.chaos && s.start.IsZero() {
		// One time zero for the recorder, the swarm and the schedule.
		s.start = time.Now().Add(200 * time.Millisecond)
		s.cfg.Start = s.start
	}
	recOpts := agents.RecorderOptions(prof)
	recOpts.Start = s.start
	s.rec = report.NewRecorder(recOpts)
	s.meta = runMeta(prof, s.f, s.bundled)
	if !seg.Whole() {
		s.meta["segment"] = seg.String()
	}
	s.series = report.NewSeriesCollector(s.rec.Start())
	if o, ok := finish.Find(s.outs, "hlog"); ok {
		var err error
		if s.hlogFile, err = report.CreateAtomic(o.Path); err == nil {
			s.logw, err = hlog.NewWriter(s.hlogFile, hlog.MetaOf(s.rec, s.meta, hlog.Budgets(s.bexprs, s.bsources)))
		}
		if err != nil {
			s.abortHlog()
			fmt.Fprintf(env.stderr, "agentstorm run: --out hlog=%s: %v\n", o.Path, err)
			return exitFailed
		}
	}
	s.tty = isTerminal(env.stdout)
	s.peakAgents = fleet.StormAgents(prof)
	if !seg.Whole() {
		s.peakAgents = seg.Share(s.peakAgents)
	}
	var obs agents.Observers
	obs.Add(func(iv *report.Interval, _ agents.Stats) { s.series.Add(iv) })
	obs.Add(s.writeInterval)
	live := budget.NewLiveChecker(s.budgets)
	obs.Add(func(iv *report.Interval, st agents.Stats) {
		if s.liveFail == nil && iv.Duration() >= 500*time.Millisecond {
			if lf := live.Check(iv, st.Elapsed); lf != nil {
				s.liveFail = lf
				s.out.printf("\nAborting: %s\n", lf)
				cancel()
			}
		}
	})
	var m *metrics.Metrics // nil when no metrics are exported
	if s.f.metricsAddr != "" || s.f.push.target() != "" {
		var labels map[string]string
		if !seg.Whole() {
			labels = map[string]string{"segment": seg.String()}
		}
		m = metrics.New(s.rec.Steps(), s.rec.Regions(), labels)
		if s.f.metricsAddr != "" {
			addr, _, err := m.Serve(ctx, s.f.metricsAddr)
			if err != nil {
				fmt.Fprintf(env.stderr, "agentstorm run: --metrics-addr: %v\n", err)
				return exitUsage
			}
			s.notes = append(s.notes, "Prometheus metrics at http://"+addr+"/metrics")
		}
		stopPush, note, err := startRemoteWrite(m, &s.f.push, env.stderr)
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: --remote-write: %v\n", err)
			return exitUsage
		}
		if stopPush != nil {
			s.stopPush = stopPush
			s.notes = append(s.notes, note)
		}
		obs.Add(func(iv *report.Interval, st agents.Stats) {
			m.Observe(iv, metrics.Snapshot{Active: st.Active, Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors})
		})
	}
	var err error
	// The dashboard outlives an abort: it serves until the command exits.
	if s.dash, err = startDashboard(context.WithoutCancel(ctx), s.f.dashboard, s.budgets, &s.out, env.stderr, "agentstorm run"); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
		return exitUsage
	}
	if s.dash != nil {
		workers := 0 // one process: no workers' health to show
		if s.workers > 1 {
			workers = s.workers
		}
		unmeasured := report.UnmeasuredSessions(s.meta, 0) // no patience: no abandonment to show, not 0%
		obs.Add(func(iv *report.Interval, st agents.Stats) {
			s.dash.Observe(iv, dashboard.Figures{Elapsed: st.Elapsed, Agents: st.Active, Connections: st.Connected,
				Workers: workers, Lost: s.lostLive, Unmeasured: unmeasured})
		})
	}
	if s.chaos {
		desc := s.cfg.BaseURL
		if desc == "" {
			desc = describeTarget(prof.Target)
		}
		if s.gd, err = newGameDay(ctx, prof, s.sup, desc, s.start, s.rec.Regions(), &s.out, s.tty); err != nil {
			fmt.Fprintf(env.stderr, "agentstorm run: %v\n", err)
			return exitFailed
		}
		s.notes = append(s.notes, "game day: "+describeChaos(prof.ChaosActions))
		s.gd.exportChaos(m)
		if s.dash != nil {
			s.gd.mark = s.dash.Mark
		}
		s.cfg.OnAnswer = s.gd.onAnswer
		obs.Add(func(iv *report.Interval, _ agents.Stats) { s.gd.tl.Add(iv) })
	}
	if s.sup != nil {
		var urls []string
		for _, sh := range s.sup.Topology().Shards {
			urls = append(urls, sh.URL)
		}
		start := s.start
		if start.IsZero() {
			start = time.Now()
		}
		s.checkout = watchCheckout(urls, start, time.Second)
	}
	obs.Add(s.ramp.observe(s.peakAgents))
	obs.Add(s.liveLine)
	s.cfg.OnInterval = obs.ObserveInterval
	if s.gd != nil {
		s.gd.start(ctx)
	}
	return exitOK
}

// writeInterval appends an interval to the hlog; a log that cannot be
// written is said once and not kept.
func (s *storm) writeInterval(iv *report.Interval, _ agents.Stats) {
	if s.logw == nil {
		return
	}
	if err := s.logw.WriteInterval(iv); err != nil {
		s.out.printf("\nagentstorm run: --out hlog=%s: %v (the log is not kept)\n", s.hlogFile.Path(), err)
		s.logw, s.hlogFailed = nil, true
	}
}

// liveLine prints the live line: in place on a terminal, every few
// seconds elsewhere.
func (s *storm) liveLine(iv *report.Interval, st agents.Stats) {
	if s.f.quiet || iv.Duration() < 500*time.Millisecond {
		return // quiet, or the sliver between the last full second and the end
	}
	line := report.LiveLine(iv, st.Elapsed, st.Planned, int(st.Active)) + fmt.Sprintf("  conns %s", commas(int(st.Connected)))
	if s.tty {
		s.out.printf("\r%s\x1b[K", line)
		return
	}
	if now := time.Now(); now.Sub(s.lastPrint) >= nonTTYEvery-100*time.Millisecond {
		s.lastPrint = now
		s.out.printf("%s\n", line)
	}
}

// abortHlog removes a log not committed (a no-op after the commit).
func (s *storm) abortHlog() {
	if s.hlogFile != nil {
		s.hlogFile.Abort()
	}
}
