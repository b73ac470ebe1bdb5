// Package profiles defines a storm: who the agents are, what they do, how many
// arrive and how fast, and which budgets the run must meet. A profile is a
// YAML file; Load and LoadFile turn it into a validated Profile whose request
// templates are compiled once into literal segments and slots, so the swarm
// builds every request by appending into a reused buffer without allocating.
// Every problem of a file is reported at once as LoadErrors, each with
// file:line:column, what was expected, and a hint.
//
// A profile, in short (the built-ins, `agentstorm profiles show NAME`, are
// documented in their own comments):
//
//	name: my-storm
//	description: one line for `profiles list`
//	target: https://shop.example.com     # or bundled, or {us-east: URL, eu-west: URL}, or {url: URL, tls: {ca_file, client_cert, client_key, server_name, min_version}}
//	targets: {auth: https://auth.example.com}   # further hosts for a step's target: auth
//	cookies: false                       # no cookie jar (default: one per agent session)
//	compression: gzip                    # Accept-Encoding (gzip, br, deflate, zstd, a list, none); also per step
//	workload:
//	  model: closed                      # closed: levels are agents; open: sessions/s (max_agents caps)
//	  # levels: in_flight                # open only: levels are sessions in flight, not started per second
//	  stages: "0->50000 in 6s, hold 60s, ->0 in 5s"   # or a list of {to: N, over: D} / {hold: D}
//	  think: exp(2s)                     # none | 2s | 1s..3s | exp(2s)
//	population:
//	  regions: {us-east: 3, eu-west: 1}  # weights (or a list)
//	  customers: 100000                  # or {file: customers.csv} -> {{row.COLUMN}}
//	  addresses: {count: 5000, zones: ["10001", DE]}
//	  skus: {count: 5000, popularity: zipf, exponent: 1.1}  # uniform | zipf | hot (hot: sku-00042, share: 0.9)
//	flows:
//	  - name: buyer
//	    weight: 9
//	    steps:
//	      - name: open_cart
//	        method: POST
//	        path: /v1/carts
//	        body: {customer_id: "{{customer.id}}", region: "{{agent.region}}"}
//	        capture: {cart_id: $.cart_id}
//	      - name: add_to_cart
//	        method: POST
//	        path: /v1/carts/{{cart_id}}/items
//	        headers: {X-Agent: "{{agent.id}}"}
//	        set: {item: "{{sku}}"}        # rendered once per execution, usable later
//	        body: {sku: "{{item}}", qty: "{{int 1 3}}"}   # YAML -> JSON; a lone numeric template is a number
//	        repeat: 2..6
//	        redirects: 5                 # 3xx on the same host followed (default 5; 0: none); target: NAME, compression: too
//	        capture: {line: "$.lines[0].id", where: {header: Location}}
//	        expect: {status: [200], json: {mode: [in_stock, preorder]}, body: cart}
//	        timeout: 2s
//	        retry: {max: 3, backoff: 100ms, on: [timeout, 5xx]}
//	        idempotency_key: "{{uuid}}"  # once per execution, the same on retries
//	        permute: {destinations: ["10001", JP], speeds: [standard, express]}
//	        permute_mode: each           # each: one request per combination ({{perm.destination}});
//	                                     # single: one request, {{perm.destinations}} is the whole list
//	        patience: 300ms              # this step's own (see below); none: no patience here
//	        sale: {value: 42.50}         # or sale: true: an OK answer here is a sale (cents kept)
//	patience: 80ms..300ms                # or 100ms, exp(150ms), {wait: 100ms, on_error: true}; also per flow
//	order_value: 85.00                   # the value of a sale step that gives none
//	budgets: ["p99(add_to_cart) < 100ms", "errors < 0.1%"]
//	chaos: [{at: 30s, action: kill_shard, shard: 1, duration: 15s}]  # game day: see ChaosAction
//
// The open model's levels are sessions started per second unless
// levels: in_flight makes them sessions in flight (a flash drop's "50,000
// shoppers at once"): a session is due at each instant the level rises by
// one, and a session that ends is replaced by one due at the instant it
// ended while no more are in flight than the level; a falling level cuts no
// session short. Either way a session is timed from the instant it was due,
// and one due when all max_agents agents (default: the peak) are busy is
// dropped and counted. See InFlight.
//
// Template variables: agent.id, agent.region, customer.id, session,
// iteration, address, address.zone, row.COLUMN, perm.NAME and every variable
// an earlier step of the flow captured or set; generators: {{int LO HI}},
// {{pick a b "c d"}}, {{sku}}, {{uuid}}, {{seq}}. Values are escaped where
// they land: JSON strings, percent-encoded path and query components (a path
// that is one variable, like a captured Location, is kept as is), header
// values without CR/LF.
//
// The exported surface the swarm (package agents) uses:
//
//	LoadFile(path) / Load(name, src, dir) / Builtin(name) -> *Profile (errors are LoadErrors)
//	LoadFileWith(path, lookup) / LoadWith(name, src, dir, lookup): with ${NAME} variables
//	(*Profile).PickFlow(r) *Flow, (*Profile).NewVars() *Vars
//	(*Population).PickRegion(r), Customer(agentID), PickAddress(r), PickSKU(r)
//	(*Step).AppendRequest(dst, host, c), (*Step).Capture(body, header, c), (*Step).Check(status, body)
//	Workload.Duration(), Workload.LevelAt(t), Think.Sample(r)
//
// Variables: ${NAME} and ${NAME:-default} (the default when NAME is unset
// or empty) in any value (not in keys) take their values from LoadWith's
// Lookup once, at load time, as text: a {{ in a value is not a template,
// and an unquoted value that is a decimal number or true/false is typed so.
// $${ is a literal ${. ${secret:NAME} is a secret: allowed only in a step's
// path, header values (not Idempotency-Key) and body, and never shown
// (Profile.Redact, Resolved). An unset variable without a default is an
// error at its file:line:col.
//
// Random numbers come from math/rand/v2; every draw uses the *rand.Rand the
// caller passes (one per agent), so a run is reproducible from its seed.
package profiles

