package agents

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// track is the open model with in-flight levels (profiles.InFlight): it
// keeps this segment's share of the plan's level of sessions in flight.
//
// Sessions are due at two kinds of instant, and each is timed from it:
//
//   - the level rises by one (profiles.LevelSteps: on a ramp from 0 to
//     50,000 in 6 s, the k-th session is due at 6 s × k/50,000);
//   - a session ends while no more sessions are in flight than the level:
//     its replacement is due at the instant it ended.
//
// A falling level cuts no session short: sessions end on their own and are
// not replaced until fewer are in flight than the level. A session due
// when every agent is busy and the segment has all its agents is dropped
// and counted; the unit of level it could not fill stays unfilled (and is
// not counted again) until the level falls to it. Segments split the level
// as the closed model does: unit k of the whole storm's level (its (k+1)-th
// session in flight) belongs to segment k % Count.
func (s *Swarm) track(ctx context.Context) {
	idle := make(chan *agent, s.maxAgents)
	rng := rand.New(rand.NewPCG(s.cfg.Seed, math.MaxUint64-uint64(s.cfg.Segment.Index)))
	steps := s.prof.Workload.Steps()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		free     []*agent // agents between sessions
		spawned  int      // agents made so far
		level    int      // this segment's level
		whole    int      // the whole storm's level
		inflight int      // sessions handed to agents and not yet back on idle
		unmet    int      // units of level whose session was dropped
	)
	begin := func(a *agent, at time.Time) {
		inflight++
		a.l.post(command{kind: cmdWork, a: a, at: at})
	}
	due := func(at time.Time) {
		switch {
		case len(free) > 0:
			a := free[len(free)-1]
			free = free[:len(free)-1]
			begin(a, at)
		case spawned < s.maxAgents:
			a := s.agentFor(spawned)
			spawned++
			a.idle = idle
			s.agents.Add(1)
			s.wg.Add(1)
			begin(a, at)
		default:
			unmet++
			s.dropSession(rng)
		}
	}
	nextAt, nextLevel, more := steps.Next()
	for {
		// Every change due within earlyStart (see schedule) is applied now.
		for more && time.Until(s.start.Add(nextAt)) <= earlyStart {
			up := nextLevel > whole
			unit := nextLevel
			if up {
				unit--
			}
			if s.cfg.Segment.Owns(unit) {
				if up {
					level++
					if inflight+unmet < level {
						due(s.start.Add(nextAt))
					}
				} else {
					level--
					if unmet > 0 && inflight+unmet > level {
						unmet--
					}
				}
			}
			whole = nextLevel
			nextAt, nextLevel, more = steps.Next()
		}
		var wake <-chan time.Time
		if more {
			timer.Reset(time.Until(s.start.Add(nextAt)) - earlyStart)
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case a := <-idle:
			inflight--
			if inflight+unmet < level {
				begin(a, a.ended)
			} else {
				free = append(free, a)
			}
		case <-wake:
		}
	}
}
