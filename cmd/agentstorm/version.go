package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..." (the
// image build does); otherwise buildVersion reads the build info.
var version string

// buildVersion is the version agentstorm says it is: -X main.version when
// set, else what the Go toolchain recorded in the binary (see
// versionOf), else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	info, _ := debug.ReadBuildInfo()
	return versionOf(info)
}

// versionOf returns the version in a binary's build info: the module
// version (`go install ...@v1.2.3`, or the pseudo-version Go 1.24 and
// later derive from the VCS, such as v0.0.0-20261207012540-5beb25f1a2b3+dirty),
// else dev-REVISION (12 hex digits), with -dirty when the work tree had
// changes, from the VCS stamp; "dev" when info says neither.
func versionOf(info *debug.BuildInfo) string {
	if info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev-" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version of agentstorm and of the Go it was built with (also -v, --version)",
		run: func(_ context.Context, env *cliEnv, args []string) int {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				fmt.Fprintln(env.stdout, "Usage: agentstorm version   (or agentstorm -v, agentstorm --version)")
				fmt.Fprintln(env.stdout)
				fmt.Fprintln(env.stdout, "Prints the version of agentstorm and of the Go it was built with. A release says its")
				fmt.Fprintln(env.stdout, "version; a local build the module's version from `go install`, or the commit it was")
				fmt.Fprintln(env.stdout, "built from (with -dirty if the work tree had changes).")
				return exitOK
			}
			if len(args) > 0 {
				return usageError(env, "version", "version", "usage", fmt.Sprintf("takes no arguments; got %q", args))
			}
			fmt.Fprintf(env.stdout, "agentstorm %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		},
	}
}
