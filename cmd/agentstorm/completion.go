package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report/finish"
)

func completionCommand() command {
	return command{
		name:    "completion",
		summary: "print a shell completion script: completion bash|zsh|fish (commands, flags, profile names, output kinds)",
		run:     runCompletion,
		subs:    []string{"bash", "zsh", "fish"},
		args:    true,
	}
}

func printCompletionUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: agentstorm completion bash|zsh|fish")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Prints a script that completes agentstorm's commands, the flags of each command (read from")
	fmt.Fprintln(w, "the binary's own flag definitions), built-in profile names after --profile and output kinds")
	fmt.Fprintln(w, "after --out. Load it:")
	fmt.Fprintln(w, "  bash  source <(agentstorm completion bash)           (in ~/.bashrc)")
	fmt.Fprintln(w, "  zsh   source <(agentstorm completion zsh)            (in ~/.zshrc, after compinit),")
	fmt.Fprintln(w, "        or save it as _agentstorm in a directory of $fpath")
	fmt.Fprintln(w, "  fish  agentstorm completion fish | source            (or save it as")
	fmt.Fprintln(w, "        ~/.config/fish/completions/agentstorm.fish)")
}

// runCompletion is `agentstorm completion SHELL`.
func runCompletion(_ context.Context, env *cliEnv, args []string) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		printCompletionUsage(env.stdout)
		return exitOK
	}
	if len(args) != 1 {
		return usageError(env, "completion", "completion", "usage", fmt.Sprintf("give one shell, bash, zsh or fish; got %q", args))
	}
	cmds := completionSpecs(commands())
	switch args[0] {
	case "bash":
		writeCaseCompletion(env.stdout, bashDialect, cmds)
	case "zsh":
		writeCaseCompletion(env.stdout, zshDialect, cmds)
	case "fish":
		writeFishCompletion(env.stdout, cmds)
	default:
		return usageError(env, "completion", "completion", "usage", fmt.Sprintf("no completion for shell %q: want bash, zsh or fish", args[0]))
	}
	return exitOK
}

// complCmd is what a completion script knows of one command.
type complCmd struct {
	name, summary string
	subs          []string
	args          bool // takes arguments (files, names) besides flags
	flags         []complFlag
}

// complFlag is what a completion script knows of one flag.
type complFlag struct {
	long, short, usage string
	value              bool     // takes a value
	choices            []string // values to offer (nil: files)
	noSpace            bool     // a choice is the start of the value (KIND=)
}

// names returns the flag's spellings: --long, and -s when it has one.
func (f complFlag) names() []string {
	if f.short == "" {
		return []string{"--" + f.long}
	}
	return []string{"-" + f.short, "--" + f.long}
}

// completionSpecs describes the visible commands, with help, for the
// completion scripts; the flags come from the commands' own flag sets.
func completionSpecs(cmds map[string]command) []complCmd {
	visible := visibleCommands(cmds)
	out := make([]complCmd, 0, len(visible)+1)
	for _, n := range visible {
		c := cmds[n]
		cc := complCmd{name: n, summary: c.summary, subs: c.subs, args: c.args}
		if c.flags != nil {
			c.flags().VisitAll(func(f *pflag.Flag) { cc.flags = append(cc.flags, complFlagOf(f)) })
		}
		cc.flags = append(cc.flags, complFlag{long: "help", short: "h", usage: "show the help of " + n})
		out = append(out, cc)
	}
	return append(out, complCmd{name: "help", summary: "print the help of a command", subs: visible, args: true})
}

// complFlagOf describes f; --profile offers the built-in profiles, --out
// the output kinds.
func complFlagOf(f *pflag.Flag) complFlag {
	cf := complFlag{long: f.Name, short: f.Shorthand, usage: f.Usage, value: f.NoOptDefVal == ""}
	switch f.Name {
	case "profile":
		for _, b := range profiles.Builtins() {
			cf.choices = append(cf.choices, b.Name)
		}
	case "out":
		for _, k := range strings.Split(finish.Kinds(true), ", ") {
			cf.choices = append(cf.choices, k+"=")
		}
		cf.noSpace = true
	}
	return cf
}

// topWords are what may follow agentstorm itself.
func topWords(cmds []complCmd) []string {
	words := make([]string, 0, len(cmds)+4)
	for _, c := range cmds {
		words = append(words, c.name)
	}
	return append(words, "-h", "--help", "-v", "--version")
}

// flagWords lists every spelling of c's flags.
func (c complCmd) flagWords() []string {
	var words []string
	for _, f := range c.flags {
		words = append(words, f.names()...)
	}
	return words
}
