package fleet

import (
	"golang.org/x/sys/unix"

	"github.com/agentstorm/agentstorm/profiles"
)

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

// AgentCapacity returns how many agents of prof this process can hold and
// the open-file limit: Capacity's sockets divided by the connections one
// agent may hold at once (one to its target and one to each named host of
// targets:, see SocketsPerAgent).
func AgentCapacity(prof *profiles.Profile) (agents, limit int) {
	sockets, limit := Capacity()
	return max(sockets/SocketsPerAgent(prof), 1), limit
}

// SocketsPerAgent is the most connections one agent of prof holds at once:
// its target's, and one per named host of targets: (kept open for the
// agent's later steps there).
func SocketsPerAgent(prof *profiles.Profile) int { return 1 + len(prof.Targets) }
