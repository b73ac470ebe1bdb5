// Command agentstorm storms a checkout with swarms of shopping agents and
// reports, in HDR histograms, whether it stayed under its latency budgets.
//
// Each subcommand lives in its own file; this file only dispatches.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/report/finish"
)

// Exit codes shared by every subcommand (k6 uses 99 for missed thresholds).
const (
	exitOK     = finish.ExitOK
	exitFailed = finish.ExitFailed
	exitUsage  = finish.ExitUsage
	// exitBudgetMissed is decided by finish.Run alone; tests name it.
	exitBudgetMissed = finish.ExitBudgetMissed
	// exitInterrupted: Ctrl-C or SIGTERM cut the run short (k6's 105).
	exitInterrupted = finish.ExitInterrupted
)

// command is one subcommand: its name, a one-line summary for the help
// screen, and the function that runs it with the arguments after its name.
type command struct {
	name    string
	summary string
	hidden  bool
	run     func(ctx context.Context, env *cliEnv, args []string) int
	// flags returns a fresh flag set of the command (nil: no flags), for
	// shell completion; subs are its subcommands; args is whether it takes
	// arguments (files, names) besides flags.
	flags func() *pflag.FlagSet
	subs  []string
	args  bool
}

// cliEnv is what a subcommand may touch of the outside world, so tests can
// run subcommands in-process with their own streams.
type cliEnv struct {
	stdout io.Writer
	stderr io.Writer
	// interrupts delivers SIGINT/SIGTERM; nil when signals are not watched.
	interrupts <-chan os.Signal
}

// commands returns every subcommand by name.
func commands() map[string]command {
	list := []command{
		versionCommand(),
		profilesCommand(),
		targetCommand(),
		targetShardCommand(),
		runCommand(),
		workerCommand(),
		reportCommand(),
		k6Command(),
		completionCommand(),
	}
	m := make(map[string]command, len(list))
	for _, c := range list {
		m[c.name] = c
	}
	return m
}

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, interrupts: sigs}
	if err := setStormScheduling(os.Stderr, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "agentstorm: %v\n", err)
		os.Exit(exitUsage)
	}
	os.Exit(withCPUProfile(os.Stderr, os.Args[1:], func() int {
		return runCLI(context.Background(), env, os.Args[1:])
	}))
}

// runCLI dispatches args to a subcommand and returns the process exit code.
func runCLI(ctx context.Context, env *cliEnv, args []string) int {
	cmds := commands()
	if len(args) == 0 {
		printUsage(env.stdout, cmds)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		printUsage(env.stdout, cmds)
		return exitOK
	case "help":
		return runHelp(ctx, env, cmds, args[1:])
	case "-v", "--version":
		args = []string{"version"}
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "agentstorm: unknown command %q\n\n", args[0])
		printUsage(env.stderr, cmds)
		return exitUsage
	}
	return c.run(ctx, env, args[1:])
}

// summariseOnInterrupt watches env's interrupts for a command that
// summarises what it has when stopped (run, k6 ingest): the first
// SIGINT/SIGTERM closes interrupted, calls cancel (which ends runCtx) and
// prints first on stderr; a second one calls second, if not nil, and exits
// the process at once. The watch ends when runCtx ends before an interrupt,
// when ctx ends, or when stop is called (defer it).
func summariseOnInterrupt(ctx, runCtx context.Context, env *cliEnv, cancel context.CancelFunc, first string, second func()) (interrupted <-chan struct{}, stop func()) {
	intr := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case <-env.interrupts:
		case <-runCtx.Done():
			return
		}
		close(intr)
		cancel()
		fmt.Fprintln(env.stderr, first)
		select {
		case <-env.interrupts:
			if second != nil {
				second()
			}
			os.Exit(exitInterrupted)
		case <-ctx.Done():
		case <-done:
		}
	}()
	return intr, func() { close(done) }
}

// cancelOnInterrupt returns a child of ctx that is cancelled by the first
// SIGINT/SIGTERM on env's interrupts; the caller must call cancel, which
// also ends the goroutine watching for the signal.
func cancelOnInterrupt(ctx context.Context, env *cliEnv) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-env.interrupts:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
