package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// gameDayCartStep is the step whose answers' `mode` the degradation audit
// counts.
const gameDayCartStep = "add_to_cart"

// gameDay wires a profile's chaos schedule and audits into a run.
type gameDay struct {
	ex     *gameday.Executor
	col    *gameday.Collector
	tl     *gameday.Timeline
	admin  *gameday.Admin
	done   chan struct{}
	cancel context.CancelFunc
	// mark, when set, is told of each chaos action (the dashboard's markers).
	mark func(at time.Duration, text string)
	// noPatience: the profile lets no session abandon (see AnalyzeOptions).
	noPatience bool
}

// newGameDay prepares the game day of prof: sup is the bundled target (nil
// for a user's own system, where only exec actions run), targetDesc what
// exec commands get as AGENTSTORM_TARGET, start the storm's time zero.
func newGameDay(ctx context.Context, prof *profiles.Profile, sup *supervisor.Supervisor, targetDesc string, start time.Time, regions []string, out *syncWriter, tty bool) (*gameDay, error) {
	g := &gameDay{
		col:        gameday.NewCollector(start, gameDayCartStep),
		tl:         gameday.NewTimeline(start, regions),
		done:       make(chan struct{}),
		noPatience: !prof.HasPatience(),
	}
	g.ex = &gameday.Executor{Actions: prof.ChaosActions, Target: targetDesc, Start: start}
	if sup != nil {
		g.admin = &gameday.Admin{URL: sup.AdminURL(), Token: sup.Token()}
		topo, err := g.admin.Topology(ctx)
		if err != nil {
			return nil, fmt.Errorf("game day: read the bundled target's topology: %w", err)
		}
		g.ex.Admin, g.ex.Topology = g.admin, topo
		g.ex.Target = sup.AdminURL()
	}
	g.ex.OnEvent = func(e gameday.Event) {
		st := "ok"
		if e.Error != "" {
			st = "FAILED: " + e.Error
		}
		clear := "" // on a terminal, over the live line
		if tty {
			clear = "\r\x1b[K"
		}
		out.printf("%sChaos %6.1fs  %s  %s\n", clear, e.At.Seconds(), e.Name, st)
		if g.mark != nil {
			g.mark(e.At, "chaos "+e.Name+" "+st)
		}
	}
	return g, nil
}

// onAnswer is agents.Config.OnAnswer.
func (g *gameDay) onAnswer(a agents.Answer) {
	g.col.Observe(a.Step.Name, a.Region, a.BaseURL, a.Status, a.Body, a.Context.IdempotencyKey())
}

// start runs the schedule in the background until ctx ends.
func (g *gameDay) start(ctx context.Context) {
	ctx, g.cancel = context.WithCancel(ctx)
	go func() {
		defer close(g.done)
		g.ex.Run(ctx)
	}()
}

// finish waits for the schedule (its pending restores), lets the bundled
// target's queues drain, audits the orders, and puts the game day into
// sum: events, the "Game day" section, and the audit figures. It reports
// whether the audit names lost or duplicated orders, whose store should be
// kept for a look.
func (g *gameDay) finish(ctx context.Context, sum *report.Summary, out *syncWriter) (namesOrders bool) {
	g.cancel() // actions not yet due are dropped; owed restores still run
	select {
	case <-g.done:
	case <-time.After(2 * time.Minute):
	}
	if g.admin != nil {
		// A queue paused by the schedule would never drain.
		_ = g.admin.Do(ctx, "POST", "/admin/orders/resume", nil, nil)
	}
	// The blast radius is judged on gameday's default limits (p99 100 ms,
	// 1% errors).
	res := gameday.Analyze(g.ex.Events(), g.tl, g.col, gameday.AnalyzeOptions{NoPatience: g.noPatience})
	if g.admin != nil {
		// The order audit relies on the bundled target's contract (GET
		// /v1/orders/{id}: 404 means unknown); another system's 404 could
		// mean anything, so it is audited only here.
		n := len(g.col.Orders())
		out.printf("Game day: auditing %s accepted orders (waiting up to 20 s for the queues to drain)...\n", commas(n))
		oa := gameday.AuditOrders(ctx, g.col, gameday.AuditOptions{Wait: 20 * time.Second})
		res.Orders = &oa
	}
	for _, e := range res.Events {
		sum.Events = append(sum.Events, report.TimelineEvent{At: e.At, Name: e.Name, Error: e.Error})
	}
	lines := []string{"Verdict:"}
	for _, v := range res.Verdict() {
		lines = append(lines, "  "+v)
	}
	lines = append(lines, "")
	lines = append(lines, res.Lines()...)
	sum.Sections = append(sum.Sections, report.Section{Key: "gameday", Title: "Game day", Lines: lines, Data: res})
	if sum.Figures == nil {
		sum.Figures = map[string]float64{}
	}
	for k, v := range res.Figures() {
		sum.Figures[k] = v
	}
	return res.Orders != nil && (res.Orders.Lost > 0 || res.Orders.Duplicated > 0)
}

// describeChaos is one line naming the schedule, for the banner.
func describeChaos(acts []profiles.ChaosAction) string {
	parts := make([]string, 0, len(acts))
	for _, a := range acts {
		s := fmt.Sprintf("%s at %s", a.Name(), a.At)
		if a.Duration > 0 {
			s += " for " + a.Duration.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
