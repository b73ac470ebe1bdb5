package cpuload

import (
	"fmt"
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
	names map[int]string // the group of each pid seen in the tree
}

func newSource(root int, group func(args []string) string) (source, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return source{}, fmt.Errorf("CPU load: %w", err)
	}
	st, err := fs.Stat()
	if err != nil {
		return source{}, fmt.Errorf("CPU load: %w", err)
	}
	if len(st.CPU) == 0 {
		return source{}, fmt.Errorf("CPU load: /proc/stat lists no CPU")
	}
	return source{fs: fs, root: root, group: group, ncpu: len(st.CPU), names: map[int]string{}}, nil
}

func (s source) cpus() int { return s.ncpu }

// read takes a reading of the machine and the tree.
func (s source) read() (reading, error) {
	r := reading{at: time.Now(), groups: map[string]float64{}}
	st, err := s.fs.Stat()
	if err != nil {
		return r, err
	}
	r.busy, r.total = busyTotal(st.CPUTotal)
	procs, err := s.fs.AllProcs()
	if err != nil {
		return r, err
	}
	type proc struct {
		ppid int
		cpu  float64
	}
	byPid := make(map[int]proc, len(procs))
	for _, p := range procs {
		if ps, err := p.Stat(); err == nil { // an error: it ended since the listing
			byPid[p.PID] = proc{ps.PPID, ps.CPUTime()}
		}
	}
	parent := func(pid int) (int, bool) { p, ok := byPid[pid]; return p.ppid, ok }
	for pid, p := range byPid {
		if !inTree(pid, s.root, parent) {
			continue
		}
		name, ok := s.names[pid]
		if !ok {
			var args []string
			if p, err := s.fs.Proc(pid); err == nil {
				args, _ = p.CmdLine()
			}
			name = s.group(args)
			s.names[pid] = name
		}
		r.groups[name] += p.cpu
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
