package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/agentstorm/agentstorm/agents"
	"github.com/agentstorm/agentstorm/agents/fleet"
	"github.com/agentstorm/agentstorm/profiles"
)

// plan decides the segment, the start and the worker processes, and notes
// what it capped; it returns a usage message when the storm cannot run so.
func (s *storm) plan() string {
	f, prof := s.f, s.prof
	capacity, limit := fleet.AgentCapacity(prof)
	s.capacity = capacity
	if f.segment != "" {
		s.seg, _ = agents.ParseSegment(f.segment) // validated
	}
	s.start, _ = parseStartAt(f.startAt) // validated
	seg := s.seg
	if s.chaos && (f.workers > 1 || !seg.Whole()) {
		return "profile " + prof.Name + " has a chaos: schedule (a game day): it runs in one process, so that every order id comes back to the audit; leave out --workers and --segment (at most " + commas(capacity) + " agents)"
	}
	if need, most := fleet.StormAgents(prof), fleet.MachineAgents(capacity); seg.Whole() && !s.chaos && f.workers == 0 && need > most {
		machines := (need + most - 1) / most
		return fmt.Sprintf("the storm needs %s agents at once; one machine runs at most %s (%d worker processes of %s agents each): split it across %d or more machines with --segment 0/%d, 1/%d, ... and the same --start-at",
			commas(need), commas(most), fleet.MaxAutoWorkers, commas(fleet.PerWorker(capacity)), machines, machines, machines)
	}
	if seg.Whole() && !s.chaos {
		s.workers = fleet.WorkersFor(prof, capacity, f.workers)
	}
	if s.workers == 1 && seg.Whole() {
		if n := scaleToCapacity(prof, capacity); n != "" {
			per := ""
			if k := fleet.SocketsPerAgent(prof); k > 1 {
				per = fmt.Sprintf(", %d connections per agent: its target and targets:", k)
			}
			s.notes = append(s.notes, fmt.Sprintf("%s: one process holds at most %s agents (open-file limit %d minus %d for the process itself%s); leave out --workers 1 to spread the storm over worker processes",
				n, commas(capacity), limit, fleet.FDMargin, per))
		}
	}
	if !seg.Whole() && seg.Share(fleet.StormAgents(prof)) > capacity {
		s.notes = append(s.notes, fmt.Sprintf("segment %s has %s agents, more than this process holds (%s): capped; use more segments",
			seg, commas(seg.Share(fleet.StormAgents(prof))), commas(capacity)))
	}
	return ""
}

// scaleToCapacity caps the agents at what one process can hold and returns
// a note saying so ("" when nothing changed).
func scaleToCapacity(prof *profiles.Profile, capacity int) string {
	w := &prof.Workload
	if w.Model == profiles.Open && !w.TargetsInFlight() {
		if w.MaxAgents == 0 || w.MaxAgents > capacity {
			was := w.MaxAgents
			w.MaxAgents = capacity
			if was > capacity {
				return fmt.Sprintf("the profile allows %s concurrent sessions; capped at %s", commas(was), commas(capacity))
			}
		}
		return ""
	}
	peak := w.Peak()
	if peak <= capacity {
		return ""
	}
	w.ScaleStages(capacity)
	w.MaxAgents = min(w.MaxAgents, capacity) // in-flight levels: their agent cap, if set
	return fmt.Sprintf("the profile asks for %s agents; scaled to %s (every stage by the same factor)", commas(peak), commas(w.Peak()))
}

// shardConns is the most connections the bundled target's shards are
// planned for (a shard's cap is target.DefaultMaxConns, 18,000). The default
// storm's 50,000 agents then take 5 shards rather than 6: on a small machine
// every process's loop sleeps and wakes on its own, and one fewer saved 3–4%
// of the CPU a request in session 9's A/Bs at 40,000 agents (session 12's
// single runs at 50,000 did not resolve it; bench/RESULTS.md).
const shardConns = 16000

// bundledShards returns how many shards the bundled target needs for the
// storm: at least one per region, and enough that no shard expects more
// than shardConns connections. Shard i serves region i % len(regions), and
// the agents of a region spread evenly over its shards; a region's share
// of the agents is estimated by drawing regions as the agents do.
func bundledShards(prof *profiles.Profile) int {
	var regions []string
	if prof.Population != nil {
		regions = prof.Population.Regions()
	}
	nr := max(len(regions), 1)
	total := fleet.StormAgents(prof)
	share := make([]float64, nr)
	if nr == 1 {
		share[0] = 1
	} else {
		rng := rand.New(rand.NewPCG(1, 2))
		const draws = 20000
		for i := 0; i < draws; i++ {
			r, _ := prof.Population.PickRegion(rng)
			share[r] += 1.0 / draws
		}
	}
	for s := nr; s < 1024; s++ {
		ok := true
		for r := 0; r < nr; r++ {
			shards := s / nr
			if r < s%nr {
				shards++
			}
			// 5% over the expected share for the draw's spread.
			if float64(total)*share[r]*1.05/float64(shards) > shardConns {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
	}
	return 1024
}

// parseStartAt parses --start-at ("" is the zero time).
func parseStartAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--start-at %q: want an RFC 3339 time such as 2026-11-26T18:00:00Z", s)
	}
	return t, nil
}
