package main

import (
	"context"

	"github.com/agentstorm/agentstorm/target"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// targetShardCommand is the hidden subcommand `agentstorm target` starts once
// per shard (see target.RunShardMain for its flags).
func targetShardCommand() command {
	return command{
		name:    supervisor.ShardSubcommand,
		summary: "run one shard of the reference checkout (started by 'agentstorm target')",
		hidden:  true,
		run: func(ctx context.Context, env *cliEnv, args []string) int {
			ctx, cancel := cancelOnInterrupt(ctx, env)
			defer cancel()
			return target.RunShardMain(ctx, args, env.stdout, env.stderr)
		},
	}
}
