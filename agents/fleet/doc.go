// Package fleet spreads a storm over worker processes: one machine holds
// fewer sockets per process than a storm needs, so a coordinator starts
// workers of the same executable, each running a disjoint segment of the
// agents (agents.Segment), and merges what they stream into one storm.
//
// The stream. A worker writes to its stdout an hlog (hlog.Writer:
// HdrHistogram V2 interval log with agentstorm's comment lines), so the
// stream is also a file `agentstorm report merge` reads: the header with
// #agentstorm-meta, then every second an #agentstorm-interval comment with
// the counts of each step × region and its histogram lines, and at the end
// #agentstorm-end. Before each interval the worker writes one line
// "#agentstorm-worker {JSON Stats}" with its counters (active agents,
// connections open, dials, failed dials, dropped sessions), and once more
// after the last. The coordinator reads it with hlog.Decoder, which
// hands over an interval only once its last histogram line has arrived and
// copies only whole intervals to the worker's log file, so a worker killed
// in the middle of a write leaves no half interval behind.
//
// A worker stops cleanly on SIGTERM or SIGINT (the context of
// RunWorkerMain): the agents stop, the last partial interval and the end
// line are written and flushed, and it exits 0.
package fleet
