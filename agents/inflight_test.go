package agents

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// inFlightSampler samples the swarm's sessions in flight every 5 ms
// between from and to (since the start).
type inFlightSampler struct {
	mu      sync.Mutex
	samples []int64
}

func (f *inFlightSampler) run(sw *Swarm, from, to time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		st := sw.Stats()
		if st.Elapsed < from || st.Elapsed > to {
			continue
		}
		f.mu.Lock()
		f.samples = append(f.samples, st.Active)
		f.mu.Unlock()
	}
}

// stats returns the samples' mean and most (0, 0 without samples).
func (f *inFlightSampler) stats() (mean float64, most int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sum int64
	for _, v := range f.samples {
		sum += v
		most = max(most, v)
	}
	if len(f.samples) == 0 {
		return 0, 0
	}
	return float64(sum) / float64(len(f.samples)), most
}

// settled returns the samples from the first at or below level on, and
// whether there was one.
func (f *inFlightSampler) settled(level int64) ([]int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, v := range f.samples {
		if v <= level {
			return f.samples[i:], true
		}
	}
	return nil, false
}

// runSampled runs prof against base and samples the sessions in flight in
// each window; it returns the summary.
func runSampled(t *testing.T, p *profiles.Profile, base string, windows [][2]time.Duration) (*report.Summary, []*inFlightSampler) {
	t.Helper()
	sw, rec := newSwarm(t, p, Config{BaseURL: base})
	done := make(chan struct{})
	var wg sync.WaitGroup
	samplers := make([]*inFlightSampler, len(windows))
	for i, w := range windows {
		samplers[i] = &inFlightSampler{}
		wg.Add(1)
		go func() { defer wg.Done(); samplers[i].run(sw, w[0], w[1], done) }()
	}
	err := sw.Run(context.Background())
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return rec.Summary(sw.Elapsed()), samplers
}

// TestInFlightTracksLevel: with in-flight levels the sessions in flight
// follow the plan (a ramp, a hold, a fall) against a server with a fixed
// delay, sessions that end are replaced, none is dropped while agents
// suffice, and a falling level ends no session early.
func TestInFlightTracksLevel(t *testing.T) {
	if testing.Short() {
		t.Skip("2.5 s at ~4,000 requests a second: timing under the race detector is not the point")
	}
	const delay = 40 * time.Millisecond
	base := delayServer(t, delay, nil)
	// A session is two requests 40 ms apart plus 40 ms of think: ~120 ms.
	sum, s := runSampled(t, load(t, `
target: http://127.0.0.1:1
workload:
  model: open
  levels: in_flight
  stages: "0->200 in 400ms, hold 1200ms, ->50 in 0s, hold 800ms"
  think: 40ms
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: /ping, repeat: 2}
`), base,
		[][2]time.Duration{
			{160 * time.Millisecond, 240 * time.Millisecond},   // half way up the ramp
			{700 * time.Millisecond, 1550 * time.Millisecond},  // the hold
			{1600 * time.Millisecond, 2350 * time.Millisecond}, // after the fall
		})
	if sum.Dropped != 0 {
		t.Fatalf("%d sessions dropped with agents to spare", sum.Dropped)
	}
	ramp, hold, fall := s[0], s[1], s[2]
	rampMean, _ := ramp.stats()
	holdMean, holdMost := hold.stats()
	after, ok := fall.settled(50)
	t.Logf("in flight: half way up %.1f, hold %.1f (most %d), after the fall %v; %d requests, p50 %s, p99 %s",
		rampMean, holdMean, holdMost, after, sum.Overall.Count, sum.Overall.Raw.P50, sum.Overall.Raw.P99)
	// The checks allow for a machine busy with other work: a replacement
	// starts once the scheduler and the agent's loop get a core.
	if _, most := ramp.stats(); len(ramp.samples) > 0 && (rampMean < 40 || most > 120) {
		t.Errorf("half way up the ramp to 200: %.0f sessions in flight (most %d), want about 100 and never ahead of the plan (120 at 240 ms)", rampMean, most)
	}
	if holdMean < 170 || holdMost != 200 {
		t.Errorf("hold at 200: %.1f sessions in flight on average (most %d), want 170..200, reaching 200 and never above", holdMean, holdMost)
	}
	// After the fall sessions end on their own and are not replaced until
	// fewer than 50 are in flight; from then on it stays at most 50.
	if !ok {
		t.Errorf("the sessions in flight never fell to the new level 50")
	}
	for _, v := range after {
		if v > 50 {
			t.Errorf("after the fall to 50: %d sessions in flight once it had fallen to 50 (%v)", v, after)
			break
		}
	}
	// About 200 sessions of 120 ms for 1.6 s and 50 for 0.8 s: ~3,000
	// sessions of 2 requests; without replacements there would be 250.
	if n := sum.Overall.Count; n < 1500 || n > 7000 {
		t.Errorf("%d requests, want about 6,000 (sessions replaced as they end)", n)
	}
	// Nothing of the generator's own delay worth a mention is in the
	// figures: the server takes 40 ms.
	if p50 := sum.Overall.Raw.P50; p50 < delay || p50 > delay+25*time.Millisecond {
		t.Errorf("p50 %s against a %s server", p50, delay)
	}
}

// TestInFlightDropsWhenAgentsShort: a level above max_agents drops the
// sessions it cannot start, once per unit of level, and keeps every agent
// busy; sessions keep being replaced meanwhile.
func TestInFlightDropsWhenAgentsShort(t *testing.T) {
	base := delayServer(t, 50*time.Millisecond, nil)
	sum, s := runSampled(t, loadPing(t, `
  model: open
  levels: in_flight
  stages: "0->100 in 200ms, hold 1s"
  max_agents: 40
`), base, [][2]time.Duration{{400 * time.Millisecond, 1100 * time.Millisecond}})
	if sum.Dropped != 60 {
		t.Fatalf("%d sessions dropped, want 60 (levels 41..100, each once)", sum.Dropped)
	}
	if m, most := s[0].stats(); m < 32 || most != 40 {
		t.Errorf("%.1f sessions in flight on average (most %d), want all 40 agents busy", m, most)
	}
	// 40 agents, 50 ms sessions, ~1.1 s: ~880 sessions.
	if n := sum.Overall.Count; n < 400 || n > 1000 {
		t.Errorf("%d requests, want about 880 (sessions replaced as they end)", n)
	}
}

// TestInFlightSegmentShare: a segment keeps its Share of the whole storm's
// level in flight (101 split 51 + 50 over two segments).
func TestInFlightSegmentShare(t *testing.T) {
	base := delayServer(t, 30*time.Millisecond, nil)
	for _, tc := range []struct {
		seg  Segment
		want int64
	}{{Segment{Index: 0, Count: 2}, 51}, {Segment{Index: 1, Count: 2}, 50}} {
		sw, rec := newSwarm(t, loadPing(t, `
  model: open
  levels: in_flight
  stages: "0->101 in 0s, hold 700ms"
`), Config{BaseURL: base, Segment: tc.seg})
		var f inFlightSampler
		done := make(chan struct{})
		go f.run(sw, 200*time.Millisecond, 650*time.Millisecond, done)
		err := sw.Run(context.Background())
		close(done)
		if err != nil {
			t.Fatal(err)
		}
		if m, most := f.stats(); most != tc.want || m < float64(tc.want)*0.8 {
			t.Errorf("segment %s: %.1f in flight on average, most %d; want %d", tc.seg, m, most, tc.want)
		}
		if d := rec.Summary(sw.Elapsed()).Dropped; d != 0 {
			t.Errorf("segment %s: %d dropped", tc.seg, d)
		}
	}
}
