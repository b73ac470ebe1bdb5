package main

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// newCommandFlagSet returns an empty flag set for a subcommand: errors are
// returned rather than printed, flags keep their declaration order, and
// help is printed by the subcommand itself (see printFlags).
func newCommandFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	return fs
}

// printFlags writes the "Flags:" section of a subcommand's --help to w.
func printFlags(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Flags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError reports bad usage of the command cmd (such as "run"), points
// at helpCmd's --help (such as "k6 ingest") for what, and returns exit code 2.
func usageError(env *cliEnv, cmd, helpCmd, what, msg string) int {
	fmt.Fprintf(env.stderr, "agentstorm %s: %s\nRun 'agentstorm %s --help' for %s.\n", cmd, msg, helpCmd, what)
	return exitUsage
}
