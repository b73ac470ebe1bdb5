// Package agents is the swarm: it runs a profile's agents against a target
// over HTTP/1.1 and records every answer in a report.Recorder.
//
// Each agent is one goroutine with its own keep-alive connection, its own
// variables and its own random source (seeded from the run's seed and the
// agent's id, so a run is reproducible). Request and response buffers are
// borrowed from pools for a call (kept across calls sent back to back) and
// given back before the agent thinks, so an idle agent costs only its
// goroutine, its socket and its small state.
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
