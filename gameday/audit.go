package gameday

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/agentstorm/agentstorm/profiles"
	"github.com/agentstorm/agentstorm/report"
)

// OrderAudit is the order integrity audit.
type OrderAudit struct {
	// Accepted is the distinct order ids answered 202.
	Accepted int `json:"accepted"`
	// Created, Processing and Rejected are their statuses at the end.
	Created    int `json:"created"`
	Processing int `json:"processing"`
	Rejected   int `json:"rejected"`
	// Lost were answered 202, then unknown (404) to the target.
	Lost int `json:"lost"`
	// Duplicated is the idempotency keys answered with two or more order ids.
	Duplicated int `json:"duplicated"`
	// Unreachable could not be looked up (no answer, or an unexpected one).
	Unreachable int `json:"unreachable"`
	// Waited is how long the audit waited for the queues to drain.
	Waited time.Duration `json:"-"`
	// LostIDs and DuplicateKeys are examples (at most 10 each).
	LostIDs       []string `json:"lost_ids,omitempty"`
	DuplicateKeys []string `json:"duplicate_keys,omitempty"`
}

// AuditOptions tune AuditOrders.
type AuditOptions struct {
	// Wait bounds how long orders still processing are polled again
	// (default 20 s); Poll is the pause between rounds (default 500 ms).
	Wait, Poll time.Duration
	// Parallel is the lookups in flight (default 16).
	Parallel int
	// Client is the HTTP client (default: 5 s timeout).
	Client *http.Client
}

// AuditOrders looks up every recorded order (GET BASE/v1/orders/{id} on the
// endpoint that accepted it) until none is still processing or opts.Wait
// has passed, and counts created, processing, rejected, lost and
// unreachable orders; duplicated comes from the collector's keys.
func AuditOrders(ctx context.Context, col *Collector, opts AuditOptions) OrderAudit {
	if opts.Wait <= 0 {
		opts.Wait = 20 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	cl := opts.Client
	if cl == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: opts.Parallel}
		defer tr.CloseIdleConnections() // the audit's own connections end with it
		cl = &http.Client{Timeout: 5 * time.Second, Transport: tr}
	}
	orders := col.Orders()
	sort.Slice(orders, func(i, j int) bool { return orders[i].ID < orders[j].ID })
	a := OrderAudit{Accepted: len(orders)}
	dups := col.DuplicateKeys()
	a.Duplicated = len(dups)
	for k := range dups {
		if len(a.DuplicateKeys) < 10 {
			a.DuplicateKeys = append(a.DuplicateKeys, k+" -> "+strings.Join(dups[k], ", "))
		}
	}
	sort.Strings(a.DuplicateKeys)
	status := make([]string, len(orders)) // "created", "processing", "rejected", "lost", "unreachable"
	began := time.Now()
	pending := make([]int, len(orders))
	for i := range pending {
		pending[i] = i
	}
	for {
		lookup(ctx, cl, orders, pending, status, opts.Parallel)
		var next []int
		for _, i := range pending {
			if status[i] == "processing" || status[i] == "unreachable" {
				next = append(next, i)
			}
		}
		pending = next
		if len(pending) == 0 || time.Since(began) >= opts.Wait || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(opts.Poll)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	a.Waited = time.Since(began)
	for i, s := range status {
		switch s {
		case "created":
			a.Created++
		case "processing":
			a.Processing++
		case "rejected":
			a.Rejected++
		case "lost":
			a.Lost++
			if len(a.LostIDs) < 10 {
				a.LostIDs = append(a.LostIDs, orders[i].ID)
			}
		default:
			a.Unreachable++
		}
	}
	return a
}

