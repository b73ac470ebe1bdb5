package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/agentstorm/agentstorm/gameday"
	"github.com/agentstorm/agentstorm/metrics"
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

// TestGameDayExportsChaos: with metrics exported, each chaos event of the
// game day lands in agentstorm_chaos_action_time_seconds and is still
// printed.
func TestGameDayExportsChaos(t *testing.T) {
	m := metrics.New([]string{"s"}, []string{"eu"}, nil)
	printed := 0
	g := &gameDay{ex: &gameday.Executor{OnEvent: func(gameday.Event) { printed++ }}}
	g.exportChaos(m)
	g.exportChaos(nil) // no metrics: nothing changes
	when := time.Unix(1_700_000_030, 0)
	g.ex.OnEvent(gameday.Event{At: 30 * time.Second, Time: when, Action: "kill_shard", Name: "kill_shard shard 1", Regions: []string{"eu"}})
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, f := range fams {
		if f.GetName() == "agentstorm_chaos_action_time_seconds" && len(f.GetMetric()) == 1 {
			mt := f.GetMetric()[0]
			for _, l := range mt.GetLabel() {
				got += l.GetName() + "=" + l.GetValue() + ","
			}
			got += fmt.Sprint(mt.GetGauge().GetValue())
		}
	}
	want := "action=kill_shard,at=30s,name=kill_shard shard 1,outcome=ok,region=eu,1.70000003e+09"
	if got != want || printed != 1 {
		t.Errorf("chaos metric %q (printed %d), want %q", got, printed, want)
	}
}