import (
	"math/rand/v2"
	"time"

	"go.yaml.in/yaml/v3"
)

// Profile is one validated storm definition.
type Profile struct {
	// Name is the profile's name (the built-in's name, or the file name
	// without extension unless the YAML sets name:).
	Name string
	// Description is the one-line description shown by `profiles list`.
	Description string
	// File is the path the profile was loaded from ("builtin:NAME" for
	// embedded profiles); error positions refer to it.
	File string
	// Target says where the storm goes.
	Target Target
	// Workload is the arrival model, its stages and the think time.
	Workload Workload
	// Population holds the regions, customers, addresses and SKUs.
	Population *Population
	// Flows are the agent flows; one is picked per session by weight.
	Flows []*Flow
	// Budgets are the budget expressions, kept as text with their positions.
	Budgets []Budget
	// Targets are the named hosts of targets:, sorted by name; a step's
	// TargetID indexes them from 1.
	Targets []NamedTarget
	// NoCookies turns the agents' cookie jars off (cookies: false): no
	// Set-Cookie is kept and no Cookie header is sent but the steps' own.
	NoCookies bool
	// Chaos is the raw `chaos:` section (nil when absent); its validated
	// schedule is ChaosActions.
	Chaos *yaml.Node
	// ChaosActions is the validated chaos: schedule, in file order (see
	// ChaosAction); nil when the profile has none.
	ChaosActions []ChaosAction
	// Patience is the profile's patience (patience:), nil when it has
	// none; a flow without its own inherits it (Flow.Patience).
	Patience *Patience
	// OrderValue is the average order value (order_value:) in cents, the
	// value of a sale step that gives none; 0 when not set.
	OrderValue int64
	// VarCount is the number of variable slots an agent needs (captures and
	// set: variables); NewVars allocates exactly this many.
	VarCount int
	// VarNames maps a slot index to its variable name.
	VarNames []string

	flowCum []float64 // cumulative flow weights, normalised to 1
	secrets []string  // the values of the ${secret:NAME}s used, longest first (see Redact)
}

// Redirects a step follows unless it says (redirects:), and the most it may say.
const (
	DefaultRedirects = 5
	MaxRedirects     = 20
)

// Target says where the requests go. Exactly one of Bundled, BaseURL and
// Regions is set.
type Target struct {
	// Bundled means the reference target; its region map is read from its
	// topology endpoint by the swarm.
	Bundled bool
	// BaseURL is one base URL for every region, e.g. "https://shop.example.com".
	BaseURL string
	// Regions maps a region name to its base URL (regional or edge endpoints).
	Regions map[string]string
	// TLS is how https base URLs are spoken to (target: {url: ..., tls: {...}}).
	TLS TLS
}

// URLFor returns the base URL requests of region go to, or "" when the
// target is bundled (the swarm resolves it from the topology endpoint) or the
// region is not in the map.
func (t Target) URLFor(region string) string {
	if t.BaseURL != "" {
		return t.BaseURL
	}
	return t.Regions[region]
}

// Budget is one budget expression as written, with its position in the file.
type Budget struct {
	Expr   string
	Line   int
	Column int
}

// Model is the workload model.
type Model string

