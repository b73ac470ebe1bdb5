package cpuload

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of /proc's CPU times: USER_HZ, 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// source reads /proc: the machine's CPU times from /proc/stat, each
// process's from /proc/PID/stat.
type source struct {
	root  int
	group func(args []string) string
	ncpu  int
	names map[int]string // group of each pid seen in the tree
}

func newSource(root int, group func(args []string) string) (source, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return source{}, fmt.Errorf("CPU load: %w", err)
	}
	_, _, n, err := parseStat(b)
	if err != nil {
		return source{}, fmt.Errorf("CPU load: /proc/stat: %w", err)
	}
	return source{root: root, group: group, ncpu: n, names: map[int]string{}}, nil
}

func (s source) cpus() int               { return s.ncpu }
func (s source) ticksPerSecond() float64 { return clockTicks }

// read takes a reading of the machine and the tree.
func (s source) read() (reading, error) {
	r := reading{at: time.Now(), groups: map[string]uint64{}}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return r, err
	}
	if r.busy, r.total, _, err = parseStat(b); err != nil {
		return r, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return r, err
	}
	type proc struct {
		ppid  int
		ticks uint64
	}
	procs := map[int]proc{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it ended since the listing
		}
		if ppid, ticks, err := parsePidStat(b); err == nil {
			procs[pid] = proc{ppid, ticks}
		}
	}
	for pid, p := range procs {
		if !inTree(pid, s.root, func(pid int) (int, bool) { q, ok := procs[pid]; return q.ppid, ok }) {
			continue
		}
		name, ok := s.names[pid]
		if !ok {
			args, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			name = s.group(strings.Split(strings.TrimRight(string(args), "\x00"), "\x00"))
			s.names[pid] = name
		}
		r.groups[name] += p.ticks
	}
	return r, nil
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

// parseStat returns the busy and total ticks of every CPU together, from
// /proc/stat's "cpu" line (busy: all but idle and iowait), and the number
// of CPUs (its "cpuN" lines).
func parseStat(b []byte) (busy, total uint64, cpus int, err error) {
	found := false
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			cpus++
			continue
		}
		if len(f) < 5 {
			return 0, 0, 0, fmt.Errorf("cpu line %q: want at least 4 times", strings.TrimSpace(string(line)))
		}
		// user nice system idle iowait irq softirq steal (guest and
		// guest_nice are already inside user and nice).
		for i, v := range f[1:min(len(f), 9)] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("cpu line: field %d %q: %w", i+1, v, err)
			}
			total += n
			if i != 3 && i != 4 {
				busy += n
			}
		}
		found = true
	}
	if !found || cpus == 0 {
		return 0, 0, 0, fmt.Errorf("no cpu lines")
	}
	return busy, total, cpus, nil
}

// parsePidStat returns a process's parent and its CPU ticks (user and
// system, of every thread) from /proc/PID/stat. The command name may hold
// spaces and parentheses: fields are counted after its last ')'.
func parsePidStat(b []byte) (ppid int, ticks uint64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("no ')' in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(3) ppid(4) ... utime(14) stime(15).
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("%d fields after the name, want 13 or more", len(f))
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("ppid %q: %w", f[1], err)
	}
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cpu time %q: %w", v, err)
		}
		ticks += n
	}
	return ppid, ticks, nil
}