// lookup fetches the status of orders[i] for every i in idx.
func lookup(ctx context.Context, cl *http.Client, orders []Order, idx []int, status []string, parallel int) {
	ch := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				status[i] = lookupOne(ctx, cl, orders[i])
			}
		}()
	}
	for _, i := range idx {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

func lookupOne(ctx context.Context, cl *http.Client, o Order) string {
	u := strings.TrimRight(o.BaseURL, "/") + "/v1/orders/" + url.PathEscape(o.ID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "unreachable"
	}
	resp, err := cl.Do(req)
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return "lost"
	case http.StatusOK:
		switch s := gjson.GetBytes(body, "status").Str; s {
		case "created", "processing", "rejected":
			return s
		}
	}
	return "unreachable"
}

// Phase is one region's answers in a window of a fault.
type Phase struct {
	Count    int64   `json:"count"`
	Errors   int64   `json:"errors"`
	ErrorPct float64 `json:"error_pct"`
	// P99 is the 99th percentile latency (0 without answers).
	P99 time.Duration `json:"-"`
	// Sessions are the sessions that ended in the window; nil when the
	// run had none (agents without patience, flows without a sale step).
	Sessions *PhaseSessions `json:"sessions,omitempty"`
}

// RegionImpact is one region's before / during / after of a fault.
type RegionImpact struct {
	Region string `json:"region"`
	// Faulted is set when the fault was aimed at this region's shards (or
	// at every shard).
	Faulted bool  `json:"faulted"`
	Before  Phase `json:"before"`
	During  Phase `json:"during"`
	After   Phase `json:"after"`
	// WithinBudget is set when the during phase stayed under the error and
	// latency limits.
	WithinBudget bool `json:"within_budget"`
}

// Fault is one fault (an action and its restore) and what it did.
type Fault struct {
	Name string `json:"name"`
	// Start and End are since the storm's start (End: the restore).
	Start time.Duration `json:"-"`
	End   time.Duration `json:"-"`
	// Restored is false when no restore ran before the end.
	Restored bool           `json:"restored"`
	Regions  []RegionImpact `json:"regions"`
	// Recovery is from the restore to the end of the first second whose
	// p99 was under the limit and whose error rate was back to the
	// baseline, over the faulted regions; -1 when it never recovered.
	Recovery time.Duration `json:"-"`
	// Kind is "shard", "inventory", "latency", "orders" or "freeze".
	Kind string `json:"kind"`
	// Sessions are the sessions that ended during the fault, every region
	// (nil when the run had none): its blast radius in abandoned sessions
	// and lost sales.
	Sessions *PhaseSessions `json:"sessions,omitempty"`
}

// Degradation is the graceful-degradation audit: add-to-cart answers while
// inventory was failed.
type Degradation struct {
	// Seconds is how many whole seconds inventory was failed.
	Seconds  int   `json:"seconds"`
	InStock  int64 `json:"in_stock"`
	Preorder int64 `json:"preorder"`
	// Errors are answers that failed (no answer, or not 200) and Other
	// 200 answers without a known mode.
	Errors int64 `json:"errors"`
	Other  int64 `json:"other"`
	// PreorderShare is Preorder / all answers, in percent.
	PreorderShare float64 `json:"preorder_share"`
}

// Result is the whole game-day audit.
type Result struct {
	Events      []Event      `json:"events"`
	Faults      []Fault      `json:"faults"`
	Degradation *Degradation `json:"degradation,omitempty"`
	Orders      *OrderAudit  `json:"orders,omitempty"`
	// P99Limit and ErrorLimit are the limits blast radius and recovery
	// were judged against.
	P99Limit   time.Duration `json:"-"`
	ErrorLimit float64       `json:"error_limit_pct"`
	// RecoveryErrorPct is the error rate above the baseline, in percent
	// points, a second may have and count as recovered.
	RecoveryErrorPct float64 `json:"recovery_error_pct"`

	// faultSessions are the sessions that ended in any fault's seconds,
	// each second once where faults overlap (nil without sessions).
	faultSessions *PhaseSessions
}

