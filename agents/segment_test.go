package agents

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

func TestParseSegment(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Segment
		err  string
	}{
		{"0/4", Segment{0, 4}, ""},
		{" 3/4 ", Segment{3, 4}, ""},
		{"0/1", Segment{0, 1}, ""},
		{"4/4", Segment{}, "index must be 0 to 3"},
		{"-1/4", Segment{}, "index must be 0 to 3"},
		{"1/0", Segment{}, "index must be 0 to 0"},
		{"1", Segment{}, "want I/N"},
		{"a/b", Segment{}, "two whole numbers"},
	} {
		got, err := ParseSegment(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseSegment(%q) = %v, %v; want error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseSegment(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestShareAddsUpAndIDsAreDisjoint(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for _, total := range []int{0, 1, 2, 3, 5, 16, 17, 99, 1000, 49_999, 50_000, 50_001} {
			sum := 0
			for i := 0; i < n; i++ {
				g := Segment{i, n}
				sh := g.Share(total)
				if sh != total/n && sh != total/n+1 {
					t.Fatalf("%v.Share(%d) = %d, want %d or %d", g, total, sh, total/n, total/n+1)
				}
				sum += sh
			}
			if sum != total {
				t.Fatalf("%d segments: shares of %d add up to %d", n, total, sum)
			}
		}
		// The first Share(total) local agents of every segment are exactly
		// the global ids 0 … total-1, each once.
		const total = 1001
		seen := make([]int, total)
		for i := 0; i < n; i++ {
			g := Segment{i, n}
			for l := 0; l < g.Share(total); l++ {
				id := g.GlobalID(l)
				if id >= total || !g.Owns(id) {
					t.Fatalf("%v: local %d -> global %d (of %d)", g, l, id, total)
				}
				seen[id]++
			}
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("%d segments: global id %d run %d times", n, id, c)
			}
		}
	}
}

// TestClosedLevelsAddUp checks the closed model's split at every
// millisecond of a 0 → 50,000 ramp in 6 s: the segments' levels add up to
// the whole storm's level, so the ramp still takes 6 s.
func TestClosedLevelsAddUp(t *testing.T) {
	w := profiles.Workload{Model: profiles.Closed, Stages: []profiles.Stage{
		{Duration: 6 * time.Second, Target: 50_000},
		{Duration: 60 * time.Second, Target: 50_000},
	}}
	for _, n := range []int{2, 3, 7, 8} {
		for t0 := time.Duration(0); t0 <= 6500*time.Millisecond; t0 += time.Millisecond {
			whole := int(math.Round(w.LevelAt(t0)))
			sum := 0
			for i := 0; i < n; i++ {
				sum += Segment{i, n}.Share(whole)
			}
			if sum != whole {
				t.Fatalf("%d segments at %s: levels add up to %d, want %d", n, t0, sum, whole)
			}
		}
		if got := (Segment{0, n}).Share(int(math.Round(w.LevelAt(6 * time.Second)))); got != (50_000+n-1)/n {
			t.Fatalf("%d segments: segment 0 at 6 s has %d agents, want %d", n, got, (50_000+n-1)/n)
		}
	}
}

// TestArrivalsAddUp checks the open model's split: the segments' arrivals,
// put together, are exactly the whole storm's schedule.
func TestArrivalsAddUp(t *testing.T) {
	w := profiles.Workload{Model: profiles.Open, Stages: []profiles.Stage{
		{Duration: time.Second, Target: 700},
		{Duration: 1500 * time.Millisecond, Target: 700},
		{Duration: 500 * time.Millisecond, Target: 0},
	}}
	end := w.Duration()
	collect := func(g Segment) []time.Duration {
		gen := arrivals{w: w, end: end, seg: g}
		var out []time.Duration
		for i := 0; i < 10_000; i++ {
			at, ok := gen.next()
			if !ok {
				return out
			}
			out = append(out, at)
		}
		t.Fatal("more than 10,000 arrivals")
		return nil
	}
	whole := collect(Segment{})
	if len(whole) < 1400 || len(whole) > 1600 { // 350 + 1050 + 175
		t.Fatalf("whole storm: %d arrivals, want about 1,575", len(whole))
	}
	for _, n := range []int{2, 3, 8} {
		var all []time.Duration
		for i := 0; i < n; i++ {
			part := collect(Segment{i, n})
			if !sort.SliceIsSorted(part, func(a, b int) bool { return part[a] < part[b] }) {
				t.Fatalf("segment %d/%d: arrivals out of order", i, n)
			}
			if d := len(part) - len(whole)/n; d < 0 || d > 1 {
				t.Fatalf("segment %d/%d: %d arrivals of %d", i, n, len(part), len(whole))
			}
			all = append(all, part...)
		}
		sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
		if len(all) != len(whole) {
			t.Fatalf("%d segments: %d arrivals, whole storm %d", n, len(all), len(whole))
		}
		for k := range all {
			if all[k] != whole[k] {
				t.Fatalf("%d segments: arrival %d at %s, whole storm at %s", n, k, all[k], whole[k])
			}
		}
	}
}

// TestSegmentsRunTheWholeStorm runs three segments of a closed storm at
// once on one shared Start and checks that together they ran every agent
// id of the plan exactly once, each from its own segment.
func TestSegmentsRunTheWholeStorm(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		ids[string(ctx.QueryArgs().Peek("a"))+"/"+string(ctx.QueryArgs().Peek("s"))]++
		mu.Unlock()
		ctx.SetBodyString("ok")
	})
	src := `
target: http://127.0.0.1:1
workload:
  model: closed
  stages: "0->10 in 0s, hold 600ms"
  think: 100ms
flows:
  - name: f
    steps:
      - {name: ping, method: GET, path: "/ping?a={{agent.id}}&s=SEG"}
`
	const n = 3
	start := time.Now().Add(300 * time.Millisecond)
	var wg sync.WaitGroup
	sums := make([]*report.Summary, n)
	peaks := make([]int, n)
	for i := 0; i < n; i++ {
		prof := load(t, strings.Replace(src, "SEG", string(rune('0'+i)), 1))
		o := RecorderOptions(prof)
		o.Start = start
		rec := report.NewRecorder(o)
		sw, err := New(Config{BaseURL: base, Segment: Segment{i, n}, Start: start}, prof, rec)
		if err != nil {
			t.Fatal(err)
		}
		peaks[i] = sw.MaxAgents()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sw.Run(context.Background()); err != nil {
				t.Error(err)
			}
			sums[i] = rec.Summary(sw.Elapsed())
		}()
	}
	wg.Wait()
	if peaks[0]+peaks[1]+peaks[2] != 10 || peaks[0] != 4 || peaks[2] != 3 {
		t.Fatalf("segment sizes %v, want [4 3 3]", peaks)
	}
	mu.Lock()
	defer mu.Unlock()
	agentsSeen := map[string]bool{}
	for k := range ids {
		a, s, _ := strings.Cut(k, "/")
		var id, seg int
		for _, c := range a {
			id = id*10 + int(c-'0')
		}
		seg = int(s[0] - '0')
		if id%n != seg {
			t.Errorf("agent %d ran in segment %d", id, seg)
		}
		if agentsSeen[a] {
			t.Errorf("agent %s ran in two segments", a)
		}
		agentsSeen[a] = true
	}
	if len(agentsSeen) != 10 {
		t.Errorf("%d distinct agents ran, want 10: %v", len(agentsSeen), ids)
	}
	for i, s := range sums {
		if s.Overall.Count == 0 {
			t.Errorf("segment %d recorded nothing", i)
		}
	}
}
