package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// JSONSchemaVersion is the version of the JSON summary's schema
// (docs/json-schema.md). It grows when a field changes meaning or goes
// away; new fields may appear within a version.
const JSONSchemaVersion = 1

// JSONReport is the JSON summary (WriteJSON). Field names are stable
// snake_case; durations are milliseconds (float), shares 0…1, percentages
// 0…100 where the name ends in _pct.
type JSONReport struct {
	SchemaVersion  int               `json:"schema_version"`
	Tool           string            `json:"tool"`
	Status         string            `json:"status"`
	StatusReason   string            `json:"status_reason,omitempty"`
	Model          string            `json:"model"`
	Start          time.Time         `json:"start"`
	ElapsedSeconds float64           `json:"elapsed_seconds"`
	Meta           map[string]string `json:"meta,omitempty"`
	Compliance     JSONCompliance    `json:"compliance"`
	Overall        JSONStats         `json:"overall"`
	Steps          []JSONStats       `json:"steps"`
	Regions        []JSONStats       `json:"regions"`
	Cells          []JSONStats       `json:"cells"`
	Connections    int64             `json:"connections"`
	Redirects      int64             `json:"redirects,omitempty"`
	Dropped        int64             `json:"dropped"`
	// SessionsNotMeasured says which session figures the run could not
	// measure, and why (a k6 ingest's abandonment); nil when it measured
	// them all. Those figures read 0 in "sessions": they are not counts.
	SessionsNotMeasured *JSONNotMeasured   `json:"sessions_not_measured,omitempty"`
	Clamped             int64              `json:"clamped"`
	Invalid             int64              `json:"invalid"`
	PeakActiveAgents    int                `json:"peak_active_agents"`
	Failures            []JSONFailure      `json:"failures"`
	Figures             map[string]float64 `json:"figures,omitempty"`
	Budgets             []JSONBudget       `json:"budgets"`
	BudgetsMet          bool               `json:"budgets_met"`
	Aborted             string             `json:"aborted,omitempty"`
	Series              []JSONPoint        `json:"series"`
	Events              []JSONEvent        `json:"events,omitempty"`
	Sections            map[string]any     `json:"sections,omitempty"`
}

// JSONCompliance is the headline: the share of answers within 100 ms.
type JSONCompliance struct {
	LimitMs float64 `json:"limit_ms"`
	Share   float64 `json:"share"`
	Answers int64   `json:"answers"`
	// Figure says which latency was judged: "from_intended_start" (open
	// model), "corrected" (closed model with correction) or "raw" (closed
	// model without correction, or with a correction kinder than raw).
	Figure string `json:"figure"`
	// WorstStep is the write step (or any step when none writes) with the
	// lowest share; WorstStepShare its share.
	WorstStep      string  `json:"worst_step,omitempty"`
	WorstStepShare float64 `json:"worst_step_share,omitempty"`
}

// JSONStats are the figures of one slice (a step, region, cell or all).
type JSONStats struct {
	Name             string           `json:"name"`
	Step             string           `json:"step,omitempty"`
	Region           string           `json:"region,omitempty"`
	Write            bool             `json:"write,omitempty"`
	Requests         int64            `json:"requests"`
	RPS              float64          `json:"rps"`
	Errors           int64            `json:"errors"`
	ErrorPct         float64          `json:"error_pct"`
	ErrorsByClass    map[string]int64 `json:"errors_by_class"`
	Dropped          int64            `json:"dropped"`
	Latency          JSONLatency      `json:"latency"`
	CorrectedLatency *JSONLatency     `json:"corrected_latency,omitempty"`
	// Judged is "corrected" when CorrectedLatency is the figure to judge
	// by, else "latency".
	Judged string `json:"judged"`
	// Sessions are the slice's session outcomes; nil (left out) when the
	// run ended no session.
	Sessions *JSONSessions `json:"sessions,omitempty"`
}

// JSONSessions are the session outcomes of a slice or a second (see
// report.Sessions for which slice counts a session).
type JSONSessions struct {
	// Ended is Completed + Abandoned + Failed.
	Ended     int64 `json:"ended"`
	Completed int64 `json:"completed"`
	Abandoned int64 `json:"abandoned"`
	// AbandonedBy are the abandoned sessions by reason.
	AbandonedBy JSONAbandoned `json:"abandoned_by"`
	// AbandonedShare is Abandoned as a share (0…1) of the sessions of the
	// regions the slice covers (a step's: the run's; a region's or a
	// cell's: the region's; a second's: that second's).
	AbandonedShare float64 `json:"abandoned_share"`
	Failed         int64   `json:"failed"`
	// Sales are the sale steps answered OK; SalesValue their value in the
	// profile's minor currency unit (cents; 0 without values).
	Sales      int64 `json:"sales"`
	SalesValue int64 `json:"sales_value"`
	// LostSales are the abandoned sessions that had not made their sale
	// (the sale step still ahead, or answered later than the patience).
	LostSales int64 `json:"lost_sales"`
}

