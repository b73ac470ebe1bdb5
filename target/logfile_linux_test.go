package target

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestRawLogWrites checks the order log's raw pwrite and fdatasync: bytes land
// at their offsets (one write larger than a page), and a closed file gives an
// error rather than writing elsewhere.
func TestRawLogWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "orders.log")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	head := []byte("head:")
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	if err := writeAt(f, head, 0); err != nil {
		t.Fatalf("writeAt head: %v", err)
	}
	if err := writeAt(f, body, int64(len(head))); err != nil {
		t.Fatalf("writeAt body: %v", err)
	}
	if err := writeAt(f, []byte("HEAD"), 0); err != nil { // overwrite in place
		t.Fatalf("writeAt overwrite: %v", err)
	}
	if err := fdatasync(f); err != nil {
		t.Fatalf("fdatasync: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("HEAD:"), body...)
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes, want %d; first bytes %q", len(got), len(want), got[:min(len(got), 16)])
	}
	f.Close()
	if err := writeAt(f, head, 0); err == nil {
		t.Fatal("writeAt on a closed file: no error")
	}
	if err := fdatasync(f); err == nil {
		t.Fatal("fdatasync on a closed file: no error")
	}
}
