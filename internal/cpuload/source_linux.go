package cpuload

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// source reads /proc through procfs: the machine's CPU times from
// /proc/stat, each process's from /proc/PID/stat.
type source struct {
	fs    procfs.FS
	root  int
	group func(args []string) string
	ncpu  int
}

func newSource(root int, group func(args []string) string) (source, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return source{}, fmt.Errorf("read /proc: %w", err)
	}
	st, err := fs.Stat()
	if err != nil {
		return source{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	n := len(st.CPU)
	if n == 0 {
		return source{}, errors.New("/proc/stat lists no CPU")
	}
	if usable := runtime.NumCPU(); usable < n {
		return source{}, fmt.Errorf("this process may use %d of the machine's %d CPUs (CPU affinity or cpuset), and /proc/stat counts them all", usable, n)
	}
	if quota, err := cgroupQuota(fs); err != nil {
		return source{}, err
	} else if quota > 0 && quota < float64(n) {
		// A quota of every CPU or more caps nothing: /proc/stat still speaks for what the run may use.
		return source{}, fmt.Errorf("a cgroup caps this process at %.2f of the machine's %d CPUs, and /proc/stat counts them all", quota, n)
	}
	return source{fs: fs, root: root, group: group, ncpu: n}, nil
}

func (s source) cpus() int { return s.ncpu }

// read takes a reading of the machine and the tree.
func (s source) read() (rawReading, error) {
	r := rawReading{at: time.Now(), procs: map[procKey]procCPU{}}
	st, err := s.fs.Stat()
	if err != nil {
		return r, err
	}
	r.busy, r.total = busyTotal(st.CPUTotal)
	r.waited = -1
	if psi, err := s.fs.PSIStatsForResource("cpu"); err == nil && psi.Some != nil {
		r.waited = float64(psi.Some.Total) / 1e6 // microseconds
	}
	procs, err := s.fs.AllProcs()
	if err != nil {
		return r, err
	}
	stats := make(map[int]procfs.ProcStat, len(procs))
	for _, p := range procs {
		if ps, err := p.Stat(); err == nil { // an error: it ended since the listing
			stats[p.PID] = ps
		}
	}
	parent := func(pid int) (int, bool) { ps, ok := stats[pid]; return ps.PPID, ok }
	for pid, ps := range stats {
		if !inTree(pid, s.root, parent) {
			continue
		}
		// Read each time, not kept: a child caught between fork and exec
		// still shows its parent's command line.
		var args []string
		if p, err := s.fs.Proc(pid); err == nil {
			args, _ = p.CmdLine()
		}
		r.procs[procKey{pid, ps.Starttime}] = procCPU{group: s.group(args), cpu: ps.CPUTime()}
	}
	return r, nil
}

// busyTotal returns the busy and total CPU seconds of c: busy is all but
// idle and iowait (guest time is already inside user and nice).
func busyTotal(c procfs.CPUStat) (busy, total float64) {
	busy = c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
	return busy, busy + c.Idle + c.Iowait
}

// inTree reports whether pid is root or descends from it, following
// parent links (bounded, in case a listing raced with a pid's reuse).
func inTree(pid, root int, parent func(int) (int, bool)) bool {
	for range 64 {
		if pid == root {
			return true
		}
		pp, ok := parent(pid)
		if !ok || pp <= 0 || pp == pid {
			return false
		}
		pid = pp
	}
	return false
}

// cgroupQuota returns the CPUs this process's cgroups allow it (the
// smallest quota of its cgroup and the cgroup's ancestors, v1 or v2), 0
// when none caps it.
func cgroupQuota(fs procfs.FS) (float64, error) {
	self, err := fs.Self()
	if err != nil {
		return 0, fmt.Errorf("read /proc/self: %w", err)
	}
	groups, err := self.Cgroups()
	if err != nil {
		return 0, nil // no cgroups: nothing caps it
	}
	least := 0.0
	for _, g := range groups {
		var dir func(p string) (float64, bool)
		switch {
		case g.HierarchyID == 0: // v2
			dir = func(p string) (float64, bool) { return quotaV2(filepath.Join("/sys/fs/cgroup", p, "cpu.max")) }
		case slices.Contains(g.Controllers, "cpu"): // v1
			dir = func(p string) (float64, bool) { return quotaV1(filepath.Join("/sys/fs/cgroup/cpu", p)) }
		default:
			continue
		}
		for p := g.Path; ; p = filepath.Dir(p) {
			if q, ok := dir(p); ok && (least == 0 || q < least) {
				least = q
			}
			if p == "/" || p == "." || p == "" {
				break
			}
		}
	}
	return least, nil
}

// quotaV2 reads a cgroup v2 cpu.max ("QUOTA PERIOD" or "max PERIOD").
func quotaV2(path string) (float64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 || f[0] == "max" {
		return 0, false
	}
	q, err1 := strconv.ParseFloat(f[0], 64)
	p, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}

// quotaV1 reads a cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us (a
// quota of -1: none).
func quotaV1(dir string) (float64, bool) {
	read := func(name string) (float64, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, false
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		return v, err == nil
	}
	q, ok1 := read("cpu.cfs_quota_us")
	p, ok2 := read("cpu.cfs_period_us")
	if !ok1 || !ok2 || q <= 0 || p <= 0 {
		return 0, false
	}
	return q / p, true
}