// AnalyzeOptions are the limits of the analysis.
type AnalyzeOptions struct {
	// P99Limit is the latency budget (default 100 ms); ErrorLimit the
	// error rate in percent a region may have during another region's fault
	// (default 1%).
	P99Limit   time.Duration
	ErrorLimit float64
	// RecoveryErrorPct is how far above its baseline error rate (percent
	// points) a faulted region's second may be and count as recovered
	// (default 5: sessions the fault broke still end with a few errors
	// after the restore, such as steps on a cart that was never opened).
	RecoveryErrorPct float64
	// Window is how long before and after a fault is looked at (default 10 s).
	Window time.Duration
	// NoPatience: the profile has no patience, so no session could be
	// abandoned: the faults' abandoned shares and lost sales (and
	// fault_lost_sales) are not measured, rather than 0.
	NoPatience bool
}

// Analyze turns the events and the timeline into faults with their blast
// radius and recovery, and the degradation audit.
func Analyze(events []Event, tl *Timeline, col *Collector, o AnalyzeOptions) *Result {
	if o.NoPatience && tl != nil {
		bare := *tl
		bare.sessions = false // every session sum is then nil: no data
		tl = &bare
	}
	if o.P99Limit <= 0 {
		o.P99Limit = 100 * time.Millisecond
	}
	if o.ErrorLimit <= 0 {
		o.ErrorLimit = 1
	}
	if o.RecoveryErrorPct <= 0 {
		o.RecoveryErrorPct = 5
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	res := &Result{Events: events, P99Limit: o.P99Limit, ErrorLimit: o.ErrorLimit, RecoveryErrorPct: o.RecoveryErrorPct}
	end := time.Duration(tl.Seconds()) * time.Second
	used := make([]bool, len(events))
	var invWindows [][2]time.Duration
	var prevEnd time.Duration // the end of the faults so far: "before" starts after it
	var faultSecs [][2]int    // each fault's whole seconds [from, to)
	for i, ev := range events {
		if ev.Error != "" {
			continue
		}
		var undo, kind string
		switch ev.Action {
		case profiles.ChaosKillShard:
			undo, kind = profiles.ChaosRestoreShard, "shard"
		case profiles.ChaosFailInventory:
			undo, kind = profiles.ChaosRestoreInventory, "inventory"
		case profiles.ChaosAddLatency:
			undo, kind = profiles.ChaosClearLatency, "latency"
		case profiles.ChaosPauseOrders:
			undo, kind = profiles.ChaosResumeOrders, "orders"
		case profiles.ChaosFreezeShard:
			kind = "freeze"
		default:
			continue
		}
		f := Fault{Name: ev.Name, Start: ev.At, End: end, Kind: kind}
		if kind == "freeze" {
			f.End, f.Restored = ev.At+ev.Duration, true
		}
		for j := i + 1; j < len(events) && undo != ""; j++ {
			u := events[j]
			if used[j] || u.Action != undo || u.Error != "" || !slices.Equal(u.Shards, ev.Shards) {
				continue
			}
			used[j] = true
			f.End, f.Restored = u.At, true
			break
		}
		if kind == "inventory" {
			invWindows = append(invWindows, [2]time.Duration{f.Start, f.End})
		}
		if kind == "orders" {
			continue // paused workers change no answer: no blast radius
		}
		faulted := map[string]bool{}
		for _, r := range ev.Regions {
			faulted[r] = true
		}
		s0, s1 := secCeil(f.Start), secFloor(f.End)
		b0 := secCeil(max(f.Start-o.Window, prevEnd))
		prevEnd = max(prevEnd, f.End)
		a1 := secFloor(f.End + o.Window)
		var baseCnt, baseErr int64
		for r, name := range tl.Regions() {
			ri := RegionImpact{Region: name, Faulted: len(ev.Regions) == 0 || faulted[name]}
			ri.Before = phase(tl, r, b0, secFloor(f.Start))
			ri.During = phase(tl, r, s0, s1)
			ri.After = phase(tl, r, secCeil(f.End)+1, a1)
			ri.WithinBudget = ri.During.ErrorPct <= o.ErrorLimit && ri.During.P99 < o.P99Limit
			f.Regions = append(f.Regions, ri)
			if ri.Faulted {
				baseCnt += ri.Before.Count
				baseErr += ri.Before.Errors
			}
		}
		f.Sessions = tl.phaseSessions(-1, s0, s1)
		f.Recovery = -1
		if f.Restored {
			f.Recovery = recovery(tl, f, baseCnt, baseErr, o)
		}
		res.Faults = append(res.Faults, f)
		faultSecs = append(faultSecs, [2]int{s0, s1})
	}
	res.faultSessions = tl.windowSessions(-1, faultSecs)
	if len(invWindows) > 0 && col != nil {
		res.Degradation = degradation(col.Modes(), invWindows)
	}
	return res
}

// secCeil and secFloor turn a time into a whole second index.
func secCeil(d time.Duration) int  { return int((d + time.Second - 1) / time.Second) }
func secFloor(d time.Duration) int { return int(d / time.Second) }

func phase(tl *Timeline, region, from, to int) Phase {
	c, e, lat := tl.Window(region, from, to)
	p := Phase{Count: c, Errors: e}
	if c > 0 {
		p.ErrorPct = 100 * float64(e) / float64(c)
	}
	if lat != nil {
		p.P99 = time.Duration(report.ValueAtPercentile(lat, 99)) * time.Microsecond
	}
	p.Sessions = tl.phaseSessions(region, from, to)
	return p
}

// recovery finds the first whole second from the restore on whose faulted
// regions' p99 is under the limit and error rate at most the baseline
// plus RecoveryErrorPct. f.Regions are in the timeline's region order.
func recovery(tl *Timeline, f Fault, baseCnt, baseErr int64, o AnalyzeOptions) time.Duration {
	base := 0.0
	if baseCnt > 0 {
		base = 100 * float64(baseErr) / float64(baseCnt)
	}
	for s := secCeil(f.End); s < tl.Seconds(); s++ {
		var c, e int64
		var p99 time.Duration
		for r, ri := range f.Regions {
			if !ri.Faulted {
				continue
			}
			ph := phase(tl, r, s, s+1)
			c += ph.Count
			e += ph.Errors
			p99 = max(p99, ph.P99)
		}
		if c == 0 {
			continue
		}
		if 100*float64(e)/float64(c) <= base+o.RecoveryErrorPct && p99 < o.P99Limit {
			return max(time.Duration(s+1)*time.Second-f.End, 0)
		}
	}
	return -1
}

// degradation sums the add-to-cart modes over the whole seconds inside the
// inventory-failed windows.
func degradation(modes []ModeCounts, windows [][2]time.Duration) *Degradation {
	d := &Degradation{}
	for _, w := range windows {
		for s := secCeil(w[0]); s < secFloor(w[1]) && s < len(modes); s++ {
			m := modes[s]
			d.Seconds++
			d.InStock += m.InStock
			d.Preorder += m.Preorder
			d.Errors += m.Errors
			d.Other += m.Other
		}
	}
	if all := d.InStock + d.Preorder + d.Errors + d.Other; all > 0 {
		d.PreorderShare = 100 * float64(d.Preorder) / float64(all)
	}
	return d
}

// Figures are the audit's figures for budgets, by name (units: counts,
// percent, milliseconds). regions_outside_budget counts, over every fault,
// the regions it was not aimed at whose errors or p99 left the limits
// during it: the blast radius beyond the fault.
func (r *Result) Figures() map[string]float64 {
	f := map[string]float64{}
	if o := r.Orders; o != nil {
		f["lost_orders"] = float64(o.Lost)
		f["duplicate_orders"] = float64(o.Duplicated)
		f["accepted_orders"] = float64(o.Accepted)
		f["created_orders"] = float64(o.Created)
		f["processing_orders"] = float64(o.Processing)
		f["unreachable_orders"] = float64(o.Unreachable)
	}
	if d := r.Degradation; d != nil {
		f["preorder_share"] = d.PreorderShare
	}
	outside := 0
	for _, fl := range r.Faults {
		for _, ri := range fl.Regions {
			if !ri.Faulted && !ri.WithinBudget {
				outside++
			}
		}
	}
	if len(r.Faults) > 0 {
		f["regions_outside_budget"] = float64(outside)
	}
	if lost, ok := r.faultLostSales(); ok {
		f["fault_lost_sales"] = float64(lost)
	}
	var worst time.Duration
	restored, never := 0, false
	for _, fl := range r.Faults {
		if !fl.Restored {
			continue
		}
		restored++
		if fl.Recovery < 0 {
			never = true
		} else {
			worst = max(worst, fl.Recovery)
		}
	}
	switch {
	case never:
		f["recovery"] = 1e9 // never recovered
	case restored > 0:
		f["recovery"] = float64(worst.Milliseconds())
	}
	return f
}

// FigureUnits says which unit each figure of Figures has, for the budgets
// that judge them (recovery is in milliseconds).
func FigureUnits() map[string]report.Unit {
	return map[string]report.Unit{
		"lost_orders": report.UnitCount, "duplicate_orders": report.UnitCount, "accepted_orders": report.UnitCount,
		"created_orders": report.UnitCount, "processing_orders": report.UnitCount, "unreachable_orders": report.UnitCount,
		"preorder_share": report.UnitPercent, "recovery": report.UnitDuration, "regions_outside_budget": report.UnitCount,
		"fault_lost_sales": report.UnitCount,
	}
}

// fmtDur formats d as every report does (report.FormatDuration); a
// negative d, a recovery that never came, is "never".
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return report.FormatDuration(d)
}