// The workload models.
const (
	// Closed runs a number of concurrent agents; each waits for its answer,
	// then thinks, then sends the next request. Stage levels are agents.
	Closed Model = "closed"
	// Open starts agent sessions on a schedule whatever the answers do.
	// Stage levels are sessions started per second, or sessions in flight
	// with Levels InFlight.
	Open Model = "open"
)

// Levels is what the open model's stage levels count (workload.levels).
type Levels string

// The open model's level kinds.
const (
	// PerSecond levels are sessions started per second (the default): the
	// arrival schedule integrates the rate and never looks at the answers.
	PerSecond Levels = "per_second"
	// InFlight levels are sessions in flight (started and not ended): each
	// time the level rises by one a session is due at that instant, and a
	// session that ends while no more are in flight than the level is
	// replaced by one due at the instant it ended. A falling level ends
	// no session: sessions end on their own and are not replaced until
	// fewer are in flight than the level. Every session is timed from the
	// instant it was due; one due when every agent is busy is dropped and
	// counted, once per unit of level it could not fill.
	InFlight Levels = "in_flight"
)

// Workload is how many agents there are, or how fast they arrive, over time.
type Workload struct {
	Model Model
	// Stages follow each other; each ramps linearly from the previous level
	// (0 for the first) to its Target over its Duration. A hold is a stage
	// whose Target equals the previous level; a jump is a stage of Duration 0.
	Stages []Stage
	// Levels is what the open model's levels count: PerSecond ("" is the
	// same) or InFlight. The closed model's levels are agents.
	Levels Levels
	// MaxAgents caps concurrent sessions in the open model (0: the
	// swarm's default for per-second levels, the peak for in-flight ones).
	MaxAgents int
	// Think is the pause between two steps of an agent.
	Think Think
}

// Stage is one segment of the workload plan.
type Stage struct {
	Duration time.Duration
	Target   int
}

// ThinkKind is the distribution of think times.
type ThinkKind int

// The think-time distributions.
const (
	ThinkNone ThinkKind = iota
	ThinkConstant
	ThinkUniform
	ThinkExponential
)

// Think is a think-time distribution. Constant uses Min; uniform draws from
// [Min, Max]; exponential has mean Mean.
type Think struct {
	Kind     ThinkKind
	Min, Max time.Duration
	Mean     time.Duration
}

// Flow is a named sequence of steps an agent runs in one session.
type Flow struct {
	Name   string
	Weight float64
	Steps  []*Step
	Line   int // position of the flow in the profile, for messages
	// Patience is the session's patience, drawn once when a session of the
	// flow starts: the flow's own patience: or else the profile's; nil
	// when neither has one (or the flow says patience: none).
	Patience *Patience
	// HasSale says a step of the flow is marked sale:, so a session that
	// abandons before its first sale is a lost sale.
	HasSale bool
}

// Range is an inclusive count range; Min == Max for a fixed count.
type Range struct{ Min, Max int }

// Count draws a count from the range.
func (rg Range) Count(r *rand.Rand) int {
	if rg.Max <= rg.Min {
		return rg.Min
	}
	return rg.Min + r.IntN(rg.Max-rg.Min+1)
}

// Retry says when and how a step is retried. The Idempotency-Key (and the
// step's set: variables) are rendered once per step execution and reused on
// retries: see Context.StartExecution.
type Retry struct {
	Max       int           // retries after the first attempt (0: none)
	Backoff   time.Duration // wait before retry n is Backoff * 2^(n-1)
	OnTimeout bool          // retry when the request timed out or the connection failed
	On5xx     bool          // retry on a 5xx status
}

// CaptureSource says where a capture reads from.
type CaptureSource int

// The capture sources.
const (
	CaptureJSON CaptureSource = iota
	CaptureHeader
)

// Capture copies a value from the answer into an agent variable.
type Capture struct {
	Var    string
	Slot   int
	Source CaptureSource
	// Path is a gjson path into the body (a leading "$." is dropped) or a
	// header name.
	Path string
}

// Expect is what a step's answer must look like; failures are counted per
// step by the swarm.
type Expect struct {
	// Status lists accepted status codes; empty means any 2xx.
	Status []int
	// JSON lists body fields (gjson paths) and the values they may have.
	JSON []JSONExpect
	// Body is a substring the body must contain ("" for none).
	Body string
}

// JSONExpect is one JSON field expectation.
type JSONExpect struct {
	Path string
	// Values are the accepted values: a JSON string field is compared with
	// its text, a number numerically (3 matches 3.0), anything else with its
	// raw JSON (true, null, ...).
	Values []string
	nums   []float64 // Values parsed as numbers (NaN when not a number)
	class  string    // "json:PATH", precomputed so Check does not allocate
}

