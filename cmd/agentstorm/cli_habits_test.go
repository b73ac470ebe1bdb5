package main

import (
	"context"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestRunQuietAndShortFlags: k6's short forms -u, -d, -o and -q mean what
// their long forms do; -q leaves out the banner, the live line and the
// text summary, but the outputs are written and said.
func TestRunQuietAndShortFlags(t *testing.T) {
	base := okServer(t)
	js := filepath.Join(t.TempDir(), "run.json")
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, tinyProfile), "--target", base,
		"-u", "2", "-d", "2s", "--ramp", "0s", "-q", "-o", "json="+js)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, unwanted := range []string{"Profile tiny", "Sub-100 ms compliance", "req/s", "Connections:"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("quiet run printed %q:\n%s", unwanted, out)
		}
	}
	if out != "Wrote json: "+js+"\n" {
		t.Errorf("quiet run printed:\n%s\nwant only where the output went", out)
	}
	sum := readJSONFile[struct {
		Elapsed float64 `json:"elapsed_seconds"`
		Meta    struct {
			Version string `json:"version"`
		} `json:"meta"`
	}](t, js)
	if sum.Elapsed < 1.5 || sum.Elapsed > 4 {
		t.Errorf("-d 2s ran %v s", sum.Elapsed)
	}
	if sum.Meta.Version == "" || sum.Meta.Version != buildVersion() {
		t.Errorf("meta version %q, want %q", sum.Meta.Version, buildVersion())
	}
	// -u is --agents: its value is checked as --agents'.
	var o, e runBuffer
	if code := runCLI(context.Background(), &cliEnv{stdout: &o, stderr: &e}, []string{"run", "-u", "0"}); code != exitUsage || !strings.Contains(e.String(), "--agents 0") {
		t.Errorf("run -u 0: exit %d, stderr %q", code, e.String())
	}
}

// cli runs agentstorm args in-process and returns its exit code and output.
func cli(args ...string) (int, string, string) {
	var out, errOut runBuffer
	code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// TestHelpCommand: `help CMD [SUB]` is CMD's own --help, `help` the
// top-level help, and an unknown CMD is bad usage.
func TestHelpCommand(t *testing.T) {
	_, top, _ := cli("--help")
	for _, c := range [][]string{{"run"}, {"report"}, {"k6", "ingest"}, {"profiles"}, {"target"}, {"version"}, {"completion"}} {
		code, got, errOut := cli(append([]string{"help"}, c...)...)
		_, want, _ := cli(append(c, "--help")...)
		if code != exitOK || got != want || got == top || got == "" {
			t.Errorf("help %v: exit %d, stderr %q, stdout:\n%s\nwant the output of %v --help:\n%s", c, code, errOut, got, c, want)
		}
	}
	if code, got, _ := cli("help"); code != exitOK || got != top || !strings.Contains(top, "Commands:") {
		t.Errorf("help: exit %d, stdout:\n%s\nwant the top-level help:\n%s", code, got, top)
	}
	for _, bad := range []string{"nope", "worker"} {
		if code, out, errOut := cli("help", bad); code != exitUsage || !strings.Contains(errOut, `unknown command "`+bad+`"`) || out != "" {
			t.Errorf("help %s: exit %d, stdout %q, stderr %q", bad, code, out, errOut)
		}
	}
}

// TestVersionFlags: -v, --version and version say the same, which is not
// empty.
func TestVersionFlags(t *testing.T) {
	_, want, _ := cli("version")
	if !strings.HasPrefix(want, "agentstorm "+buildVersion()+" (go") {
		t.Errorf("version says %q", want)
	}
	for _, a := range []string{"-v", "--version"} {
		if code, got, _ := cli(a); code != exitOK || got != want {
			t.Errorf("%s: exit %d, %q; want %q", a, code, got, want)
		}
	}
}

// TestVersionOf: the build info's module version, else its VCS revision
// (dirty or not), else dev; -X main.version wins over all.
func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	rev := "5beb25fb92a4050ba7cdda2b1ab1db39b4596c48"
	cases := []struct {
		info *debug.BuildInfo
		want string
	}{
		{nil, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs(rev, "false")}, "v1.4.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261207012525-5beb25fb92a4+dirty"}}, "v0.0.0-20261207012525-5beb25fb92a4+dirty"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, "dev-5beb25fb92a4"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, "dev-5beb25fb92a4-dirty"},
	}
	for _, c := range cases {
		if got := versionOf(c.info); got != c.want {
			t.Errorf("versionOf(%+v) = %q, want %q", c.info, got, c.want)
		}
	}
	old := version
	t.Cleanup(func() { version = old })
	version = "v9.9.9"
	if _, out, _ := cli("-v"); !strings.HasPrefix(out, "agentstorm v9.9.9 (") {
		t.Errorf("with -X main.version=v9.9.9: %q", out)
	}
}
