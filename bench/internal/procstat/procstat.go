// Package procstat reads a process's memory figures from /proc/PID/status
// (Linux), for the benchmark programs that report resident memory.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StatusKiB returns the field key of /proc/PID/status, such as "VmRSS" or
// "VmHWM", in KiB; pid 0 means the calling process.
func StatusKiB(pid int, key string) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/status"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, key+":")
		if !ok {
			continue
		}
		num, _ := strings.CutSuffix(strings.TrimSpace(v), " kB")
		kib, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: parse %s %q: %w", path, key, strings.TrimSpace(v), err)
		}
		return kib, nil
	}
	return 0, fmt.Errorf("%s: no %s field", path, key)
}
