package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// shellScript runs script in shell (bash, zsh, fish) with `agentstorm`
// standing for this test binary (see TestMain), bounded in time, and
// returns its standard output. It runs in an empty directory.
func shellScript(t *testing.T, shell, script string) string {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s is not installed (.ci/run installs it)", shell)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary runs the CLI with AGENTSTORM_TEST_SHARD=1.
	bin := filepath.Join(t.TempDir(), "agentstorm")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nAGENTSTORM_TEST_SHARD=1 exec '"+exe+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "-c", script)
	cmd.Dir = t.TempDir() // no files to complete
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	cmd.WaitDelay = time.Second
	done := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer done.Stop()
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s -c %q: %v\nstdout:\n%s\nstderr:\n%s", shell, script, err, out, stderr)
	}
	return string(out)
}

// TestBashCompletion loads the bash script in a real bash, as a user's
// ~/.bashrc does, and completes by calling its function with COMP_WORDS
// and COMP_CWORD set as bash sets them.
func TestBashCompletion(t *testing.T) {
	cases := []struct {
		words string // the line; the cursor is at the end of the last word
		want  []string
	}{
		{"agentstorm ru", []string{"run"}},
		{"agentstorm run --pro", []string{"--profile"}},
		{"agentstorm run --profile sm", []string{"smoke"}},
		{"agentstorm run -o js", []string{"json="}},
		{"agentstorm run --dur", []string{"--duration"}},
		{"agentstorm report m", []string{"merge"}},
		{"agentstorm report merge a.hlog --no", []string{"--no-run-budgets"}},
		{"agentstorm k6 ingest --fo", []string{"--follow"}},
		{"agentstorm help ta", []string{"target"}},
		{"agentstorm completion f", []string{"fish"}},
		{"agentstorm --vers", []string{"--version"}},
		{"agentstorm run --target ", nil}, // a value: bash's own (file) completion
	}
	var script strings.Builder
	script.WriteString("source <(agentstorm completion bash) || exit 1\ncomplete -p agentstorm\n")
	for _, c := range cases {
		// The last word is empty when the line ends in a space.
		script.WriteString("COMP_WORDS=(" + c.words)
		if strings.HasSuffix(c.words, " ") {
			script.WriteString("''")
		}
		script.WriteString("); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _agentstorm; echo \"${COMPREPLY[*]}\"\n")
	}
	// Every flag of run, from its flag set: nothing drifts.
	script.WriteString("COMP_WORDS=(agentstorm run --); COMP_CWORD=2; _agentstorm; echo \"${COMPREPLY[*]}\"\n")
	lines := strings.Split(strings.TrimSuffix(shellScript(t, "bash", script.String()), "\n"), "\n")
	if len(lines) != len(cases)+2 {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(cases)+2, strings.Join(lines, "\n"))
	}
	if lines[0] != "complete -o default -F _agentstorm agentstorm" {
		t.Errorf("complete -p agentstorm: %q", lines[0])
	}
	for i, c := range cases {
		if got := lines[i+1]; got != strings.Join(c.want, " ") {
			t.Errorf("%q completes to %q, want %q", c.words, got, strings.Join(c.want, " "))
		}
	}
	var want []string
	newRunFlagSet(&runFlags{}).VisitAll(func(f *pflag.Flag) { want = append(want, "--"+f.Name) })
	want = append(want, "--help")
	got := strings.Fields(lines[len(lines)-1])
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("run --<TAB> offers\n%v\nwant run's flags\n%v", got, want)
	}
}

// TestZshFishCompletionSyntax: the zsh and fish scripts parse (zsh -n,
// fish -n), and name every command and run's flags.
func TestZshFishCompletionSyntax(t *testing.T) {
	for _, sh := range []string{"zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			script := filepath.Join(t.TempDir(), "agentstorm."+sh)
			shellScript(t, sh, "agentstorm completion "+sh+" > '"+script+"' && "+sh+" -n '"+script+"'")
			b, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"run", "report", "k6", "profile", "duration", "agent-storm", "json="} {
				if !strings.Contains(string(b), want) {
					t.Errorf("%s script lacks %q", sh, want)
				}
			}
		})
	}
}

// TestCompletionUsage: an unknown shell or none is bad usage.
func TestCompletionUsage(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		if code, out, errOut := cli(args...); code != exitUsage || out != "" || !strings.Contains(errOut, "completion:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

// TestFishCompletion completes in a real fish (complete -C) with the
// script loaded as a user's config does.
func TestFishCompletion(t *testing.T) {
	out := shellScript(t, "fish", `agentstorm completion fish | source
complete -C 'agentstorm ru'; echo ---
complete -C 'agentstorm run --pro'; echo ---
complete -C 'agentstorm run --profile sm'; echo ---
complete -C 'agentstorm run -o js'; echo ---
complete -C 'agentstorm k6 '`)
	want := []string{"run", "--profile", "smoke", "json=", "ingest"}
	got := strings.Split(out, "---\n")
	if len(got) != len(want) {
		t.Fatalf("fish completed:\n%s", out)
	}
	for i, w := range want {
		if first, _, _ := strings.Cut(strings.TrimSpace(got[i]), "\t"); first != w || strings.Count(got[i], "\n") != 1 {
			t.Errorf("completion %d: %q, want only %q", i, got[i], w)
		}
	}
}

// TestZshCompletionRegisters: sourced after compinit, the zsh script
// registers its function for agentstorm.
func TestZshCompletionRegisters(t *testing.T) {
	out := shellScript(t, "zsh", `autoload -U compinit && compinit -u -D && source <(agentstorm completion zsh) && print -r -- $_comps[agentstorm]`)
	if strings.TrimSpace(out) != "_agentstorm" {
		t.Errorf("zsh: agentstorm completes with %q, want _agentstorm", out)
	}
}
