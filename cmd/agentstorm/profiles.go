package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/profiles"
)

func profilesCommand() command {
	return command{
		name:    "profiles",
		summary: "list, show and validate storm profiles (built-in or your own YAML)",
		run:     runProfiles,
	}
}

func printProfilesUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: agentstorm profiles COMMAND [ARGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A profile is a YAML file describing a storm: target, workload, population, flows, budgets.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	fmt.Fprintln(w, "  list             the built-in profiles with their one-line descriptions")
	fmt.Fprintln(w, "  show NAME        print a built-in profile's YAML (documented in its comments), to copy and edit:")
	fmt.Fprintln(w, "                     agentstorm profiles show smoke > my-storm.yaml")
	fmt.Fprintln(w, "  validate FILE... load and check profile files (or built-in names); every error is printed")
	fmt.Fprintln(w, "                   as file:line:column with what was expected and a hint")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintln(w, "  -h, --help       show this help")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok, 2 bad usage or an invalid profile.")
}

// runProfiles is `agentstorm profiles`.
func runProfiles(_ context.Context, env *cliEnv, args []string) int {
	fs := newCommandFlagSet("agentstorm profiles")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			printProfilesUsage(env.stdout)
			return exitOK
		}
		fmt.Fprintf(env.stderr, "agentstorm profiles: %v\n\n", err)
		printProfilesUsage(env.stderr)
		return exitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		printProfilesUsage(env.stderr)
		return exitUsage
	}
	switch rest[0] {
	case "list":
		if len(rest) > 1 {
			return profilesUsageError(env, "list takes no arguments")
		}
		return profilesList(env)
	case "show":
		if len(rest) != 2 {
			return profilesUsageError(env, "show takes one built-in profile NAME (see 'agentstorm profiles list')")
		}
		src, err := profiles.BuiltinSource(rest[1])
		if err != nil {
			fmt.Fprintf(env.stderr, "agentstorm profiles show: %v\n", err)
			return exitUsage
		}
		if _, err := env.stdout.Write(src); err != nil {
			fmt.Fprintf(env.stderr, "agentstorm profiles show: %v\n", err)
			return exitFailed
		}
		return exitOK
	case "validate":
		if len(rest) < 2 {
			return profilesUsageError(env, "validate takes one or more profile FILEs")
		}
		return profilesValidate(env, rest[1:])
	case "help":
		printProfilesUsage(env.stdout)
		return exitOK
	}
	return profilesUsageError(env, fmt.Sprintf("unknown profiles command %q; expected list, show or validate", rest[0]))
}

func profilesUsageError(env *cliEnv, msg string) int {
	return usageError(env, "profiles", "profiles", "usage", msg)
}

func profilesList(env *cliEnv) int {
	list := profiles.Builtins()
	width := 0
	for _, b := range list {
		width = max(width, len(b.Name))
	}
	for _, b := range list {
		mark := " "
		if b.Name == profiles.DefaultBuiltin {
			mark = "*"
		}
		fmt.Fprintf(env.stdout, "%s %-*s  %s\n", mark, width, b.Name, b.Description)
	}
	fmt.Fprintf(env.stdout, "\n* the default. 'agentstorm profiles show NAME' prints one to copy and edit.\n")
	return exitOK
}

// profilesValidate loads every file; a name that is not a file but is a
// built-in validates the built-in.
func profilesValidate(env *cliEnv, files []string) int {
	code := exitOK
	for _, f := range files {
		var p *profiles.Profile
		var err error
		if fi, statErr := os.Stat(f); (statErr != nil || fi.IsDir()) && !strings.ContainsAny(f, `/\.`) {
			p, err = profiles.Builtin(f)
		} else {
			p, err = profiles.LoadFile(f)
		}
		if err != nil {
			var les profiles.LoadErrors
			if errors.As(err, &les) {
				fmt.Fprintf(env.stderr, "%s: %d error(s):\n%v\n", f, len(les), les)
			} else {
				fmt.Fprintf(env.stderr, "%s: %v\n", f, err)
			}
			code = exitUsage
			continue
		}
		steps := 0
		for _, fl := range p.Flows {
			steps += len(fl.Steps)
		}
		fmt.Fprintf(env.stdout, "%s: ok (%s model, peak %d, %s; %d flows, %d steps, %d budgets)\n",
			f, p.Workload.Model, p.Workload.Peak(), p.Workload.Duration(), len(p.Flows), steps, len(p.Budgets))
	}
	return code
}
