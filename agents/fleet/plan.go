package fleet

import (
	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/profiles"
)

// MaxAutoWorkers caps the worker processes a run starts on its own: a
// storm needing more is split across machines with segments.
const MaxAutoWorkers = 64

// MachineAgents is the most agents a run spreads over worker processes on
// one machine: MaxAutoWorkers processes at 90% of capacity each.
func MachineAgents(capacity int) int {
	return MaxAutoWorkers * PerWorker(capacity)
}

// PerWorker is the agents one worker is given when a storm is spread by
// need: 90% of a process's capacity in agents (at least 1; see
// AgentCapacity). An agent holds its sockets one per host at a time (a
// redial closes the old one first) and capacity already keeps FDMargin
// files for the process, so the 10% is headroom,
// not need: every process costs ~20 MB whatever its agents (its runtime,
// its recorder, the binary's pages), so 50,000 agents run in 3 segments
// rather than 4.
func PerWorker(capacity int) int { return max(capacity*9/10, 1) }

// WorkersFor returns how many worker processes the storm needs: requested
// when > 0, else 1 while the storm's agents fit in 90% of one process's
// capacity, else enough processes to hold at most 90% of capacity each,
// never more than MaxAutoWorkers (a bigger storm is split across machines
// first).
func WorkersFor(prof *profiles.Profile, capacity, requested int) int {
	if requested > 0 {
		return requested
	}
	need := StormAgents(prof)
	if need <= capacity*9/10 {
		return 1
	}
	per := PerWorker(capacity)
	return min((need+per-1)/per, MaxAutoWorkers)
}

// StormAgents is the most agents the whole storm has alive at once.
func StormAgents(prof *profiles.Profile) int {
	if prof.Workload.Model == profiles.Open {
		return agents.MaxOpenAgents(prof.Workload)
	}
	return prof.Workload.Peak()
}
