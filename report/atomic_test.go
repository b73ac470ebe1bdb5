package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckOutputPath: paths that can only fail at the end of a run are
// refused before it starts, with a message that says why; good paths
// pass and leave nothing behind.
func TestCheckOutputPath(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ path, want string }{
		{dir, "is a directory"},
		{"/proc/version", "create /proc/version"},
		{"/dev/null", "is not a regular file"},
		{filepath.Join(dir, "missing", "run.json"), "no such file or directory"},
	} {
		if err := CheckOutputPath(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.path, err, c.want)
		}
	}
	good := filepath.Join(dir, "run.json")
	if err := CheckOutputPath(good); err != nil {
		t.Fatalf("%s: %v", good, err)
	}
	if err := os.WriteFile(good, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckOutputPath(good); err != nil {
		t.Fatalf("existing %s: %v", good, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("the check left files behind: %v", ents)
	}
}

// TestAtomicFileVisibleWhileWritten: while an output is written (an
// interval log streams for the whole run) it is readable under
// PATH.partial-*, and only the final name after Commit.
func TestAtomicFileVisibleWhileWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.hlog")
	a, err := CreateAtomic(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("#[StartTime: 1]\n")); err != nil {
		t.Fatal(err)
	}
	partial, _ := filepath.Glob(path + ".partial-*")
	if len(partial) != 1 {
		t.Fatalf("partial files: %v", partial)
	}
	fi, err := os.Stat(partial[0])
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("partial file %s: %v %v, want mode 0644", partial[0], fi.Mode(), err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("final name exists before Commit: %v", err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "#[StartTime: 1]\n" {
		t.Fatalf("after Commit: %q %v", b, err)
	}
}
