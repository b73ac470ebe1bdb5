package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentstorm/agentstorm/agents"
)

// statsPrefix starts a worker's stats line in its stream.
const statsPrefix = "#agentstorm-worker "

// Stats are a worker's counters, written before each interval and after
// the last. Every field is a snapshot (not a difference).
type Stats struct {
	// Segment is "I/N".
	Segment string `json:"segment"`
	// ElapsedMs is the time since the storm's start.
	ElapsedMs int64 `json:"elapsed_ms"`
	// Active is the agents running (closed) or in a session (open).
	Active int64 `json:"active"`
	// Agents is the agent goroutines alive.
	Agents int64 `json:"agents"`
	// Connected is the connections open.
	Connected int64 `json:"connected"`
	// Dials and DialErrors count connection attempts and their failures.
	Dials      int64 `json:"dials"`
	DialErrors int64 `json:"dial_errors"`
	// Dropped is the open model's sessions that found no idle agent.
	Dropped int64 `json:"dropped"`
	// FullAtMs is when this worker's connections first reached its share
	// of the peak, since the start (0: not yet).
	FullAtMs int64 `json:"full_at_ms,omitempty"`
	// Final is set on the stats line after the last interval.
	Final bool `json:"final,omitempty"`
}

func statsOf(seg agents.Segment, st agents.Stats) Stats {
	return Stats{
		Segment: seg.String(), ElapsedMs: st.Elapsed.Milliseconds(), Active: st.Active, Agents: st.Agents,
		Connected: st.Connected, Dials: st.Dials, DialErrors: st.DialErrors, Dropped: st.Dropped,
		FullAtMs: (st.FullAt + time.Millisecond - 1).Milliseconds(), // rounded up: > 0 once full
	}
}

// writeStats writes a stats line and flushes.
func writeStats(bw *bufio.Writer, st Stats) error {
	j, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	bw.WriteString(statsPrefix)
	bw.Write(j)
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return nil
}

// parseStats parses a stats line (prefix included).
func parseStats(line string) (Stats, error) {
	var st Stats
	if err := json.Unmarshal([]byte(line[len(statsPrefix):]), &st); err != nil {
		return st, fmt.Errorf("bad stats line: %w", err)
	}
	return st, nil
}
