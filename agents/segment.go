package agents

import (
	"fmt"
	"strconv"
	"strings"
)

// Segment selects one of Count disjoint parts of a storm, so that several
// processes (workers on one machine, pods on many) run one storm between
// them. The split is deterministic and exact:
//
//   - agent ids: segment I runs the agents whose global id % Count == I, so
//     an agent has the same id, random source, region and customer whatever
//     process runs it;
//   - closed-model stages: at every instant the whole storm's level L is
//     split as Share(L), which gives each segment floor(L/Count) or one more,
//     and the segments' levels add up to L exactly (a ramp to 50,000 in 6 s
//     is 6 s in every segment);
//   - open-model arrivals: the whole storm's arrival schedule is generated
//     in every segment and arrival k goes to segment k % Count, so the
//     segments' sessions add up to the plan exactly, at the planned times;
//   - open-model in-flight levels (profiles.InFlight) are split as
//     closed-model stages are, with Share at every instant;
//   - the open model's most concurrent sessions are split with Share.
//
// The zero value (and Count 1) is the whole storm.
type Segment struct {
	// Index is the segment, 0 <= Index < Count.
	Index int
	// Count is the number of segments; 0 or 1 means the whole storm.
	Count int
}

// ParseSegment parses "I/N" (0-based I, 0 <= I < N), as given to
// `agentstorm run --segment`.
func ParseSegment(s string) (Segment, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Segment{}, fmt.Errorf("segment %q: want I/N, such as 0/4 (segment 0 of 4)", s)
	}
	idx, err1 := strconv.Atoi(strings.TrimSpace(i))
	cnt, err2 := strconv.Atoi(strings.TrimSpace(n))
	if err1 != nil || err2 != nil {
		return Segment{}, fmt.Errorf("segment %q: want two whole numbers I/N, such as 0/4", s)
	}
	g := Segment{Index: idx, Count: cnt}
	if err := g.Validate(); err != nil {
		return Segment{}, err
	}
	return g, nil
}

// Validate reports whether the segment is well formed.
func (g Segment) Validate() error {
	switch {
	case g.Count < 0:
		return fmt.Errorf("segment %d/%d: the count must be 1 or more", g.Index, g.Count)
	case g.Count > 1<<20:
		return fmt.Errorf("segment %d/%d: at most %d segments", g.Index, g.Count, 1<<20)
	case g.Index < 0 || g.Index >= g.n():
		return fmt.Errorf("segment %d/%d: the index must be 0 to %d (segments count from 0)", g.Index, g.Count, g.n()-1)
	}
	return nil
}

// n is Count with the zero value meaning 1.
func (g Segment) n() int { return max(g.Count, 1) }

// Whole reports whether the segment is the whole storm.
func (g Segment) Whole() bool { return g.Count <= 1 }

// String returns "I/N".
func (g Segment) String() string { return fmt.Sprintf("%d/%d", g.Index, g.n()) }

// Share returns this segment's part of total: the number of ids in
// [0, total) with id % Count == Index, i.e. floor(total/Count) plus one for
// the first total % Count segments. The shares of all segments add up to
// total exactly. Negative totals are 0.
func (g Segment) Share(total int) int {
	if total <= g.Index {
		return 0
	}
	n := g.n()
	return (total - g.Index + n - 1) / n
}

// GlobalID returns the storm-wide id of this segment's local agent number
// local (0, 1, 2, ...): local*Count + Index.
func (g Segment) GlobalID(local int) int { return local*g.n() + g.Index }

// Owns reports whether arrival or agent number k belongs to this segment.
func (g Segment) Owns(k int) bool { return k%g.n() == g.Index }
