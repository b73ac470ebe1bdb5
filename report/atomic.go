package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// AtomicFile is an output file written under a temporary name in the same
// directory and renamed to its path by Commit, so a crash or an error never
// leaves half a report under the real name. The temporary name is visible
// and readable, PATH.partial-NNNN: an interval log streamed through it is
// there to read while the run goes, and after a crash (kill -9) it is what
// is left of the run.
type AtomicFile struct {
	f    *os.File
	path string
	done bool
}

// CreateAtomic starts writing path (through a temporary file beside it).
func CreateAtomic(path string) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".partial-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path}, nil
}

// CheckOutputPath reports, before a run starts, whether an output can be
// written to path at its end: not a directory, not a device, pipe or other
// special file (outputs are renamed into place), and a temporary file can
// be made beside it. A storm must not run for an hour to fail on a typo.
func CheckOutputPath(path string) error {
	if fi, err := os.Stat(path); err == nil {
		switch {
		case fi.IsDir():
			return fmt.Errorf("%s is a directory: give a file name", path)
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s is not a regular file (%s): outputs are written beside their path and renamed into place; give a file path", path, fi.Mode().Type())
		}
	}
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	a.Abort()
	return nil
}

// Write writes to the temporary file.
func (a *AtomicFile) Write(p []byte) (int, error) { return a.f.Write(p) }

// Path returns the final path.
func (a *AtomicFile) Path() string { return a.path }

// Commit closes the temporary file and renames it to the final path.
func (a *AtomicFile) Commit() error {
	if a.done {
		return nil
	}
	a.done = true
	tmp := a.f.Name()
	if err := a.f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	if err := os.Rename(tmp, a.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", a.path, err)
	}
	return nil
}

// Abort closes and removes the temporary file; the final path is untouched.
// It does nothing after Commit.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	_ = a.f.Close()
	_ = os.Remove(a.f.Name())
}

// WriteFileAtomic writes path with write, through a temporary file renamed
// into place only when write and the flush succeed.
func WriteFileAtomic(path string, write func(w io.Writer) error) error {
	a, err := CreateAtomic(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(a, 64<<10)
	if err := write(bw); err != nil {
		a.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		a.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return a.Commit()
}