// JSONNotMeasured are the reasons session figures were not measured
// (report.SessionsUnmeasured), each omitted when the figure was.
type JSONNotMeasured struct {
	Abandoned string `json:"abandoned,omitempty"`
	LostSales string `json:"lost_sales,omitempty"`
	Sales     string `json:"sales,omitempty"`
}

// JSONAbandoned are abandoned sessions by reason.
type JSONAbandoned struct {
	Slow    int64 `json:"slow"`
	Error   int64 `json:"error"`
	Timeout int64 `json:"timeout"`
}

func jsonSessions(ss *Sessions, base int64) *JSONSessions {
	a := ss.AbandonedTotal()
	return &JSONSessions{Ended: ss.Ended(), Completed: ss.Completed, Abandoned: a,
		AbandonedBy:    JSONAbandoned{Slow: ss.Abandoned[AbandonSlow], Error: ss.Abandoned[AbandonError], Timeout: ss.Abandoned[AbandonTimeout]},
		AbandonedShare: shareOf(a, base), Failed: ss.Failed, Sales: ss.Sales, SalesValue: ss.SalesValue, LostSales: ss.Lost}
}

// JSONLatency is a latency distribution in milliseconds.
type JSONLatency struct {
	Count      int64   `json:"count"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p99_9_ms"`
	MaxMs      float64 `json:"max_ms"`
	MeanMs     float64 `json:"mean_ms"`
	Under100   int64   `json:"under_100ms"`
	ShareUnder float64 `json:"share_under_100ms"`
}

// JSONFailure is one class of failed checks.
type JSONFailure struct {
	Step   string `json:"step"`
	Kind   string `json:"kind"`
	Status int    `json:"status"`
	Count  int64  `json:"count"`
}

// JSONBudget is one budget's verdict.
type JSONBudget struct {
	Expr             string   `json:"expr"`
	Source           string   `json:"source,omitempty"`
	Metric           string   `json:"metric"`
	Unit             string   `json:"unit"`
	Op               string   `json:"op"`
	Limit            float64  `json:"limit"`
	Actual           *float64 `json:"actual"`
	Samples          int64    `json:"samples"`
	Met              bool     `json:"met"`
	Verdict          string   `json:"verdict"`
	NoDataReason     string   `json:"no_data_reason,omitempty"`
	Aborted          bool     `json:"aborted,omitempty"`
	AbortedAtSeconds float64  `json:"aborted_at_seconds,omitempty"`
}

// JSONPoint is one second of the series.
type JSONPoint struct {
	AtSeconds    float64 `json:"at_seconds"`
	Seconds      float64 `json:"seconds"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	Dropped      int64   `json:"dropped"`
	RPS          float64 `json:"rps"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Under100     int64   `json:"under_100ms"`
	ActiveAgents int     `json:"active_agents"`
	// Sessions are the sessions that ended in the second; nil (left out)
	// when the run ended no session.
	Sessions *JSONSessions `json:"sessions,omitempty"`
}

func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func jsonLatency(l *Latency) JSONLatency {
	return JSONLatency{Count: l.Count, P50Ms: durMs(l.P50), P90Ms: durMs(l.P90), P99Ms: durMs(l.P99),
		P999Ms: durMs(l.P999), MaxMs: durMs(l.Max), MeanMs: durMs(l.Mean), Under100: l.Under, ShareUnder: l.Compliance()}
}

func (s *Summary) jsonStats(st *Stats) JSONStats {
	js := JSONStats{Name: st.Name, Requests: st.Count, RPS: st.RPS, Errors: st.Errors, ErrorPct: st.ErrorPct,
		ErrorsByClass: map[string]int64{}, Dropped: st.Dropped, Latency: jsonLatency(&st.Raw), Judged: "latency"}
	if st.Step >= 0 && st.Step < len(s.Steps) {
		js.Step = s.Steps[st.Step]
		js.Write = st.Step < len(s.Writes) && s.Writes[st.Step]
	}
	if st.Region >= 0 && st.Region < len(s.Regions) {
		js.Region = s.Regions[st.Region]
	}
	for k := 1; k < NumOutcomes; k++ {
		if st.Counts[k] > 0 {
			js.ErrorsByClass[Outcome(k).String()] = st.Counts[k]
		}
	}
	if st.Corrected != nil {
		c := jsonLatency(st.Corrected)
		js.CorrectedLatency = &c
		js.Judged = "corrected"
	}
	if s.sessionsShown() {
		js.Sessions = jsonSessions(&st.Sessions, s.sessionBase(st))
	}
	return js
}

