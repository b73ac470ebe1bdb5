// Package supervisor runs the bundled reference checkout as one process per
// shard: it starts the shard processes, maps regions to shards, serves the
// chaos admin API on its own loopback listener, and kills (SIGKILL), freezes
// (SIGSTOP/SIGCONT) and restores shards for real.
//
// It is a library first: `agentstorm target` wires it to flags, and a storm
// can start it in-process. Shards and supervisor meet only over HTTP and
// process signals; the chaos state of a shard is pushed whole to the shard's
// POST /internal/chaos after every change and after every restore.
package supervisor

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentstorm/agentstorm/target"
)

// DefaultRegions returns the regions served when Config.Regions is empty:
// us-east, us-west, eu-west, ap-tokyo.
func DefaultRegions() []string { return []string{"us-east", "us-west", "eu-west", "ap-tokyo"} }

// Errors the supervisor's operations wrap, so callers (and the admin API) can
// tell a bad request from a failure.
var (
	// ErrUnknownShard is returned for a shard id that does not exist.
	ErrUnknownShard = errors.New("unknown shard")
	// ErrBadInput is returned for an argument out of range, such as a
	// negative freeze duration.
	ErrBadInput = errors.New("bad input")
	// ErrConflict is returned when an action does not fit the shard's
	// current state, such as freezing a killed shard.
	ErrConflict = errors.New("conflict with the shard's state")
	// ErrPush is returned when a running shard did not take its chaos
	// state; the change is kept and pushed again on restore.
	ErrPush = errors.New("push the chaos state to the shard")
	// ErrClosed is returned by operations on a closed supervisor.
	ErrClosed = errors.New("supervisor is closed")
)

// Shard states reported by State.
const (
	StateUp     = "up"     // the process is running and serving
	StateFrozen = "frozen" // the process is stopped with SIGSTOP until a timer sends SIGCONT
	StateKilled = "killed" // the process was killed with SIGKILL by an admin action
	StateExited = "exited" // the process ended without being asked to
	StateClosed = "closed" // the supervisor stopped it on Close
)

const (
	startTimeout   = 15 * time.Second // a shard must print LISTENING within this
	stopTimeout    = 5 * time.Second  // SIGTERM grace before SIGKILL on Close
	pushTimeout    = 5 * time.Second  // one POST /internal/chaos
	maxEvents      = 10000            // the event log keeps the newest this many
	maxShards      = 1024             // a sanity bound on Config.Shards
	maxFreeze      = 10 * time.Minute // longest freeze accepted
	defaultAdmin   = "127.0.0.1:0"
	listeningToken = "LISTENING "
)

// Config says how many shards to run, where, and with which settings. The
// zero value of every field but Shards and Listen has a usable default.
type Config struct {
	// Shards is the number of shard processes, at least 1.
	Shards int
	// Regions are the regions served; shard i serves Regions[i%len(Regions)].
	// Empty means DefaultRegions.
	Regions []string
	// Listen is HOST:PORT of shard 0; shard i listens on PORT+i. Port 0 lets
	// every shard pick a free port (kept across restores).
	Listen string
	// Admin is HOST:PORT of the admin listener; empty means 127.0.0.1:0.
	Admin string
	// AdminToken is the bearer token every admin call needs; empty means a
	// random one (see Info).
	AdminToken string
	// DataDir holds one directory per shard (shard-0, shard-1, ...); it is
	// kept after Close. Empty means a new temporary directory, which Close
	// removes unless KeepData is set or Keep was called (a day of CI runs
	// must not fill the disk with order stores nobody asked for).
	DataDir string
	// KeepData keeps a temporary DataDir after Close.
	KeepData bool
	// OrderRate is the orders per second each shard's worker creates; 0
	// leaves the shard's own default.
	OrderRate float64
	// Topology is TopologyEdge (default) or TopologyCentral.
	Topology string
	// MaxConnsPerShard caps client connections per shard; 0 leaves the
	// shard's default.
	MaxConnsPerShard int
	// ShardCommand builds the command that runs one shard with the given
	// flags (see target.RunShardMain). Nil means this executable with the
	// hidden subcommand ShardSubcommand before the flags.
	ShardCommand func(args []string) *exec.Cmd
	// Log receives the shards' stderr and their stdout after the LISTENING
	// line; nil means os.Stderr.
	Log io.Writer
}