// Lines renders the game-day section as text lines (the verdict first).
func (r *Result) Lines() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	add("Timeline:")
	for _, e := range r.Events {
		st := "ok"
		if e.Error != "" {
			st = "FAILED: " + e.Error
		}
		auto := ""
		if e.Auto {
			auto = " (auto)"
		}
		add("  %7.1fs  %s%s  %s", e.At.Seconds(), e.Name, auto, st)
		if e.Action == profiles.ChaosExec {
			add("           exit %d; output: %s", e.ExitCode, strings.TrimSpace(strings.ReplaceAll(e.Output, "\n", " | ")))
		}
	}
	for _, f := range r.Faults {
		end := "not restored"
		if f.Restored {
			end = fmt.Sprintf("restored at %.1fs", f.End.Seconds())
		}
		add("Fault %q at %.1fs, %s; recovery %s", f.Name, f.Start.Seconds(), end, fmtDur(f.Recovery))
		add("  %-10s %-8s %28s %28s %28s", "region", "faulted", "before (n, err, p99)", "during", "after")
		for _, ri := range f.Regions {
			flag := "no"
			if ri.Faulted {
				flag = "YES"
			}
			verdict := ""
			if !ri.Faulted {
				verdict = "  within budget"
				if !ri.WithinBudget {
					verdict = "  OUTSIDE budget"
				}
			}
			add("  %-10s %-8s %28s %28s %28s%s", ri.Region, flag, fmtPhase(ri.Before), fmtPhase(ri.During), fmtPhase(ri.After), verdict)
		}
		out = append(out, sessionLines(f)...)
	}
	if d := r.Degradation; d != nil {
		add("Degradation (add-to-cart while inventory was failed, %d s): %.2f%% pre-order, %d in stock, %d errors, %d other",
			d.Seconds, d.PreorderShare, d.InStock, d.Errors, d.Other)
	}
	if o := r.Orders; o != nil {
		add("Orders: %d accepted (202): %d created, %d still processing, %d rejected, %d lost, %d duplicated, %d not reachable (waited %s for the queues)",
			o.Accepted, o.Created, o.Processing, o.Rejected, o.Lost, o.Duplicated, o.Unreachable, fmtDur(o.Waited))
		if len(o.LostIDs) > 0 {
			add("  lost, e.g.: %s", strings.Join(o.LostIDs, ", "))
		}
		if len(o.DuplicateKeys) > 0 {
			add("  duplicated, e.g.: %s", strings.Join(o.DuplicateKeys, "; "))
		}
	}
	return out
}

