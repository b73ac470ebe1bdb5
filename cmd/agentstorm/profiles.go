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
		flags:   func() *pflag.FlagSet { return newProfilesFlagSet(&envVars{}) },
		subs:    []string{"list", "show", "validate"},
		args:    true,
	}
}

// newProfilesFlagSet declares the flags of `agentstorm profiles` into vars.
func newProfilesFlagSet(vars *envVars) *pflag.FlagSet {
	fs := newCommandFlagSet("agentstorm profiles")
	addEnvFlag(fs, vars)
	return fs
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
	fmt.Fprintln(w, "  show FILE        print a profile file with its ${NAME} variables filled in (secrets as ***)")
	fmt.Fprintln(w, "  validate FILE... load and check profile files (or built-in names); every error is printed")
	fmt.Fprintln(w, "                   as file:line:column with what was expected and a hint")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	fmt.Fprintln(w, "  -e, --env NAME=VALUE  the value of ${NAME} in the profile (repeatable; wins over the")
	fmt.Fprintln(w, "                   process environment, which the profile also reads)")
	fmt.Fprintln(w, "  -h, --help       show this help")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 ok, 2 bad usage or an invalid profile.")
}

// runProfiles is `agentstorm profiles`.
func runProfiles(_ context.Context, env *cliEnv, args []string) int {
	var vars envVars
	fs := newProfilesFlagSet(&vars)
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
	if msg := vars.check(); msg != "" {
		return profilesUsageError(env, msg)
	}
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
			return profilesUsageError(env, "show takes one built-in profile NAME (see 'agentstorm profiles list') or profile FILE")
		}
		src, err := profiles.BuiltinSource(rest[1])
		if isProfileFile(rest[1]) {
			src, err = resolvedProfile(rest[1], vars.lookup)
		}
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
		return profilesValidate(env, rest[1:], vars.lookup)
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
func profilesValidate(env *cliEnv, files []string, lookup profiles.Lookup) int {
	code := exitOK
	for _, f := range files {
		var p *profiles.Profile
		var err error
		if isProfileFile(f) {
			p, err = profiles.LoadFileWith(f, lookup)
		} else {
			p, err = profiles.Builtin(f)
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

// isProfileFile reports whether name is a profile file rather than the
// name of a built-in: it exists, or looks like a path.
func isProfileFile(name string) bool {
	fi, err := os.Stat(name)
	return (err == nil && !fi.IsDir()) || strings.ContainsAny(name, `/\.`)
}

// resolvedProfile reads the profile file name and returns it with its
// variables filled in from lookup, secrets redacted.
func resolvedProfile(name string, lookup profiles.Lookup) ([]byte, error) {
	src, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read profile: %w", err)
	}
	return profiles.Resolved(name, src, lookup)
}
