package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/snappy"
)

// TestRunRemoteWrite: `run` with the remote-write URL in the environment
// pushes to it while the storm runs and at the end, and says so.
// (The payload itself is tested in the metrics package.)
func TestRunRemoteWrite(t *testing.T) {
	t.Setenv("AGENTSTORM_TEST_SHARD", "1")
	base, _ := countingServer(t)
	var mu sync.Mutex
	var last []byte
	pushes := 0
	rw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		pb, err := snappy.Decode(nil, b)
		if err != nil {
			t.Errorf("push is not snappy: %v", err)
		}
		mu.Lock()
		last, pushes = pb, pushes+1
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rw.Close()
	t.Setenv(remoteWriteEnv, rw.URL+"/api/v1/write")
	code, out, errOut := runIt(t, nil, "--profile", writeProfile(t, fixedProfile), "--target", base, "--workers", "1",
		"--remote-write-every", "500ms", "--out", "json="+filepath.Join(t.TempDir(), "run.json"))
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if pushes < 2 || !bytes.Contains(last, []byte("agentstorm_requests_total")) || !bytes.Contains(last, []byte("open_cart")) {
		t.Errorf("%d pushes; the last holds no request counter of open_cart", pushes)
	}
	if !strings.Contains(out, "metrics pushed by remote write every 500ms") || strings.Contains(errOut, "remote-write") {
		t.Errorf("output:\n%s\nstderr:\n%s", out, errOut)
	}
}
