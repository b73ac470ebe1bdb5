package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
	"github.com/agentstorm/agentstorm/report/dashboard"
)

// defaultDashboardAddr is where --dashboard alone serves (k6's port).
const defaultDashboardAddr = "127.0.0.1:5665"

// addDashboardFlag declares --dashboard[=ADDR].
func addDashboardFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "dashboard", "", "serve a live dashboard of the storm at http://ADDR (--dashboard alone: "+defaultDashboardAddr+"); it offers the HTML report at the end")
	fs.Lookup("dashboard").NoOptDefVal = defaultDashboardAddr
}

// liveDashboard is a command's dashboard and the server that shows it.
type liveDashboard struct {
	*dashboard.Dashboard
	stop func()
}

// startDashboard serves a dashboard judging budgets at addr until the
// returned dashboard is stopped, prints its address on stdout ("Dashboard:
// http://ADDR", which tests parse) and warns on stderr when the address is
// not loopback. A nil dashboard (no error) means none was asked for.
func startDashboard(ctx context.Context, addr string, budgets []*budget.Budget, stdout, stderr io.Writer, cmd string) (*liveDashboard, error) {
	if addr == "" {
		return nil, nil
	}
	if !dashboard.Loopback(addr) {
		fmt.Fprintf(stderr, "%s: warning: --dashboard %s is reachable from other machines (the page shows the target's figures); use 127.0.0.1:PORT to keep it local\n", cmd, addr)
	}
	d := dashboard.New(budgets)
	sctx, cancel := context.WithCancel(ctx)
	got, done, err := dashboard.Serve(sctx, addr, d)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("--dashboard: %w", err)
	}
	fmt.Fprintf(stdout, "Dashboard: http://%s\n", got)
	return &liveDashboard{Dashboard: d, stop: func() { cancel(); <-done }}, nil
}

// end offers the run's HTML report on the dashboard and gives the pages
// open a moment to fetch it (they keep it once the command has exited).
func (l *liveDashboard) end(sum *report.Summary, stderr io.Writer, cmd string) {
	if l == nil {
		return
	}
	if err := l.Finish(sum); err != nil {
		fmt.Fprintf(stderr, "%s: --dashboard: %v\n", cmd, err)
		return
	}
	l.WaitFetched(3 * time.Second)
}

// close stops the server (a nil dashboard is none).
func (l *liveDashboard) close() {
	if l != nil {
		l.stop()
	}
}