func fmtPhase(p Phase) string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("%d, %.1f%%, %s", p.Count, p.ErrorPct, fmtDur(p.P99))
}

// Verdict is a few sentences a manager can read: what was broken, what
// the customers saw, whether anything was lost.
func (r *Result) Verdict() []string {
	var out []string
	for _, f := range r.Faults {
		var hit, held, outside []string
		for _, ri := range f.Regions {
			switch {
			case ri.Faulted:
				hit = append(hit, fmt.Sprintf("%s (%.0f%% errors)", ri.Region, ri.During.ErrorPct))
			case ri.WithinBudget:
				held = append(held, ri.Region)
			default:
				outside = append(outside, ri.Region)
			}
		}
		s := fmt.Sprintf("%s for %s: ", f.Name, fmtDur(f.End-f.Start))
		if f.Kind == "inventory" {
			s = fmt.Sprintf("%s for %s: every region stayed up", f.Name, fmtDur(f.End-f.Start))
		} else {
			s += "affected " + strings.Join(hit, ", ")
			if len(held) > 0 {
				s += "; " + strings.Join(held, ", ") + " stayed within budget"
			}
			if len(outside) > 0 {
				s += "; " + strings.Join(outside, ", ") + " went OUTSIDE budget"
			}
		}
		s += sessionVerdict(f)
		if f.Recovery >= 0 {
			s += fmt.Sprintf("; recovered %s after the restore", fmtDur(f.Recovery))
		} else if f.Restored {
			s += "; did NOT recover before the end"
		}
		out = append(out, s+".")
	}
	if d := r.Degradation; d != nil {
		out = append(out, fmt.Sprintf("While inventory was down, %.1f%% of add-to-cart answers were still sales (pre-order mode); %d failed.", d.PreorderShare, d.Errors))
	}
	if o := r.Orders; o != nil {
		if o.Lost == 0 && o.Duplicated == 0 {
			out = append(out, fmt.Sprintf("All %d accepted orders are accounted for: none lost, none duplicated.", o.Accepted))
		} else {
			out = append(out, fmt.Sprintf("ORDER INTEGRITY BROKEN: %d of %d accepted orders lost, %d duplicated.", o.Lost, o.Accepted, o.Duplicated))
		}
	}
	return out
}

// MarshalJSON writes Waited as waited_ms.
func (a OrderAudit) MarshalJSON() ([]byte, error) {
	type plain OrderAudit
	return json.Marshal(struct {
		plain
		Waited float64 `json:"waited_ms"`
	}{plain(a), ms(a.Waited)})
}

// MarshalJSON writes P99 as p99_ms.
func (p Phase) MarshalJSON() ([]byte, error) {
	type plain Phase
	return json.Marshal(struct {
		plain
		P99 float64 `json:"p99_ms"`
	}{plain(p), ms(p.P99)})
}

// MarshalJSON writes Start, End and Recovery in milliseconds (recovery_ms
// -1: never recovered).
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	rec := -1.0
	if f.Recovery >= 0 {
		rec = ms(f.Recovery)
	}
	return json.Marshal(struct {
		plain
		Start    float64 `json:"start_ms"`
		End      float64 `json:"end_ms"`
		Recovery float64 `json:"recovery_ms"`
	}{plain(f), ms(f.Start), ms(f.End), rec})
}

// MarshalJSON writes P99Limit as p99_limit_ms.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		P99Limit float64 `json:"p99_limit_ms"`
	}{plain(r), ms(r.P99Limit)})
}
