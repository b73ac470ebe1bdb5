package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/report/finish"
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

// addOutFlag declares --out/-o (KIND=PATH, repeatable, as k6's) into p; note, if not
// empty, follows the list of kinds in the help, such as what hlog means for
// the command.
func addOutFlag(fs *pflag.FlagSet, p *[]string, note string) {
	help := "write an output: KIND=PATH, repeatable; kinds: " + finish.Kinds(true)
	if note != "" {
		help += " (" + note + ")"
	}
	fs.StringArrayVarP(p, "out", "o", nil, help)
}

// addQuietFlag declares --quiet/-q (no text summary) into p; note, if not
// empty, says what else the command leaves out.
func addQuietFlag(fs *pflag.FlagSet, p *bool, note string) {
	help := "do not print the text summary"
	if note != "" {
		help += " (" + note + ")"
	}
	fs.BoolVarP(p, "quiet", "q", false, help)
}

// parseFlags parses args into fs. On --help it prints help to stdout and
// returns exitOK; on bad flags it returns usageErr's code. ok is true when
// the command should go on.
func parseFlags(env *cliEnv, fs *pflag.FlagSet, args []string, help func(io.Writer, *pflag.FlagSet), usageErr func(*cliEnv, string) int) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			help(env.stdout, fs)
			return exitOK, false
		}
		return usageErr(env, err.Error()), false
	}
	return exitOK, true
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
