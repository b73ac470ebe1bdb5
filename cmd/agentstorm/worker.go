package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/profiles"
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
	total := fleet.StormAgents(prof)
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
