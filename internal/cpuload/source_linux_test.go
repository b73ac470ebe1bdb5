package cpuload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/procfs"
)

// TestInTree follows parent links to the root, and stops on a loop, an
// unknown parent or pid 0.
func TestInTree(t *testing.T) {
	parents := map[int]int{10: 1, 11: 10, 12: 11, 20: 1, 30: 31, 31: 30}
	parent := func(pid int) (int, bool) { p, ok := parents[pid]; return p, ok }
	for pid, want := range map[int]bool{10: true, 12: true, 20: false, 30: false, 99: false} {
		if got := inTree(pid, 10, parent); got != want {
			t.Errorf("inTree(%d, root 10) = %v, want %v", pid, got, want)
		}
	}
}

// TestBusyTotal: idle and iowait are not busy, steal is.
func TestBusyTotal(t *testing.T) {
	busy, total := busyTotal(procfs.CPUStat{User: 1, Nice: 2, System: 3, Idle: 10, Iowait: 20, IRQ: 4, SoftIRQ: 5, Steal: 6, Guest: 100})
	if busy != 21 || total != 51 {
		t.Errorf("busy %v, total %v; want 21, 51", busy, total)
	}
}

// TestQuotas reads cgroup v1 and v2 CPU quotas; none is 0 and false.
func TestQuotas(t *testing.T) {
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if q, ok := quotaV2(write("v2a", "150000 100000\n")); !ok || q != 1.5 {
		t.Errorf("cpu.max 150000 100000: %v %v, want 1.5", q, ok)
	}
	if _, ok := quotaV2(write("v2b", "max 100000\n")); ok {
		t.Error("cpu.max max: a quota")
	}
	write("cpu.cfs_quota_us", "50000\n")
	write("cpu.cfs_period_us", "100000\n")
	if q, ok := quotaV1(dir); !ok || q != 0.5 {
		t.Errorf("cfs quota 50000/100000: %v %v, want 0.5", q, ok)
	}
	write("cpu.cfs_quota_us", "-1\n")
	if _, ok := quotaV1(dir); ok {
		t.Error("cfs quota -1: a quota")
	}
}