// JSON returns s as a JSONReport.
func (s *Summary) JSON() *JSONReport {
	j := &JSONReport{
		SchemaVersion: JSONSchemaVersion, Tool: "agentstorm", Model: s.Model, Start: s.Start.UTC(),
		ElapsedSeconds: s.Elapsed.Seconds(), Meta: s.Meta, Overall: s.jsonStats(&s.Overall),
		Steps: []JSONStats{}, Regions: []JSONStats{}, Cells: []JSONStats{},
		Connections: s.Connections, Redirects: s.Redirects, Dropped: s.Dropped, Clamped: s.Clamped, Invalid: s.Invalid,
		PeakActiveAgents: s.PeakActiveAgents, Failures: []JSONFailure{}, Figures: s.Figures,
		Budgets: []JSONBudget{}, BudgetsMet: BudgetsMet(s.Budgets), Series: []JSONPoint{},
	}
	o := s.Overall.Judged()
	j.Compliance = JSONCompliance{LimitMs: durMs(ComplianceLimit), Share: o.Compliance(), Answers: o.Count, Figure: s.judgedFigure()}
	j.Status, j.StatusReason = s.Status(), s.StatusReason()
	if u := s.SessionsUnmeasured(); s.sessionsShown() && u != (SessionsUnmeasured{}) {
		j.SessionsNotMeasured = &JSONNotMeasured{Abandoned: u.Abandoned, LostSales: u.LostSales, Sales: u.Sales}
	}
	if w, _ := s.WorstWriteStep(); w != nil {
		j.Compliance.WorstStep, j.Compliance.WorstStepShare = w.Name, w.Judged().Compliance()
	}
	for i := range s.PerStep {
		j.Steps = append(j.Steps, s.jsonStats(&s.PerStep[i]))
	}
	for i := range s.PerRegion {
		j.Regions = append(j.Regions, s.jsonStats(&s.PerRegion[i]))
	}
	for i := range s.Cells {
		if s.Cells[i].Count > 0 || s.Cells[i].Dropped > 0 {
			j.Cells = append(j.Cells, s.jsonStats(&s.Cells[i]))
		}
	}
	for _, f := range s.Failures {
		j.Failures = append(j.Failures, JSONFailure(f))
	}
	for i := range s.Budgets {
		r := &s.Budgets[i]
		jb := JSONBudget{Expr: r.Expr, Source: r.Source, Metric: r.Metric, Unit: r.Unit.String(), Op: r.Op.String(),
			Limit: r.Limit, Samples: r.Samples, Met: r.Met, Verdict: r.Verdict(), NoDataReason: r.NoDataReason, Aborted: r.Aborted,
			AbortedAtSeconds: r.AbortedAt.Seconds()}
		if !r.NoData {
			a := r.Actual
			jb.Actual = &a
		}
		j.Budgets = append(j.Budgets, jb)
	}
	if s.Aborted != nil {
		j.Aborted = s.Aborted.String()
	}
	j.Events, j.Sections = s.jsonEvents(), s.jsonSections()
	for i := range s.Series {
		p := &s.Series[i]
		jp := JSONPoint{AtSeconds: p.At.Seconds(), Seconds: p.Seconds, Requests: p.Count,
			Errors: p.Errors, Dropped: p.Dropped, RPS: p.RPS(), P50Ms: durMs(p.P50), P99Ms: durMs(p.P99),
			MaxMs: durMs(p.Max), Under100: p.Under, ActiveAgents: p.ActiveAgents}
		if s.sessionsShown() {
			jp.Sessions = jsonSessions(&p.Sessions, p.Sessions.Ended())
		}
		j.Series = append(j.Series, jp)
	}
	return j
}

// WriteJSON writes s as indented JSON (schema: JSONReport, docs/json-schema.md).
func WriteJSON(w io.Writer, s *Summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.JSON()); err != nil {
		return fmt.Errorf("write json summary: %w", err)
	}
	return nil
}
