// Package dashboard is the live view of a running storm: an http.Handler
// serving one page that follows the storm through server-sent events, fed
// by the same intervals as the live line (Observe, one a second), and at
// the end the run's HTML report (Finish).
package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/agentstorm/agentstorm/report"
	"github.com/agentstorm/agentstorm/report/budget"
)

// maxFrames bounds the history kept for a page opened late (an hour of
// one-second frames); older frames are dropped, the totals stay exact.
const maxFrames = 3600

// sliver is the shortest interval the budgets are judged on: the run's
// last interval, cut short by its end, keeps the states of the one before
// (as the live line and the live budget checks skip it).
const sliver = 500 * time.Millisecond

// Figures are the swarm's counters at an interval's end, which the
// interval itself does not carry.
type Figures struct {
	// Elapsed is the run time at the interval's end.
	Elapsed time.Duration
	// Agents is the agents active, Connections the connections open
	// (negative when unknown, as in a k6 ingest).
	Agents, Connections int64
	// Workers is the worker processes of a storm spread over them (0: one
	// process), Lost how many of them died so far.
	Workers, Lost int
	// Unmeasured is what the run cannot measure of its sessions (a k6
	// ingest's abandonment: report.UnmeasuredSessions); the page says so
	// instead of showing a 0.
	Unmeasured report.SessionsUnmeasured
}

// Dashboard holds a run's frames and serves them. Observe, Mark and
// Finish may be called from any goroutine; the page is served meanwhile.
type Dashboard struct {
	mu        sync.Mutex
	budgets   []*budget.Budget
	judge     *budget.LiveChecker
	raw, corr *hdr.Histogram
	frames    [][]byte        // JSON of the frames kept, oldest first
	seq       int             // the frames made so far (kept or dropped)
	requests  int64           // the run's requests so far
	under     int64           // the run's answers within 100 ms so far
	answers   int64           // the run's answers with a latency so far
	sessions  report.Sessions // the run's session outcomes so far
	events    []string        // markers not yet sent
	states    []budget.State  // the budgets on the last full interval
	wake      chan struct{}
	report    []byte        // the final HTML report, once finished
	end       []byte        // the end event's JSON, once finished
	streams   int           // event streams open now
	followed  bool          // a stream was open when the run finished
	fetched   chan struct{} // closed when the report is first served
}

// New returns a dashboard judging the budgets on each interval.
func New(budgets []*budget.Budget) *Dashboard {
	return &Dashboard{budgets: budgets, judge: budget.NewStatesChecker(),
		raw: report.NewHistogram(), corr: report.NewHistogram(), wake: make(chan struct{}), fetched: make(chan struct{})}
}

// Observe adds the interval iv as one frame and wakes the pages. It does
// not keep iv.
func (d *Dashboard) Observe(iv *report.Interval, f Figures) {
	if iv == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fr := Frame{T: f.Elapsed.Seconds(), RPS: iv.RPS(), Agents: f.Agents, Workers: f.Workers, Lost: f.Lost}
	if f.Connections >= 0 {
		fr.Conns = &f.Connections
	}
	d.requests += iv.Count()
	fr.Requests = d.requests
	if iv.All != nil && iv.All.TotalCount() > 0 {
		c := float64(iv.Under) / float64(iv.All.TotalCount())
		fr.Compliance = &c
		d.under += iv.Under
		d.answers += iv.All.TotalCount()
	}
	if d.answers > 0 {
		c := float64(d.under) / float64(d.answers)
		fr.Overall = &c
	}
	for o := report.Outcome(1); int(o) < report.NumOutcomes; o++ {
		if n := iv.Counts[o]; n > 0 {
			if fr.Errors == nil {
				fr.Errors = map[string]int64{}
			}
			fr.Errors[o.String()] = n
		}
	}
	fr.Steps = stepFrames(iv, d.raw, d.corr)
	fr.Sessions = sessionFrame(iv, &d.sessions, f.Unmeasured)
	if iv.Duration() >= sliver {
		d.states = d.judge.States(d.budgets, iv, f.Elapsed)
	} else {
		fr.Short = true
	}
	fr.Budgets = d.states
	fr.Events, d.events = d.events, nil
	b, err := json.Marshal(fr)
	if err != nil {
		return // a Frame of numbers and strings always marshals
	}
	if len(d.frames) == maxFrames {
		d.frames = append(d.frames[:0], d.frames[1:]...)
	}
	d.frames = append(d.frames, b)
	d.seq++
	d.notify()
}

// Mark adds a marker (a chaos action, a note) to the next frame.
func (d *Dashboard) Mark(at time.Duration, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, fmt.Sprintf("%s %s", at.Round(time.Second), text))
}

// End is the last event of a run: where its report is, its requests and
// its budgets' verdicts on the whole run (s.Budgets).
type End struct {
	Report   string         `json:"report"`
	Requests int64          `json:"n"`
	Budgets  []budget.State `json:"budgets,omitempty"`
}

// Finish renders the run's HTML report (report.WriteHTML of its summary,
// its budgets judged), serves it at /report and tells the pages the run
// is over, with the budgets' verdicts on the whole run.
func (d *Dashboard) Finish(s *report.Summary) error {
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, s); err != nil {
		return fmt.Errorf("dashboard report: %w", err)
	}
	end := End{Report: "/report", Requests: s.Overall.Count}
	for _, b := range s.Budgets {
		st := budget.State{Expr: b.Expr, State: "fail", Actual: b.Actual}
		if b.Met {
			st.State = "pass"
		}
		end.Budgets = append(end.Budgets, st)
	}
	e, err := json.Marshal(end)
	if err != nil {
		return fmt.Errorf("dashboard end: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.report, d.end = buf.Bytes(), e
	// Read now: a page's stream ends once it has sent the end event,
	// possibly before WaitFetched looks.
	d.followed = d.streams > 0
	d.notify()
	return nil
}

// notify wakes every waiting page; d.mu is held.
func (d *Dashboard) notify() {
	close(d.wake)
	d.wake = make(chan struct{})
}

// since returns the frames after the first n made (the kept ones only,
// when older ones were dropped), the count made,
// the end event once the run is over (else nil), and the channel closed
// at the next change.
func (d *Dashboard) since(n int) (frames [][]byte, next int, end []byte, wake <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := max(n-(d.seq-len(d.frames)), 0)
	return d.frames[i:], d.seq, d.end, d.wake
}

// WaitFetched waits, at most timeout, until a page fetched the report,
// when a page was following the run at its end; it returns at once when
// none was.
func (d *Dashboard) WaitFetched(timeout time.Duration) {
	d.mu.Lock()
	followed := d.followed
	d.mu.Unlock()
	if !followed {
		return
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.fetched:
	case <-t.C:
	}
}

// finalReport returns the HTML report (nil before Finish), noting it fetched.
func (d *Dashboard) finalReport() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.report != nil {
		select {
		case <-d.fetched:
		default:
			close(d.fetched)
		}
	}
	return d.report
}

// follow counts an event stream opened (+1) or closed (-1).
func (d *Dashboard) follow(delta int) {
	d.mu.Lock()
	d.streams += delta
	d.mu.Unlock()
}
