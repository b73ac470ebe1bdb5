// Package agents is the swarm: it runs a profile's agents against a target
// over HTTP/1.1 and records every answer in a report.Recorder.
//
// Each agent is a small state machine with its own keep-alive connection,
// its own variables and its own random source (seeded from the run's seed
// and the agent's id, so a run is reproducible). Agents run on event loops
// (DefaultLoops: one per two cores, one per core for a swarm of a few
// busy agents), each a goroutine over one epoll
// instance: a request is written with a non-blocking write, the answer read
// as it arrives until its framing (Content-Length, chunks, or the close)
// says it is whole, then parsed with fasthttp; think times, backoffs and
// deadlines of all the loop's agents sit in one timer heap, and the loop
// sleeps until the next one (rounded up to the millisecond, so it never
// spins; think times end on a 4 ms grid shared by every loop of the run, so
// that agents due together send together: see thinkEnd). Buffers are lent
// by the loop for a call and given back when it ends, so an idle agent
// costs only its socket and its small state. https
// targets, profiles with several hosts (targets:, see hosts.go) and systems
// without epoll use the goroutine transport: each call
// runs on a short-lived goroutine with crypto/tls, and its result goes back
// to the agent's loop.
//
// Two workload models are supported. In the closed model the number of
// running agents follows the profile's stages and each agent loops: request,
// think, request. In the open model a scheduler starts sessions at the
// planned rate on idle agents (up to a maximum); a session that finds no idle
// agent is recorded as dropped, and latency runs from the session's intended
// start time, so a stalled target cannot slow the schedule and hide itself
// (wrk2's correction of coordinated omission). The closed model records raw
// latency plus HdrHistogram's corrected figure, with the agent's planned pace
// (think time plus its usual service time) as the expected interval.
//
// For a loopback target agents dial from 127.0.0.2, 127.0.0.3, ... with
// IP_BIND_ADDRESS_NO_PORT so that no (source, destination) pair nears the
// ephemeral port range; every socket closes with linger 0.
package agents
