package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise
// the module version from the build info is shown.
var version = "dev"

func versionCommand() command {
	return command{
		name:    "version",
		summary: "print the version of agentstorm and of the Go it was built with",
		run: func(_ context.Context, env *cliEnv, args []string) int {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				fmt.Fprintln(env.stdout, "Usage: agentstorm version\n\nPrints the version of agentstorm and of the Go it was built with.")
				return exitOK
			}
			if len(args) > 0 {
				return usageError(env, "version", "version", "usage", fmt.Sprintf("takes no arguments; got %q", args))
			}
			v := version
			if info, ok := debug.ReadBuildInfo(); ok && v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
				v = info.Main.Version
			}
			fmt.Fprintf(env.stdout, "agentstorm %s (%s, %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		},
	}
}
