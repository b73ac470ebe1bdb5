package main

import (
	"context"

	"github.com/agentstorm/agentstorm/agents/fleet"
)

// workerCommand is the hidden subcommand `agentstorm run` starts once per
// worker process (see fleet.RunWorkerMain for its flags and its stream).
func workerCommand() command {
	return command{
		name:    "worker",
		summary: "run one segment of a storm and stream its interval histograms to stdout (started by 'run')",
		hidden:  true,
		run: func(ctx context.Context, env *cliEnv, args []string) int {
			ctx, cancel := cancelOnInterrupt(ctx, env)
			defer cancel()
			return fleet.RunWorkerMain(ctx, args, env.stdout, env.stderr)
		},
	}
}