// Step is one HTTP request of a flow (or several: repeat and permutations).
type Step struct {
	// Name is the step name used in reports ("add_to_cart", ...).
	Name   string
	Method string
	// Timeout is the per-request timeout (default 10s).
	Timeout time.Duration
	// Repeat is how many times the step runs in a row; Context.Iteration is
	// the index.
	Repeat Range
	// Permutations is the number of requests one execution expands to
	// (1 unless permute: is set with permute_mode each); Context.Perm is the
	// index.
	Permutations int
	// Retry is the retry policy.
	Retry Retry
	// Redirects is how many redirects (301, 302, 303, 307, 308 with a
	// Location on the same host) one execution follows, each hop timed as
	// part of the step (redirects:, default DefaultRedirects; 0: none, the
	// 3xx is the answer).
	Redirects int
	// Compression is the Accept-Encoding the step sends (compression:,
	// the step's or the profile's; "" for none). Answers are decoded
	// whatever it says.
	Compression    string
	compressionSet bool
	// TargetID is the host the step sends to: 0 for the profile's target,
	// i+1 for Profile.Targets[i] (target: NAME).
	TargetID int
	// Patience is the step's own patience (patience: on the step), drawn
	// when the step is entered and used instead of the session's; nil
	// when the step has none.
	Patience *Patience
	// Sale marks the step whose OK answer (within the agent's patience) is
	// a sale; SaleValue is its value in cents (sale: {value: 42.50}, 0
	// included: a free order; else the profile's order_value:, else 0).
	Sale      bool
	SaleValue int64
	// saleValueSet says the step gave its sale a value (sale: {value: V}).
	saleValueSet bool
	Captures     []Capture
	Expect       Expect
	// Line and Column locate the step in its profile.
	Line, Column int

	tmpl stepTemplates
}

// Vars is an agent's variable slots (captures and set: variables). Values
// are copied into reused per-slot buffers, so steady-state use does not
// allocate.
type Vars struct {
	vals [][]byte
	set  []bool
}

// NewVars returns empty variable slots for one agent of p.
func (p *Profile) NewVars() *Vars {
	return &Vars{vals: make([][]byte, p.VarCount), set: make([]bool, p.VarCount)}
}

// Reset forgets every value (keeping the buffers); call it at the start of
// each session.
func (v *Vars) Reset() {
	for i := range v.vals {
		v.vals[i] = v.vals[i][:0]
		v.set[i] = false
	}
}

// Set copies val into slot i.
func (v *Vars) Set(i int, val []byte) {
	v.vals[i] = append(v.vals[i][:0], val...)
	v.set[i] = true
}

// Get returns the value of slot i and whether it was set.
func (v *Vars) Get(i int) ([]byte, bool) { return v.vals[i], v.set[i] }

// Context is what a template reads when a request is rendered. The agent
// owns one and reuses it for every request.
type Context struct {
	Vars *Vars
	Rand *rand.Rand
	// AgentID is the agent's number; Session counts its sessions.
	AgentID, Session int
	// Iteration is the repeat index of the step (0-based); Perm is the
	// permutation index (0-based, < Step.Permutations).
	Iteration, Perm int
	// Region and RegionIndex are the agent's region (Population.PickRegion).
	Region      string
	RegionIndex int
	// Customer is the session's customer index (Population.Customer); it also
	// selects the data-file row read by {{row.COL}}.
	Customer int
	// Address is the session's address index (Population.PickAddress).
	Address int
	// PathPrefix is prepended to every path (the path of the base URL, e.g.
	// "/api"; "" for none).
	PathPrefix string
	// Seq is the agent's {{seq}} counter; each use increments it.
	Seq uint64

	execStart bool   // StartExecution was called and the key is not yet rendered
	idemKey   []byte // the current execution's Idempotency-Key
	scratch   []byte // body rendering buffer
	scratch2  []byte // set: rendering buffer
	esc       []byte // escaping buffer
	execStep  *Step  // the step the current execution belongs to
}

// StartExecution marks the start of a new step execution (a new repeat
// iteration or permutation). Call it before the first attempt of each
// request, never before a retry: the Idempotency-Key and the step's set:
// variables are rendered by the first AppendRequest after it and reused by
// the retries.
func (c *Context) StartExecution() { c.execStart = true }

// IdempotencyKey returns the current execution's Idempotency-Key ("" before
// the first AppendRequest of a step that has one).
func (c *Context) IdempotencyKey() []byte { return c.idemKey }

// BuiltinInfo describes an embedded profile.
type BuiltinInfo struct {
	Name        string
	Description string
}