// ShardInfo is one shard as the --info-file and Info describe it.
type ShardInfo struct {
	ID     int    `json:"id"`
	Region string `json:"region"`
	URL    string `json:"url"`
	// PID is the shard's current process id, 0 while it is not running.
	PID int `json:"pid"`
}

// Info is what a script needs to use a running target: the admin URL and
// token, the data directory, and every shard.
type Info struct {
	Admin   string      `json:"admin"`
	Token   string      `json:"token"`
	DataDir string      `json:"data_dir"`
	Shards  []ShardInfo `json:"shards"`
}

// TopologyShard is one shard in a Topology.
type TopologyShard struct {
	ID     int    `json:"id"`
	Region string `json:"region"`
	URL    string `json:"url"`
}

// Topology is the region map a swarm routes by (GET /v1/topology).
type Topology struct {
	// Topology is TopologyEdge or TopologyCentral.
	Topology string `json:"topology"`
	// Regions maps a region to the base URL of its first shard.
	Regions map[string]string `json:"regions"`
	// Shards lists every shard in id order.
	Shards []TopologyShard `json:"shards"`
}

// LatencyRule adds latency to the answers of one shard or of all, for one
// path prefix or for all.
type LatencyRule struct {
	// Shard is the shard the rule applies to; nil means every shard.
	Shard *int
	// Path is a path prefix such as "/v1/carts"; empty means every path.
	Path string
	// Fixed is added to every matching answer.
	Fixed time.Duration
	// Jitter is the upper bound of a uniform random delay added on top.
	Jitter time.Duration
}

