package main

import (
	"fmt"
	"io"
	"os"

	"github.com/agentstorm/agentstorm/internal/sched"
	"github.com/agentstorm/agentstorm/target/supervisor"
)

// schedEnv chooses how the kernel schedules a storm's processes:
// "batch" (the default) or "normal" (the kernel's default policy).
const schedEnv = "AGENTSTORM_SCHED"

// setStormScheduling makes the processes of a storm (run and its workers,
// the bundled target and its shards) SCHED_BATCH unless schedEnv says
// "normal" (see sched.Batch: on one machine the generator's and the
// checkout's loops stop preempting each other at every request; the
// default storm then costs 14% less CPU a request, bench/RESULTS.md,
// session 10). Other commands keep the default. It returns an error for a
// schedEnv it does not know; a policy the kernel refuses is reported on
// stderr and the command runs with the default.
func setStormScheduling(stderr io.Writer, args []string) error {
	if len(args) == 0 {
		return nil
	}
	switch args[0] {
	case "run", "worker", "target", supervisor.ShardSubcommand:
	default:
		return nil
	}
	switch v := os.Getenv(schedEnv); v {
	case "", "batch":
	case "normal":
		return nil
	default:
		return fmt.Errorf("%s=%q: want batch (the default) or normal", schedEnv, v)
	}
	if err := sched.Batch(); err != nil {
		fmt.Fprintf(stderr, "agentstorm: %v (running with the kernel's default scheduling)\n", err)
	}
	return nil
}
