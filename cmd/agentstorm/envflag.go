package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/profiles"
)

// envVars is --env/-e NAME=VALUE (repeatable, as k6 has it): values of a
// profile's ${NAME} and ${secret:NAME}, which win over the process
// environment.
type envVars struct {
	vals  map[string]string
	names []string // in the order given, for String
	bad   string   // a message for the first argument that is not NAME=VALUE
}

// addEnvFlag declares --env/-e into fs.
func addEnvFlag(fs *pflag.FlagSet, e *envVars) {
	fs.VarP(e, "env", "e", "the value of ${NAME} or ${secret:NAME} in the profile (repeatable; wins over the process environment, which the profile also reads; values given here show in the process list: pass secrets in the environment)")
}

// Set records one NAME=VALUE. A bad argument is not refused here: pflag
// would print it, and it may hold a secret; see check.
func (e *envVars) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || !profiles.IsVarName(name) {
		if e.bad == "" {
			e.bad = fmt.Sprintf("--env: argument %d is not NAME=VALUE (NAME: letters, digits and _, not starting with a digit); it is not shown, as it may hold a secret", len(e.names)+1)
		}
		e.names = append(e.names, "?")
		return nil
	}
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	e.vals[name] = val
	e.names = append(e.names, name)
	return nil
}

// String lists the names only: values may be secret.
func (e *envVars) String() string { return strings.Join(e.names, ",") }

// Type is the placeholder pflag shows in --help.
func (e *envVars) Type() string { return "NAME=VALUE" }

// check returns a message for a bad --env argument, or "".
func (e *envVars) check() string { return e.bad }

// lookup returns the value of a profile variable: --env first, then the
// process environment.
func (e *envVars) lookup(name string) (string, bool) {
	if v, ok := e.vals[name]; ok {
		return v, true
	}
	return os.LookupEnv(name)
}

// passTo gives cmd (a worker process) the --env values in its environment,
// where its own lookup finds them ahead of the rest, rather than on its
// command line, which any user of the machine can read.
func (e *envVars) passTo(cmd *exec.Cmd) *exec.Cmd {
	if len(e.vals) == 0 {
		return cmd
	}
	env := os.Environ()
	for name, v := range e.vals {
		env = append(env, name+"="+v) // the last of a duplicate name wins
	}
	cmd.Env = env
	return cmd
}
