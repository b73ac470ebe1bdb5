package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/agentstorm/agentstorm/profiles"
)

func profilesCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errb}, append([]string{"profiles"}, args...))
	return code, out.String(), errb.String()
}

func TestProfilesList(t *testing.T) {
	code, out, _ := profilesCLI(t, "list")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, b := range profiles.Builtins() {
		if !strings.Contains(out, b.Name) || !strings.Contains(out, b.Description) {
			t.Errorf("list lacks %s: %s", b.Name, out)
		}
	}
	if !strings.Contains(out, "* agent-storm") {
		t.Errorf("default not marked:\n%s", out)
	}
}

func TestProfilesShowRoundTrips(t *testing.T) {
	code, out, _ := profilesCLI(t, "show", "smoke")
	if code != exitOK || !strings.Contains(out, "name: smoke") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// What show prints validates as a file.
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, vout, verr := profilesCLI(t, "validate", path, "agent-storm")
	if code != exitOK || !strings.Contains(vout, path+": ok") || !strings.Contains(vout, "agent-storm: ok (closed model, peak 50000") {
		t.Errorf("validate exit %d:\n%s\n%s", code, vout, verr)
	}
	code, _, errOut := profilesCLI(t, "show", "smok")
	if code != exitUsage || !strings.Contains(errOut, `did you mean "smoke"?`) {
		t.Errorf("show smok: exit %d, %s", code, errOut)
	}
}

func TestProfilesValidateReportsAllErrors(t *testing.T) {
	src, err := profiles.BuiltinSource("smoke")
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(src), "model: closed", "model: closd", 1)
	bad = strings.Replace(bad, "path: /v1/orders/{{order_id}}", "path: /v1/orders/{{ordr_id}}", 1)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := profilesCLI(t, "validate", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	lineOf := func(marker string) string {
		i := strings.Index(bad, marker)
		line := strings.Count(bad[:i], "\n") + 1
		col := i - strings.LastIndex(bad[:i], "\n")
		return path + ":" + strconv.Itoa(line) + ":" + strconv.Itoa(col) + ":"
	}
	for _, want := range []string{
		lineOf("closd") + ` workload.model: unknown model "closd"`,
		lineOf("ordr_id") + ` step order_status path: unknown variable "ordr_id"`,
		"2 error(s)",
		`did you mean "order_id"?`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
}

func TestProfilesUsage(t *testing.T) {
	code, out, _ := profilesCLI(t, "--help")
	if code != exitOK || !strings.Contains(out, "validate FILE...") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"show"}, {"validate"}, {"list", "x"}, {"--bogus"}} {
		if code, _, errOut := profilesCLI(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	code, _, errOut := profilesCLI(t, "validate", "/nonexistent/x.yaml")
	if code != exitUsage || !strings.Contains(errOut, "cannot read profile") {
		t.Errorf("missing file: exit %d %s", code, errOut)
	}
}
