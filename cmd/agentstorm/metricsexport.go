package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/metrics"
)

// This file wires run to the metrics package's push path and game-day
// annotations.

// remoteWriteEnv holds the remote-write URL when --remote-write is not
// given: a URL with a password is better kept out of the process list.
const remoteWriteEnv = "AGENTSTORM_REMOTE_WRITE_URL"

// pushFlags are run's flags for pushing metrics to a remote-write receiver.
type pushFlags struct {
	url   string
	every time.Duration
}

// addPushFlags declares --remote-write and --remote-write-every into fs.
func addPushFlags(fs *pflag.FlagSet, p *pushFlags) {
	fs.StringVar(&p.url, "remote-write", "", "push the metrics (the series --metrics-addr serves as text) to this Prometheus remote-write URL while the storm runs and once more at the end, for pods that may end before a scrape, e.g. http://prometheus:9090/api/v1/write (default $"+remoteWriteEnv+", the place for a URL with user:password)")
	fs.DurationVar(&p.every, "remote-write-every", 5*time.Second, "time between remote-write pushes")
}

// target returns the remote-write URL: the flag's, else the environment's.
func (p *pushFlags) target() string {
	if p.url != "" {
		return p.url
	}
	return os.Getenv(remoteWriteEnv)
}

// startRemoteWrite starts pushing m when a remote-write URL is set. stop
// (nil without one) pushes the final state, waiting at most 10 s, and says
// on stderr when pushes failed; a lost push does not fail the run.
func startRemoteWrite(m *metrics.Metrics, p *pushFlags, stderr io.Writer) (stop func(), note string, err error) {
	url := p.target()
	if url == "" {
		return nil, "", nil
	}
	pusher, err := m.PushTo(url, metrics.PushOptions{Every: p.every})
	if err != nil {
		return nil, "", err
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := pusher.Close(ctx); err != nil {
			fmt.Fprintf(stderr, "agentstorm run: --remote-write: %v\n", err)
		}
	}
	return stop, fmt.Sprintf("metrics pushed by remote write every %s", p.every), nil
}

// exportChaos adds every chaos action of the game day to m (when not nil),
// for a dashboard's annotations.
func (g *gameDay) exportChaos(m *metrics.Metrics) {
	if m == nil {
		return
	}
	print := g.ex.OnEvent
	g.ex.OnEvent = func(e gameday.Event) {
		m.ChaosAction(e.Time, e.At, e.Action, e.Name, e.Regions, e.Error != "")
		if print != nil {
			print(e)
		}
	}
}
