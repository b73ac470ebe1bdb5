package main

import (
	"context"
	"fmt"
	"io"
	"sort"
)

// visibleCommands returns the names of the commands shown to users, sorted.
func visibleCommands(cmds map[string]command) []string {
	names := make([]string, 0, len(cmds))
	for n, c := range cmds {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func printUsage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "agentstorm: storm a checkout with shopping agents and measure every answer in HDR histograms.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: agentstorm COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, n := range visibleCommands(cmds) {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "print the help of a command: agentstorm help COMMAND (same as agentstorm COMMAND --help)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags: -h, --help this help; -v, --version the version.")
	fmt.Fprintln(w, "Run 'agentstorm help COMMAND' for the flags of a command and their defaults.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 the run failed, 2 bad usage or bad profile, 99 budgets not met, 105 interrupted.")
}

// runHelp is `agentstorm help [COMMAND [SUBCOMMAND]]`: the top-level help,
// or the command's own --help.
func runHelp(ctx context.Context, env *cliEnv, cmds map[string]command, args []string) int {
	if len(args) == 0 {
		printUsage(env.stdout, cmds)
		return exitOK
	}
	if args[0] == "help" && len(args) == 1 {
		fmt.Fprintln(env.stdout, "Usage: agentstorm help [COMMAND [SUBCOMMAND]]\n\nPrints the help of a command, or with no command the list of commands.")
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok || c.hidden {
		fmt.Fprintf(env.stderr, "agentstorm help: unknown command %q; the commands are: %v\n", args[0], visibleCommands(cmds))
		return exitUsage
	}
	if len(args) > 2 {
		return usageError(env, "help", "help", "usage", fmt.Sprintf("takes a COMMAND and at most one SUBCOMMAND; got %q", args))
	}
	return c.run(ctx, env, append(args[1:len(args):len(args)], "--help"))
}