// Event is one entry of the supervisor's action log.
type Event struct {
	Time   time.Time `json:"time"` // marshals as RFC 3339 with nanoseconds
	Action string    `json:"action"`
	Shard  *int      `json:"shard,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// proc is one run of a shard process.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once the process has exited and been reaped
	// outDone is closed once the process's stdout is drained, so nothing
	// is written to Config.Log for it afterwards.
	outDone chan struct{}
	err     error // exit status; read only after done is closed
}

// shard is the supervisor's record of one shard across its restarts.
type shard struct {
	id       int
	region   string
	addr     string // host:port, fixed after the first start
	dataDir  string
	extraRTT time.Duration

	op     sync.Mutex // serialises kill, restore, freeze and thaw of this shard
	pushMu sync.Mutex // serialises chaos pushes, so the newest state lands last

	// Guarded by Supervisor.mu.
	state       string
	proc        *proc
	expectExit  bool // the current process is being killed or stopped on purpose
	frozenUntil time.Time
	freezeGen   int // bumped on every freeze and thaw, to ignore stale timers
	freezeTimer *time.Timer
	dirty       bool // chaos changed while it could not be pushed
	restarts    int
}

// ShardSubcommand is the hidden subcommand of this executable that runs
// one shard (target.RunShardMain); the default Config.ShardCommand starts
// it.
const ShardSubcommand = "target-shard"

// Supervisor runs the shard processes and the admin API. Its methods are
// safe for concurrent use.
type Supervisor struct {
	cfg          Config
	log          io.Writer
	token        string
	controlToken string
	dataDir      string
	tempData     bool // dataDir was made by Start, and is removed by Close unless kept
	shards       []*shard
	client       *http.Client

	adminLn  net.Listener
	adminSrv *http.Server
	adminURL string

	mu      sync.Mutex // guards the fields below and the state fields of shards
	chaos   chaosState
	events  []Event
	dropped int
	closed  bool
	keep    bool // keep a temporary dataDir after Close
}

// chaosState is the supervisor's whole chaos configuration.
type chaosState struct {
	inventoryFailed bool
	ordersPaused    bool
	latency         []LatencyRule
}

// Start validates cfg, starts every shard process and the admin listener,
// and returns once every shard has printed LISTENING. ctx bounds the start
// only; call Close to stop. On error nothing is left running.
func Start(ctx context.Context, cfg Config) (*Supervisor, error) {
	if err := normalize(&cfg); err != nil {
		return nil, err
	}
	s := &Supervisor{
		cfg:    cfg,
		log:    cfg.Log,
		token:  cfg.AdminToken,
		client: &http.Client{Timeout: pushTimeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}},
	}
	var err error
	if s.token == "" {
		if s.token, err = randomToken(); err != nil {
			return nil, err
		}
	}
	if s.controlToken, err = randomToken(); err != nil {
		return nil, err
	}
	host, port, err := splitHostPort("listen", cfg.Listen)
	if err != nil {
		return nil, err
	}
	for i := 0; i < cfg.Shards; i++ {
		region := cfg.Regions[i%len(cfg.Regions)]
		rtt, err := extraRTT(cfg.Topology, region)
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
		p := 0
		if port != 0 {
			p = port + i
		}
		s.shards = append(s.shards, &shard{
			id:       i,
			region:   region,
			addr:     net.JoinHostPort(host, strconv.Itoa(p)),
			extraRTT: rtt,
			state:    StateExited,
		})
	}

	s.adminLn, err = net.Listen("tcp", cfg.Admin)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s: %w", cfg.Admin, err)
	}
	s.adminURL = "http://" + s.adminLn.Addr().String()

	tempDir := ""
	s.dataDir = cfg.DataDir
	if s.dataDir == "" {
		if s.dataDir, err = os.MkdirTemp("", "agentstorm-target-"); err != nil {
			s.adminLn.Close()
			return nil, fmt.Errorf("create the data directory: %w", err)
		}
		tempDir = s.dataDir
		s.tempData = true
	} else if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		s.adminLn.Close()
		return nil, fmt.Errorf("create the data directory %s: %w", s.dataDir, err)
	}
	if abs, err := filepath.Abs(s.dataDir); err == nil {
		s.dataDir = abs
	}
	for _, sh := range s.shards {
		sh.dataDir = filepath.Join(s.dataDir, "shard-"+strconv.Itoa(sh.id))
	}

	// Start the shards side by side: each start is a fork, an exec and a
	// store open, so a serial start of many shards would add up.
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for i, sh := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.startShard(ctx, sh)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.adminLn.Close()
		if serr := s.stopAll(); serr != nil {
			err = errors.Join(err, serr)
		}
		if tempDir != "" {
			os.RemoveAll(tempDir) //nolint:errcheck // best effort: it holds no accepted order yet
		}
		return nil, err
	}
	s.record("start", nil, fmt.Sprintf("%d shards, topology %s, data in %s", len(s.shards), cfg.Topology, s.dataDir), nil)

	s.adminSrv = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	go s.adminSrv.Serve(s.adminLn) //nolint:errcheck // returns ErrServerClosed on Close
	return s, nil
}

// normalize validates cfg and fills in defaults.
func normalize(cfg *Config) error {
	if cfg.Shards < 1 || cfg.Shards > maxShards {
		return fmt.Errorf("shards: %d is out of range: want 1 to %d", cfg.Shards, maxShards)
	}
	if len(cfg.Regions) == 0 {
		cfg.Regions = DefaultRegions()
	}
	for i, r := range cfg.Regions {
		if r == "" || strings.ContainsAny(r, " \t\n/") {
			return fmt.Errorf("regions[%d]: %q is not a region name", i, r)
		}
	}
	if cfg.Topology == "" {
		cfg.Topology = TopologyEdge
	}
	if cfg.Topology != TopologyEdge && cfg.Topology != TopologyCentral {
		return fmt.Errorf("topology: %q is unknown: want %q or %q", cfg.Topology, TopologyEdge, TopologyCentral)
	}
	if cfg.Admin == "" {
		cfg.Admin = defaultAdmin
	}
	if _, _, err := splitHostPort("admin", cfg.Admin); err != nil {
		return err
	}
	_, port, err := splitHostPort("listen", cfg.Listen)
	if err != nil {
		return err
	}
	if port != 0 && port+cfg.Shards-1 > 65535 {
		return fmt.Errorf("listen: port %d plus %d shards runs past 65535", port, cfg.Shards)
	}
	if cfg.OrderRate < 0 {
		return fmt.Errorf("order rate: %g is negative", cfg.OrderRate)
	}
	if cfg.MaxConnsPerShard < 0 {
		return fmt.Errorf("max conns per shard: %d is negative", cfg.MaxConnsPerShard)
	}
	if cfg.ShardCommand == nil {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable to run shards: %w", err)
		}
		cfg.ShardCommand = func(args []string) *exec.Cmd {
			return exec.Command(exe, append([]string{ShardSubcommand}, args...)...)
		}
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	return nil
}

// splitHostPort parses HOST:PORT for the setting named what.
func splitHostPort(what, hostport string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %q is not HOST:PORT: %w", what, hostport, err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s: port %q of %q is not a number from 0 to 65535", what, ps, hostport)
	}
	return host, port, nil
}

// randomToken returns 32 hex digits from crypto/rand.
func randomToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make a random token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// shardArgs are the flags of target.RunShardMain for sh.
func (s *Supervisor) shardArgs(sh *shard) []string {
	return []string{
		"--id", strconv.Itoa(sh.id),
		"--region", sh.region,
		"--listen", sh.addr,
		"--data-dir", sh.dataDir,
		"--order-rate", strconv.FormatFloat(s.cfg.OrderRate, 'g', -1, 64),
		"--extra-rtt", sh.extraRTT.String(),
		"--max-conns", strconv.Itoa(s.cfg.MaxConnsPerShard),
		"--loops", strconv.Itoa(shardLoops(s.cfg.Shards, runtime.NumCPU())),
	}
}

// shardLoops is the number of event loops each of n shard processes runs on a machine of
// cpus: one loop per CPU in all. A shard serving a storm alone uses every core; with as
// many shards as cores or more, one loop each gathers the most socket events per wake-up.
func shardLoops(n, cpus int) int {
	return max(1, cpus/max(n, 1))
}

// startShard starts a process for sh, waits for its LISTENING line and
// records the process and address. The caller holds sh.op or has sh to
// itself.
func (s *Supervisor) startShard(ctx context.Context, sh *shard) error {
	cmd := s.cfg.ShardCommand(s.shardArgs(sh))
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, target.ControlTokenEnv+"="+s.controlToken)
	setProcAttr(cmd)
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("shard %d: stdout pipe: %w", sh.id, err)
	}
	cmd.Stdout = w
	if cmd.Stderr == nil {
		cmd.Stderr = s.log
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("shard %d: start %s: %w", sh.id, cmd.Path, err)
	}
	w.Close()
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{}), outDone: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		s.onExit(sh, p)
	}()

	type result struct {
		addr string
		err  error
	}
	lines := make(chan result, 1)
	go func() {
		defer close(p.outDone)
		defer r.Close()
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if addr, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), listeningToken); ok {
				lines <- result{addr: strings.TrimSpace(addr)}
				io.Copy(s.log, br) //nolint:errcheck // the shard's later output is informational
				return
			}
			if line != "" {
				fmt.Fprintf(s.log, "shard %d: %s", sh.id, line)
			}
			if err != nil {
				lines <- result{err: fmt.Errorf("its output ended before a LISTENING line: %w", err)}
				return
			}
		}
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var res result
	select {
	case res = <-lines:
	case <-ctx.Done():
		res.err = ctx.Err()
	case <-timer.C:
		res.err = fmt.Errorf("no LISTENING line within %s", startTimeout)
	}
	if res.err == nil {
		if _, _, err := net.SplitHostPort(res.addr); err != nil {
			res.err = fmt.Errorf("its LISTENING line has no HOST:PORT: %q", res.addr)
		}
	}
	if res.err != nil {
		s.mu.Lock()
		sh.expectExit = true
		s.mu.Unlock()
		cmd.Process.Kill() //nolint:errcheck // it may have exited already
		<-p.done
		if p.err != nil {
			res.err = fmt.Errorf("%w (process: %v)", res.err, p.err)
		}
		return fmt.Errorf("shard %d (%s, pid %d): %w", sh.id, sh.addr, p.pid, res.err)
	}

	s.mu.Lock()
	sh.addr = res.addr
	sh.proc = p
	sh.state = StateUp
	sh.expectExit = false
	s.mu.Unlock()
	return nil
}

// onExit records the end of process p of sh.
func (s *Supervisor) onExit(sh *shard, p *proc) {
	s.mu.Lock()
	if sh.proc != p || sh.expectExit {
		s.mu.Unlock()
		return
	}
	sh.state = StateExited
	if sh.freezeTimer != nil {
		sh.freezeTimer.Stop()
		sh.freezeTimer = nil
	}
	s.mu.Unlock()
	fmt.Fprintf(s.log, "supervisor: shard %d (pid %d) exited without being asked to (%v); POST /admin/shards/%d/restore brings it back\n", sh.id, p.pid, p.err, sh.id)
	s.record("exited", &sh.id, fmt.Sprintf("pid %d ended without being asked to", p.pid), p.err)
}

// record appends an event to the log.
func (s *Supervisor) record(action string, shardID *int, detail string, err error) {
	ev := Event{Time: time.Now().UTC(), Action: action, Detail: detail}
	if shardID != nil {
		id := *shardID
		ev.Shard = &id
	}
	if err != nil {
		ev.Error = err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) >= maxEvents {
		n := copy(s.events, s.events[1:])
		s.events = s.events[:n]
		s.dropped++
	}
	s.events = append(s.events, ev)
}

// shard returns the shard with the given id.
func (s *Supervisor) shard(id int) (*shard, error) {
	if id < 0 || id >= len(s.shards) {
		return nil, fmt.Errorf("shard %d: %w (have shards 0 to %d)", id, ErrUnknownShard, len(s.shards)-1)
	}
	return s.shards[id], nil
}

// runningLocked returns the process of sh if it is up or frozen, else ErrClosed or an
// ErrConflict naming verb. The caller holds s.mu.
func (s *Supervisor) runningLocked(sh *shard, verb string) (*proc, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if sh.state != StateUp && sh.state != StateFrozen {
		return nil, fmt.Errorf("%s shard %d: it is %s, not running: %w", verb, sh.id, sh.state, ErrConflict)
	}
	return sh.proc, nil
}

// AdminURL is the base URL of the admin listener.
func (s *Supervisor) AdminURL() string { return s.adminURL }

// Token is the bearer token of the admin API.
func (s *Supervisor) Token() string { return s.token }

// DataDir is the directory that holds every shard's data.
func (s *Supervisor) DataDir() string { return s.dataDir }

// Info describes the running target for scripts (the --info-file content).
func (s *Supervisor) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := Info{Admin: s.adminURL, Token: s.token, DataDir: s.dataDir}
	for _, sh := range s.shards {
		si := ShardInfo{ID: sh.id, Region: sh.region, URL: "http://" + sh.addr}
		if sh.proc != nil && (sh.state == StateUp || sh.state == StateFrozen) {
			si.PID = sh.proc.pid
		}
		info.Shards = append(info.Shards, si)
	}
	return info
}

// Topology returns the region map: each region's first shard and every
// shard in id order.
func (s *Supervisor) Topology() Topology {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := Topology{Topology: s.cfg.Topology, Regions: make(map[string]string)}
	for _, sh := range s.shards {
		u := "http://" + sh.addr
		if _, ok := t.Regions[sh.region]; !ok {
			t.Regions[sh.region] = u
		}
		t.Shards = append(t.Shards, TopologyShard{ID: sh.id, Region: sh.region, URL: u})
	}
	return t
}

// Events returns a copy of the action log, oldest first.
func (s *Supervisor) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Kill sends SIGKILL to shard id's process and waits until it is gone, so
// its port refuses connections when Kill returns. A frozen shard is killed
// too; killing a shard that is not running is an ErrConflict.
func (s *Supervisor) Kill(id int) error {
	sh, err := s.shard(id)
	if err != nil {
		return err
	}
	sh.op.Lock()
	defer sh.op.Unlock()
	s.mu.Lock()
	p, err := s.runningLocked(sh, "kill")
	if err != nil {
		s.mu.Unlock()
		return err
	}
	sh.expectExit = true
	sh.freezeGen++
	if sh.freezeTimer != nil {
		sh.freezeTimer.Stop()
		sh.freezeTimer = nil
	}
	s.mu.Unlock()

	err = p.cmd.Process.Signal(syscall.SIGKILL)
	if err == nil || errors.Is(err, os.ErrProcessDone) {
		err = waitDone(p, stopTimeout)
	}
	s.mu.Lock()
	sh.state = StateKilled
	s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("kill shard %d (pid %d): %w", id, p.pid, err)
	}
	s.record("kill", &id, fmt.Sprintf("SIGKILL pid %d", p.pid), err)
	return err
}

// waitDone waits up to d for p to be reaped and its output drained.
func waitDone(p *proc, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return fmt.Errorf("pid %d still running after %s", p.pid, d)
	}
	select {
	case <-p.outDone:
	case <-t.C:
		// A grandchild holds the pipe open; the process itself is gone.
	}
	return nil
}

// Restore brings shard id back. A killed or exited shard is restarted on the
// same port with the same data directory (it resumes its order queue), gets
// the current chaos state pushed, and answers /healthz before Restore
// returns. A frozen shard is thawed at once. Restoring a shard that is up
// only re-pushes its chaos state.
func (s *Supervisor) Restore(ctx context.Context, id int) error {
	sh, err := s.shard(id)
	if err != nil {
		return err
	}
	sh.op.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		sh.op.Unlock()
		return ErrClosed
	}
	state, p := sh.state, sh.proc
	s.mu.Unlock()
	if state == StateUp && s.died(ctx, sh, p) {
		// Killed from outside (kill -9 in a shell) a moment ago: the process is
		// gone but its exit was not recorded yet. Restart it now rather than
		// pushing chaos to a dead port (502) and leaving it down.
		state = StateExited
	}

	var detail string
	switch state {
	case StateFrozen:
		p := s.thawLocked(sh)
		detail = fmt.Sprintf("SIGCONT pid %d before its freeze ended", p.pid)
	case StateKilled, StateExited:
		start := time.Now()
		if err := s.startShard(ctx, sh); err != nil {
			sh.op.Unlock()
			err = fmt.Errorf("restore: %w", err)
			s.record("restore", &id, "", err)
			return err
		}
		s.mu.Lock()
		sh.restarts++
		pid := sh.proc.pid
		s.mu.Unlock()
		if err := s.waitHealthy(ctx, sh); err != nil {
			sh.op.Unlock()
			err = fmt.Errorf("restore shard %d: %w", id, err)
			s.record("restore", &id, "", err)
			return err
		}
		detail = fmt.Sprintf("restarted as pid %d on %s in %s", pid, sh.addr, time.Since(start).Round(time.Millisecond))
	default:
		detail = "already up; chaos state re-pushed"
	}
	sh.op.Unlock()
	err = s.push(ctx, sh)
	s.record("restore", &id, detail, err)
	return err
}

// died reports whether process p of sh, recorded as up, has in fact ended: its
// /healthz does not answer 200 and the process exits within stopTimeout (a
// process killed from outside takes a moment to exit and be reaped). A shard
// that fails its health check yet keeps running is not dead.
func (s *Supervisor) died(ctx context.Context, sh *shard, p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	if s.healthy(ctx, sh) == nil {
		return false
	}
	return waitDone(p, stopTimeout) == nil
}

// healthy makes one GET /healthz of sh and returns nil on a 200.
func (s *Supervisor) healthy(ctx context.Context, sh *shard) error {
	url := "http://" + sh.addr + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // drained for reuse only
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// waitHealthy polls GET /healthz of sh until it answers 200.
func (s *Supervisor) waitHealthy(ctx context.Context, sh *shard) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		err := s.healthy(ctx, sh)
		if err == nil {
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return fmt.Errorf("health check: %w", ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from /healthz within %s: %w", startTimeout, last)
}

// Freeze stops shard id's process with SIGSTOP and continues it with
// SIGCONT after d, a real stall like a long GC pause. Freezing a frozen
// shard restarts the stall's clock with d; a shard that is not running
// cannot be frozen (ErrConflict).
func (s *Supervisor) Freeze(id int, d time.Duration) error {
	sh, err := s.shard(id)
	if err != nil {
		return err
	}
	if d <= 0 || d > maxFreeze {
		return fmt.Errorf("freeze shard %d: duration %s is out of range: want more than 0 and at most %s: %w", id, d, maxFreeze, ErrBadInput)
	}
	sh.op.Lock()
	defer sh.op.Unlock()
	s.mu.Lock()
	p, err := s.runningLocked(sh, "freeze")
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		err = fmt.Errorf("freeze shard %d: SIGSTOP pid %d: %w", id, p.pid, err)
		s.record("freeze", &id, "", err)
		return err
	}
	if err := waitStopped(p.pid, time.Second); err != nil {
		s.record("freeze", &id, fmt.Sprintf("SIGSTOP pid %d for %s", p.pid, d), err)
		// Go on: the process is stopping, and the timer must continue it.
	}
	s.mu.Lock()
	sh.state = StateFrozen
	sh.frozenUntil = time.Now().Add(d)
	sh.freezeGen++
	gen := sh.freezeGen
	if sh.freezeTimer != nil {
		sh.freezeTimer.Stop()
	}
	sh.freezeTimer = time.AfterFunc(d, func() { s.thawAfter(sh, gen) })
	s.mu.Unlock()
	s.record("freeze", &id, fmt.Sprintf("SIGSTOP pid %d for %s", p.pid, d), nil)
	return nil
}

// thawAfter is the freeze timer: it continues sh unless the freeze it was
// set for has been replaced, ended or followed by a kill.
func (s *Supervisor) thawAfter(sh *shard, gen int) {
	sh.op.Lock()
	s.mu.Lock()
	current := sh.freezeGen == gen && sh.state == StateFrozen
	s.mu.Unlock()
	if !current {
		sh.op.Unlock()
		return
	}
	p := s.thawLocked(sh)
	sh.op.Unlock()
	s.record("thaw", &sh.id, fmt.Sprintf("SIGCONT pid %d", p.pid), nil)
	s.mu.Lock()
	dirty := sh.dirty
	s.mu.Unlock()
	if dirty {
		if err := s.push(context.Background(), sh); err != nil {
			s.record("chaos", &sh.id, "push after thaw", err)
		}
	}
}

// thawLocked sends SIGCONT to sh's process and marks it up. The caller
// holds sh.op and knows sh is frozen.
func (s *Supervisor) thawLocked(sh *shard) *proc {
	s.mu.Lock()
	p := sh.proc
	sh.freezeGen++
	if sh.freezeTimer != nil {
		sh.freezeTimer.Stop()
		sh.freezeTimer = nil
	}
	sh.state = StateUp
	sh.frozenUntil = time.Time{}
	s.mu.Unlock()
	p.cmd.Process.Signal(syscall.SIGCONT) //nolint:errcheck // a process that died is reported by onExit
	return p
}

// Close stops the admin listener and every shard: SIGTERM (and SIGCONT for a
// frozen one), then SIGKILL for any still running after a grace period. The
// data directory is kept. Close is safe to call more than once.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var errs []error
	if s.adminSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.adminSrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the admin listener: %w", err))
		}
		cancel()
	}
	if err := s.stopAll(); err != nil {
		errs = append(errs, err)
	}
	detail := "every shard stopped; data kept in " + s.dataDir
	if !s.DataKept() {
		detail = "every shard stopped; temporary data removed from " + s.dataDir
		if err := os.RemoveAll(s.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove the temporary data directory: %w", err))
		}
	}
	s.record("close", nil, detail, errors.Join(errs...))
	return errors.Join(errs...)
}

// Keep asks Close to keep a temporary data directory, as when an audit
// names orders in it that someone should look at.
func (s *Supervisor) Keep() {
	s.mu.Lock()
	s.keep = true
	s.mu.Unlock()
}

// DataKept reports whether the data directory stays after Close: it was
// given in Config.DataDir, or Config.KeepData or Keep asked for it.
func (s *Supervisor) DataKept() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.tempData || s.cfg.KeepData || s.keep
}

// stopAll stops every running shard process, side by side.
func (s *Supervisor) stopAll() error {
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for i, sh := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.stopShard(sh)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stopShard ends sh's process gracefully, or with SIGKILL after stopTimeout.
func (s *Supervisor) stopShard(sh *shard) error {
	sh.op.Lock()
	defer sh.op.Unlock()
	s.mu.Lock()
	p := sh.proc
	running := sh.state == StateUp || sh.state == StateFrozen
	sh.expectExit = true
	sh.freezeGen++
	if sh.freezeTimer != nil {
		sh.freezeTimer.Stop()
		sh.freezeTimer = nil
	}
	if running {
		sh.state = StateClosed
	}
	s.mu.Unlock()
	if !running || p == nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // may have exited already
	p.cmd.Process.Signal(syscall.SIGCONT) //nolint:errcheck // a stopped process only sees SIGTERM once continued
	if waitDone(p, stopTimeout) == nil {
		return nil
	}
	p.cmd.Process.Kill() //nolint:errcheck // may have exited meanwhile
	if err := waitDone(p, stopTimeout); err != nil {
		return fmt.Errorf("stop shard %d: %w", sh.id, err)
	}
	return fmt.Errorf("stop shard %d: pid %d ignored SIGTERM for %s and was killed", sh.id, p.pid, stopTimeout)
}
