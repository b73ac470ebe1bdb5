package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// readJSONFile decodes the JSON file at path into a T (such as a run's
// --out json), failing the test if it cannot be read or decoded.
func readJSONFile[T any](t *testing.T, path string) T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// TestFlagValuesRefusedEarly: arguments a command cannot use are refused
// with exit 2 and a message that names them, before any work.
func TestFlagValuesRefusedEarly(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"version", "extra"}, `version: takes no arguments; got ["extra"]`},
		{[]string{"k6", "ingest", "--window", "1500ms", k6Fixture}, "--window 1.5s: want whole seconds above 0"},
		{[]string{"k6", "ingest", "--window", "0s", k6Fixture}, "--window 0s: want whole seconds above 0"},
		// Refused before standard input is read (the test gives it none).
		{[]string{"report", "-", "--out", "hlog=merged.hlog"}, "standard input ('-') cannot be read twice"},
	}
	for _, c := range cases {
		var out, errOut runBuffer
		code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, c.args)
		if code != exitUsage || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut.String(), exitUsage, c.want)
		}
	}
	var out, errOut runBuffer
	if code := runCLI(context.Background(), &cliEnv{stdout: &out, stderr: &errOut}, []string{"version"}); code != exitOK || !strings.HasPrefix(out.String(), "agentstorm ") {
		t.Errorf("version: exit %d, stdout %q", code, out.String())
	}
}
