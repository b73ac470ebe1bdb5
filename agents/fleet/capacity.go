package fleet

import "golang.org/x/sys/unix"

// FDMargin is the open files a process keeps for itself (listeners, pipes
// to the bundled shards, log files, the runtime's poller) when it sizes its
// share of the swarm to the per-process open-file limit.
const FDMargin = 512

// Capacity returns how many agents (one socket each) this process can
// hold, the open-file limit minus FDMargin, and the limit itself. It first
// raises the soft limit to the hard one.
func Capacity() (agents, limit int) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 1000, 1000 + FDMargin
	}
	if rl.Cur < rl.Max { // Go raises it at start already; be sure
		rl.Cur = rl.Max
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
			_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &rl)
		}
	}
	lim := int(min(rl.Cur, 1<<30))
	return max(lim-FDMargin, 1), lim
}
