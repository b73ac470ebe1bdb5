package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/agentstorm/agentstorm/target"
)

// TestMain lets the test binary be a shard process: the supervisor under
// test re-executes it with AGENTSTORM_TEST_SHARD=1 and the shard flags.
func TestMain(m *testing.M) {
	if os.Getenv("AGENTSTORM_TEST_SHARD") == "1" {
		os.Exit(target.RunShardMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// testShardCommand re-executes the test binary as a shard.
func testShardCommand(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AGENTSTORM_TEST_SHARD=1")
	return cmd
}

// logWriter forwards shard output to the test log, line by line.
// After the test it drops output: t.Logf must not be called once the test
// has completed.
type logWriter struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("shard output: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *logWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func startTest(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.ShardCommand = testShardCommand
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	lw := &logWriter{t: t}
	t.Cleanup(lw.stop) // runs after Close, the cleanup registered below
	cfg.Log = lw
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// client talks to shards and the admin API without keep-alive, so a killed
// shard shows up as a refused connection on the very next request.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// call does one request and decodes a JSON answer into out (when not nil).
func call(t *testing.T, method, url, token, body string, headers map[string]string, out any) (int, []byte, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b, err
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: answer %d is not JSON: %v: %s", method, url, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode, b, nil
}

// admin calls the admin API with the right token and wants status want.
func admin(t *testing.T, s *Supervisor, method, path, body string, want int, out any) []byte {
	t.Helper()
	code, b, err := call(t, method, s.AdminURL()+path, s.Token(), body, nil, out)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

// openCart opens a cart on shard base and adds one unit of sku.
func openCart(t *testing.T, base, region, sku string) (string, error) {
	t.Helper()
	var cart struct {
		CartID string `json:"cart_id"`
	}
	code, b, err := call(t, "POST", base+"/v1/carts", "", fmt.Sprintf(`{"customer_id":"cust-%s","region":%q}`, sku, region), nil, &cart)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated || cart.CartID == "" {
		return "", fmt.Errorf("open cart: status %d: %s", code, b)
	}
	var item struct {
		Mode string `json:"mode"`
	}
	code, b, err = call(t, "POST", base+"/v1/carts/"+cart.CartID+"/items", "", fmt.Sprintf(`{"sku":%q,"qty":1}`, sku), nil, &item)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("add item: status %d: %s", code, b)
	}
	return cart.CartID, nil
}

// checkout checks out cart with an idempotency key; it returns the status
// and the order id.
func checkout(t *testing.T, base, cartID, key string) (int, string, error) {
	t.Helper()
	var order struct {
		OrderID string `json:"order_id"`
		Status  string `json:"status"`
	}
	code, b, err := call(t, "POST", base+"/v1/carts/"+cartID+"/checkout", "",
		`{"destination":"10001","carrier":"ups","speed":"standard"}`, map[string]string{"Idempotency-Key": key}, &order)
	if err != nil {
		return 0, "", err
	}
	if code == http.StatusAccepted && order.OrderID == "" {
		return code, "", fmt.Errorf("checkout: 202 without order_id: %s", b)
	}
	return code, order.OrderID, nil
}

// orderStatus returns the status of an order.
func orderStatus(t *testing.T, base, id string) (int, string) {
	t.Helper()
	var o struct {
		Status string `json:"status"`
	}
	code, b, err := call(t, "GET", base+"/v1/orders/"+id, "", "", nil, &o)
	if err != nil {
		t.Fatalf("GET order %s: %v", id, err)
	}
	if code == http.StatusOK && o.Status == "" {
		t.Fatalf("GET order %s: no status: %s", id, b)
	}
	return code, o.Status
}

// metric reads one unlabelled value from a shard's /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	code, b, err := call(t, "GET", base+"/metrics", "", "", nil, nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest[i:]), 64)
			if err != nil {
				t.Fatalf("metric %s: %q: %v", name, line, err)
			}
			return v
		}
	}
	t.Fatalf("metric %s not in /metrics:\n%s", name, b)
	return 0
}

// fastest is the quickest of three GETs of url: an upper bound on latency
// checked this way survives a loaded machine, where one request can stall.
func fastest(t *testing.T, url string) time.Duration {
	t.Helper()
	best := time.Hour
	for i := 0; i < 3; i++ {
		start := time.Now()
		code, b, err := call(t, "GET", url, "", "", nil, nil)
		if err != nil || code != 200 {
			t.Fatalf("GET %s: %d %v %s", url, code, err, b)
		}
		best = min(best, time.Since(start))
	}
	return best
}

func TestStartTopologyAuthState(t *testing.T) {
	s := startTest(t, Config{Shards: 3, Regions: []string{"us-east", "ap-tokyo"}, Topology: TopologyCentral})

	info := s.Info()
	if len(info.Shards) != 3 || info.Token == "" || info.DataDir == "" || !strings.HasPrefix(info.Admin, "http://127.0.0.1:") {
		t.Fatalf("info: %+v", info)
	}
	pids := map[int]bool{}
	for i, sh := range info.Shards {
		if sh.ID != i || sh.PID <= 0 || pids[sh.PID] {
			t.Fatalf("shard %d: %+v", i, sh)
		}
		pids[sh.PID] = true
		if err := syscall.Kill(sh.PID, 0); err != nil {
			t.Fatalf("shard %d pid %d is not a running process: %v", i, sh.PID, err)
		}
		// The chaos token never shows on a command line (ps shows those to every user),
		// yet reaches the shard: its /internal/chaos takes the token and refuses others.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sh.PID))
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		if strings.Contains(string(cmdline), s.controlToken) || strings.Contains(string(cmdline), info.Token) {
			t.Fatalf("shard %d: a token is on its command line: %q", i, cmdline)
		}
		if code, b, err := call(t, "GET", sh.URL+"/internal/chaos", s.controlToken, "", nil, nil); err != nil || code != 200 {
			t.Fatalf("shard %d: /internal/chaos with the token: %d %v %s", i, code, err, b)
		}
		if code, _, _ := call(t, "GET", sh.URL+"/internal/chaos", "wrong", "", nil, nil); code != http.StatusUnauthorized {
			t.Fatalf("shard %d: /internal/chaos with a wrong token: %d, want 401", i, code)
		}
	}

	// Auth: every call, topology included, needs the token.
	for _, tok := range []string{"", "wrong"} {
		var e struct {
			Error string `json:"error"`
		}
		code, b, err := call(t, "GET", s.AdminURL()+"/v1/topology", tok, "", nil, &e)
		if err != nil || code != http.StatusUnauthorized || e.Error == "" {
			t.Fatalf("token %q: status %d err %v body %s, want 401 with a JSON error", tok, code, err, b)
		}
	}
	code, _, _ := call(t, "POST", s.AdminURL()+"/admin/shards/0/kill", "", "", nil, nil)
	if code != http.StatusUnauthorized {
		t.Fatalf("kill without token: %d, want 401", code)
	}

	var topo Topology
	admin(t, s, "GET", "/v1/topology", "", 200, &topo)
	if topo.Topology != "central" || len(topo.Shards) != 3 || len(topo.Regions) != 2 {
		t.Fatalf("topology: %+v", topo)
	}
	wantRegion := []string{"us-east", "ap-tokyo", "us-east"}
	for i, sh := range topo.Shards {
		if sh.ID != i || sh.Region != wantRegion[i] || sh.URL != info.Shards[i].URL {
			t.Fatalf("topology shard %d: %+v", i, sh)
		}
	}
	if topo.Regions["us-east"] != info.Shards[0].URL || topo.Regions["ap-tokyo"] != info.Shards[1].URL {
		t.Fatalf("region map: %v", topo.Regions)
	}

	// Central topology: the Tokyo shard answers a published RTT later than us-east.
	timeGet := func(url string) time.Duration {
		start := time.Now()
		code, b, err := call(t, "GET", url+"/healthz", "", "", nil, nil)
		if err != nil || code != 200 {
			t.Fatalf("healthz %s: %d %v %s", url, code, err, b)
		}
		return time.Since(start)
	}
	if d := timeGet(info.Shards[1].URL); d < 140*time.Millisecond {
		t.Errorf("ap-tokyo shard answered in %s under central topology, want >= 145ms", d)
	}
	if d := fastest(t, info.Shards[0].URL+"/healthz"); d > 100*time.Millisecond {
		t.Errorf("us-east shard answered in %s under central topology, want no added RTT", d)
	}

	var st State
	admin(t, s, "GET", "/admin/state", "", 200, &st)
	if len(st.Shards) != 3 || st.Shards[1].State != StateUp || st.Shards[1].ExtraRTT != "145ms" || st.Shards[0].ExtraRTT != "0s" {
		t.Fatalf("state: %+v", st)
	}

	// Bad input: unknown shard 404, bad id 400, bad bodies 400, unknown path 404.
	admin(t, s, "POST", "/admin/shards/7/kill", "", 404, nil)
	admin(t, s, "POST", "/admin/shards/x/kill", "", 400, nil)
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"soon"}`, 400, nil)
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"1s","extra":1}`, 400, nil)
	admin(t, s, "POST", "/admin/shards/0/freeze", `{}`, 400, nil)
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"-1s"}`, 400, nil)
	admin(t, s, "POST", "/admin/latency", `{"fixed":"10ms"`, 400, nil)
	admin(t, s, "POST", "/admin/latency", `{"shard":9,"fixed":"10ms"}`, 404, nil)
	admin(t, s, "POST", "/admin/latency", `{"path":"v1","fixed":"10ms"}`, 400, nil)
	admin(t, s, "GET", "/admin/nothing", "", 404, nil)
	admin(t, s, "GET", "/admin/shards/0/kill", "", 405, nil)
	admin(t, s, "PUT", "/admin/latency", "", 405, nil)

	var ev struct {
		Events []Event `json:"events"`
	}
	b := admin(t, s, "GET", "/admin/events", "", 200, &ev)
	if len(ev.Events) == 0 || ev.Events[0].Action != "start" || ev.Events[0].Time.IsZero() {
		t.Fatalf("events: %s", b)
	}
	if !bytes.Contains(b, []byte(ev.Events[0].Time.Format(time.RFC3339Nano))) {
		t.Fatalf("event time is not RFC 3339 with nanoseconds: %s", b)
	}
}

func TestKillRestore(t *testing.T) {
	s := startTest(t, Config{Shards: 2})
	info := s.Info()
	a, b := info.Shards[0], info.Shards[1]

	cart, err := openCart(t, a.URL, a.Region, "sku-kill-1")
	if err != nil {
		t.Fatal(err)
	}
	code, orderID, err := checkout(t, a.URL, cart, "kill-restore-1")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("checkout: %d %v", code, err)
	}

	var sh ShardState
	admin(t, s, "POST", "/admin/shards/0/kill", "", 200, &sh)
	if sh.State != StateKilled || sh.PID != 0 {
		t.Fatalf("after kill: %+v", sh)
	}
	if err := syscall.Kill(a.PID, 0); err == nil {
		t.Fatalf("pid %d still exists after kill", a.PID)
	}
	start := time.Now()
	_, _, err = call(t, "GET", a.URL+"/healthz", "", "", nil, nil)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("killed shard: want connection refused, got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("killed shard took %s to refuse", d)
	}
	if code, _, err := call(t, "GET", b.URL+"/healthz", "", "", nil, nil); err != nil || code != 200 {
		t.Fatalf("other shard: %d %v", code, err)
	}
	admin(t, s, "POST", "/admin/shards/0/kill", "", 409, nil)
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"1s"}`, 409, nil)

	// A chaos change while killed reaches the shard on restore.
	admin(t, s, "POST", "/admin/inventory/fail", "", 200, nil)

	admin(t, s, "POST", "/admin/shards/0/restore", "", 200, &sh)
	if sh.State != StateUp || sh.PID <= 0 || sh.PID == a.PID || sh.URL != a.URL || sh.Restarts != 1 {
		t.Fatalf("after restore: %+v (old pid %d, url %s)", sh, a.PID, a.URL)
	}
	if code, st := orderStatus(t, a.URL, orderID); code != 200 || (st != "processing" && st != "created") {
		t.Fatalf("order %s after restore: %d %q", orderID, code, st)
	}
	var item struct {
		Mode string `json:"mode"`
	}
	var cartResp struct {
		CartID string `json:"cart_id"`
	}
	call(t, "POST", a.URL+"/v1/carts", "", `{"customer_id":"x","region":"us-east"}`, nil, &cartResp)
	code, body, err := call(t, "POST", a.URL+"/v1/carts/"+cartResp.CartID+"/items", "", `{"sku":"sku-x","qty":1}`, nil, &item)
	if err != nil || code != 200 || item.Mode != "preorder" {
		t.Fatalf("add to cart after restore with inventory failed: %d %v %s, want mode preorder", code, err, body)
	}

	var ev struct {
		Events []Event `json:"events"`
	}
	admin(t, s, "GET", "/admin/events", "", 200, &ev)
	var actions []string
	for _, e := range ev.Events {
		actions = append(actions, e.Action)
	}
	got := strings.Join(actions, ",")
	if !strings.Contains(got, "kill,inventory fail,restore") {
		t.Fatalf("events: %s", got)
	}
}

// TestTemporaryDataRemoved: a data directory the supervisor made is removed
// by Close unless KeepData or Keep asked for it; one that was given is kept.
func TestTemporaryDataRemoved(t *testing.T) {
	start := func(cfg Config) *Supervisor {
		cfg.Shards, cfg.Listen, cfg.ShardCommand = 1, "127.0.0.1:0", testShardCommand
		cfg.Log = &logWriter{t: t, done: true}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := Start(ctx, cfg)
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return s
	}
	exists := func(dir string) bool {
		_, err := os.Stat(dir)
		return err == nil
	}
	for _, c := range []struct {
		name string
		cfg  Config
		keep bool // call Keep before Close
		want bool // the directory stays
	}{
		{"temporary", Config{}, false, false},
		{"KeepData", Config{KeepData: true}, false, true},
		{"Keep", Config{}, true, true},
		{"given", Config{DataDir: t.TempDir()}, false, true},
	} {
		s := start(c.cfg)
		dir := s.DataDir()
		if c.keep {
			s.Keep()
		}
		if got := s.DataKept(); got != c.want {
			t.Errorf("%s: DataKept %v, want %v", c.name, got, c.want)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("%s: Close: %v", c.name, err)
		}
		if got := exists(dir); got != c.want {
			t.Errorf("%s: %s exists after Close: %v, want %v", c.name, dir, got, c.want)
		}
		os.RemoveAll(dir) //nolint:errcheck // cleanup of the kept ones
	}
}

// TestRestoreRightAfterOutsideKill kills a shard from outside (kill -9, as a
// person in a shell would) and restores it at once, before the supervisor has
// seen the exit: the restore must restart it (not answer 502 and leave it
// down), every time.
func TestRestoreRightAfterOutsideKill(t *testing.T) {
	s := startTest(t, Config{Shards: 1})
	for i := 0; i < 8; i++ {
		sh := s.Info().Shards[0]
		if err := syscall.Kill(sh.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("try %d: kill -9 %d: %v", i, sh.PID, err)
		}
		var st ShardState
		admin(t, s, "POST", "/admin/shards/0/restore", "", 200, &st)
		if st.State != StateUp || st.PID == sh.PID || st.PID <= 0 {
			t.Fatalf("try %d: after restore: %+v (killed pid %d)", i, st, sh.PID)
		}
		if code, b, err := call(t, "GET", sh.URL+"/healthz", "", "", nil, nil); err != nil || code != 200 {
			t.Fatalf("try %d: restored shard: %d %v %s", i, code, err, b)
		}
	}
}

// burst runs 32 goroutines of open cart, add item, checkout (each order
// with its own Idempotency-Key) against shard sh, kills the shard through
// the admin API once minAccepted checkouts were answered 202, and returns
// the keys answered 202 with their order ids, and every key sent.
func burst(t *testing.T, s *Supervisor, sh ShardInfo, minAccepted int) (map[string]string, map[string]string) {
	t.Helper()
	const workers = 32
	var (
		mu       sync.Mutex
		accepted = map[string]string{} // idempotency key -> order id answered 202
		tried    = map[string]string{} // every key sent, answered or not -> its cart id
		nAcc     atomic.Int64
		killed   atomic.Bool
	)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000 && !killed.Load(); n++ {
				sku := fmt.Sprintf("sku-%d-%d", g, n)
				cart, err := openCart(t, sh.URL, sh.Region, sku)
				if err != nil {
					return
				}
				key := fmt.Sprintf("burst-%d-%d", g, n)
				mu.Lock()
				tried[key] = cart
				mu.Unlock()
				code, id, err := checkout(t, sh.URL, cart, key)
				if err != nil {
					return // the shard died under this request
				}
				if code != http.StatusAccepted {
					t.Errorf("checkout %s: status %d", key, code)
					return
				}
				mu.Lock()
				accepted[key] = id
				mu.Unlock()
				nAcc.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for nAcc.Load() < int64(minAccepted) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	admin(t, s, "POST", fmt.Sprintf("/admin/shards/%d/kill", sh.ID), "", 200, nil)
	killed.Store(true)
	wg.Wait()
	if len(accepted) < minAccepted {
		t.Fatalf("only %d checkouts accepted before the kill", len(accepted))
	}
	t.Logf("%d checkouts answered 202 before kill -9, %d sent", len(accepted), len(tried))
	return accepted, tried
}

// retryAll checks out every key again after a restore, on its own cart id
// (the cart itself, kept in memory, is gone: a known key must not need it).
// An accepted key must give its order id back; a key whose answer was lost
// gives its order if it was stored, or 404 for the cart. It returns the
// distinct order ids.
func retryAll(t *testing.T, sh ShardInfo, accepted map[string]string, tried map[string]string) map[string]bool {
	t.Helper()
	orders := map[string]bool{}
	for key, cart := range tried {
		code, id, err := checkout(t, sh.URL, cart, key)
		if err != nil {
			t.Fatalf("retry %s: %v", key, err)
		}
		want, ok := accepted[key]
		switch {
		case ok && (code != http.StatusAccepted || id != want):
			t.Fatalf("retry of accepted key %s: status %d id %q, want 202 %q", key, code, id, want)
		case code == http.StatusAccepted:
			orders[id] = true
		case code != http.StatusNotFound:
			t.Fatalf("retry of unanswered key %s: status %d, want 202 or 404", key, code)
		}
	}
	if len(orders) < len(accepted) {
		t.Fatalf("%d distinct orders after retries, fewer than %d accepted", len(orders), len(accepted))
	}
	return orders
}

// waitCreated waits (bounded) until the shard's queue is empty and every
// order is created.
func waitCreated(t *testing.T, sh ShardInfo, orders map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for metric(t, sh.URL, "agentstorm_target_order_queue_depth") > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if q := metric(t, sh.URL, "agentstorm_target_order_queue_depth"); q != 0 {
		t.Fatalf("queue depth %v after 15 s", q)
	}
	for id := range orders {
		if code, st := orderStatus(t, sh.URL, id); code != 200 || st != "created" {
			t.Fatalf("order %s: %d %q, want created", id, code, st)
		}
	}
}

// TestKillMidBurst is the durability proof: kill -9 a shard process in the
// middle of a burst of concurrent checkouts; every order answered 202 is
// there after restore and gets created, and none is created twice.
// Under a second (a few under -race), so it runs with -short too.
func TestKillMidBurst(t *testing.T) {
	s := startTest(t, Config{Shards: 1, OrderRate: 50000})
	sh := s.Info().Shards[0]

	// Orders stay queued until after the restore, so the restarted
	// process's orders-created counter counts every order there is.
	admin(t, s, "POST", "/admin/orders/pause", "", 200, nil)
	accepted, tried := burst(t, s, sh, 300)
	admin(t, s, "POST", "/admin/shards/0/restore", "", 200, nil)

	orders := retryAll(t, sh, accepted, tried)
	if n := metric(t, sh.URL, "agentstorm_target_orders_created_total"); n != 0 {
		t.Fatalf("orders created while paused: %v", n)
	}
	if q := metric(t, sh.URL, "agentstorm_target_order_queue_depth"); int(q) != len(orders) {
		t.Fatalf("queue depth %v after restore, want the %d distinct orders", q, len(orders))
	}
	admin(t, s, "POST", "/admin/orders/resume", "", 200, nil)
	waitCreated(t, sh, orders)

	// Exactly once: the restarted process created each stored order once;
	// retrying every key again creates nothing new.
	if n := metric(t, sh.URL, "agentstorm_target_orders_created_total"); int(n) != len(orders) {
		t.Fatalf("orders created %v, want exactly the %d distinct orders", n, len(orders))
	}
	if again := retryAll(t, sh, accepted, tried); len(again) != len(orders) {
		t.Fatalf("second retry found %d orders, want %d", len(again), len(orders))
	}
	time.Sleep(50 * time.Millisecond)
	if n := metric(t, sh.URL, "agentstorm_target_orders_created_total"); int(n) != len(orders) {
		t.Fatalf("orders created %v after retries, want still %d", n, len(orders))
	}
}

// TestKillMidBurstWorkerRunning kills the shard while its worker is turning
// queued orders into created ones: after restore every accepted order is
// created, the queue drains, and retries return the original ids.
func TestKillMidBurstWorkerRunning(t *testing.T) {
	s := startTest(t, Config{Shards: 2, OrderRate: 3000})
	sh := s.Info().Shards[1]
	accepted, tried := burst(t, s, sh, 400)
	admin(t, s, "POST", "/admin/shards/1/restore", "", 200, nil)
	orders := retryAll(t, sh, accepted, tried)
	waitCreated(t, sh, orders)
	created := metric(t, sh.URL, "agentstorm_target_orders_created_total")
	if created > float64(len(orders)) {
		t.Fatalf("restarted shard created %v orders, more than the %d there are", created, len(orders))
	}
	t.Logf("%d orders, %v of them created after the restart", len(orders), created)
}

func TestFreeze(t *testing.T) {
	s := startTest(t, Config{Shards: 2})
	info := s.Info()
	a := info.Shards[0]

	var sh ShardState
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"500ms"}`, 200, &sh)
	if sh.State != StateFrozen || sh.FrozenUntil == nil {
		t.Fatalf("after freeze: %+v", sh)
	}
	start := time.Now()
	code, _, err := call(t, "GET", a.URL+"/healthz", "", "", nil, nil)
	d := time.Since(start)
	if err != nil || code != 200 {
		t.Fatalf("healthz during freeze: %d %v", code, err)
	}
	// The answer cannot come before the thaw: the shard's threads were all
	// stopped before the admin call answered. (Measured against the thaw
	// time, not as a duration, so a slow start of the request does not
	// make the check flaky.)
	if early := time.Until(*sh.FrozenUntil); early > 5*time.Millisecond {
		t.Fatalf("request during a 500ms freeze took %s and ended %s before the thaw", d, early)
	}
	// The other shard is not frozen.
	if d := fastest(t, info.Shards[1].URL+"/healthz"); d > 200*time.Millisecond {
		t.Fatalf("other shard answered in %s during shard 0's freeze", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.State().Shards[0].State != StateUp && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := fastest(t, a.URL+"/healthz"); d > 200*time.Millisecond {
		t.Fatalf("request after the freeze took %s", d)
	}

	// Restore thaws a frozen shard at once; kill works on a frozen shard.
	admin(t, s, "POST", "/admin/shards/0/freeze", `{"duration":"1m"}`, 200, nil)
	admin(t, s, "POST", "/admin/shards/0/restore", "", 200, &sh)
	if sh.State != StateUp || sh.PID != a.PID {
		t.Fatalf("restore of a frozen shard: %+v", sh)
	}
	if d := fastest(t, a.URL+"/healthz"); d > 200*time.Millisecond {
		t.Fatalf("after thaw by restore: %s", d)
	}
	admin(t, s, "POST", "/admin/shards/1/freeze", `{"duration":"1m"}`, 200, nil)
	admin(t, s, "POST", "/admin/shards/1/kill", "", 200, &sh)
	if sh.State != StateKilled {
		t.Fatalf("kill of a frozen shard: %+v", sh)
	}
	if _, _, err := call(t, "GET", info.Shards[1].URL+"/healthz", "", "", nil, nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("killed frozen shard: want connection refused, got %v", err)
	}

	var ev struct {
		Events []Event `json:"events"`
	}
	admin(t, s, "GET", "/admin/events", "", 200, &ev)
	thawed := false
	for _, e := range ev.Events {
		thawed = thawed || (e.Action == "thaw" && e.Shard != nil && *e.Shard == 0)
	}
	if !thawed {
		t.Fatalf("no thaw event: %+v", ev.Events)
	}
}

func TestInventoryLatencyOrders(t *testing.T) {
	s := startTest(t, Config{Shards: 2})
	info := s.Info()

	addMode := func(base, sku string) string {
		t.Helper()
		var c struct {
			CartID string `json:"cart_id"`
		}
		if code, b, err := call(t, "POST", base+"/v1/carts", "", `{"customer_id":"x","region":"us-east"}`, nil, &c); err != nil || code != 201 {
			t.Fatalf("open cart: %d %v %s", code, err, b)
		}
		var item struct {
			Mode string `json:"mode"`
		}
		if code, b, err := call(t, "POST", base+"/v1/carts/"+c.CartID+"/items", "", fmt.Sprintf(`{"sku":%q,"qty":2}`, sku), nil, &item); err != nil || code != 200 {
			t.Fatalf("add item: %d %v %s", code, err, b)
		}
		return item.Mode
	}
	for _, sh := range info.Shards {
		if m := addMode(sh.URL, "sku-a"); m != "in_stock" {
			t.Fatalf("shard %d mode %q before fail, want in_stock", sh.ID, m)
		}
	}
	var st State
	admin(t, s, "POST", "/admin/inventory/fail", "", 200, &st)
	if !st.InventoryFailed {
		t.Fatalf("state after fail: %+v", st)
	}
	for _, sh := range info.Shards {
		if m := addMode(sh.URL, "sku-b"); m != "preorder" {
			t.Fatalf("shard %d mode %q with inventory failed, want preorder", sh.ID, m)
		}
	}
	admin(t, s, "POST", "/admin/inventory/restore", "", 200, nil)
	for _, sh := range info.Shards {
		if m := addMode(sh.URL, "sku-c"); m != "in_stock" {
			t.Fatalf("shard %d mode %q after restore, want in_stock", sh.ID, m)
		}
	}

	timeGet := func(url string) time.Duration {
		t.Helper()
		start := time.Now()
		if code, b, err := call(t, "GET", url, "", "", nil, nil); err != nil || code != 200 {
			t.Fatalf("GET %s: %d %v %s", url, code, err, b)
		}
		return time.Since(start)
	}
	admin(t, s, "POST", "/admin/latency", `{"shard":1,"path":"/v1/inventory","fixed":"200ms","jitter":"10ms"}`, 200, &st)
	if len(st.Latency) != 1 || *st.Latency[0].Shard != 1 {
		t.Fatalf("state latency: %+v", st.Latency)
	}
	if d := timeGet(info.Shards[1].URL + "/v1/inventory/sku-a"); d < 200*time.Millisecond {
		t.Fatalf("shard 1 inventory with a 200ms rule: %s", d)
	}
	if d := fastest(t, info.Shards[1].URL+"/healthz"); d > 150*time.Millisecond {
		t.Fatalf("shard 1 healthz, not under the rule's path: %s", d)
	}
	if d := fastest(t, info.Shards[0].URL+"/v1/inventory/sku-a"); d > 150*time.Millisecond {
		t.Fatalf("shard 0 inventory, not under the rule's shard: %s", d)
	}
	admin(t, s, "DELETE", "/admin/latency", "", 200, &st)
	if len(st.Latency) != 0 {
		t.Fatalf("latency after clear: %+v", st.Latency)
	}
	if d := fastest(t, info.Shards[1].URL+"/v1/inventory/sku-a"); d > 150*time.Millisecond {
		t.Fatalf("shard 1 inventory after clear: %s", d)
	}

	// Pause: checkouts are accepted but stay processing; resume creates them.
	admin(t, s, "POST", "/admin/orders/pause", "", 200, &st)
	if !st.OrdersPaused {
		t.Fatalf("state after pause: %+v", st)
	}
	sh := info.Shards[0]
	cart, err := openCart(t, sh.URL, sh.Region, "sku-p")
	if err != nil {
		t.Fatal(err)
	}
	code, id, err := checkout(t, sh.URL, cart, "pause-1")
	if err != nil || code != 202 {
		t.Fatalf("checkout: %d %v", code, err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, st := orderStatus(t, sh.URL, id); st != "processing" {
		t.Fatalf("order while paused: %q, want processing", st)
	}
	admin(t, s, "POST", "/admin/orders/resume", "", 200, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, st := orderStatus(t, sh.URL, id)
		if st == "created" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %q 5 s after resume", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConfigErrors(t *testing.T) {
	bad := []Config{
		{Shards: 0, Listen: "127.0.0.1:0"},
		{Shards: 2, Listen: "nonsense"},
		{Shards: 2, Listen: "127.0.0.1:65535"},
		{Shards: 1, Listen: "127.0.0.1:0", Topology: "mesh"},
		{Shards: 1, Listen: "127.0.0.1:0", Topology: "central", Regions: []string{"mars-1"}},
		{Shards: 1, Listen: "127.0.0.1:0", OrderRate: -1},
	}
	for i, cfg := range bad {
		cfg.ShardCommand = testShardCommand
		cfg.DataDir = t.TempDir()
		if s, err := Start(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("config %d %+v: no error", i, cfg)
		}
	}
	// A shard that cannot listen fails the start with a message naming it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := Start(context.Background(), Config{Shards: 2, Listen: ln.Addr().String(), ShardCommand: testShardCommand,
		DataDir: t.TempDir(), Log: io.Discard})
	if err == nil {
		s.Close()
		t.Fatal("start on a taken port: no error")
	}
	if !strings.Contains(err.Error(), "shard 0 ("+ln.Addr().String()) {
		t.Errorf("start on a taken port: %v", err)
	}
	if d, err := OriginRTT("ap-tokyo"); err != nil || d != 145*time.Millisecond {
		t.Errorf("OriginRTT(ap-tokyo) = %s, %v", d, err)
	}
}

func TestUnexpectedExit(t *testing.T) {
	s := startTest(t, Config{Shards: 1})
	sh := s.Info().Shards[0]
	if err := syscall.Kill(sh.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.State().Shards[0].State != StateExited {
		if time.Now().After(deadline) {
			t.Fatalf("state %q 5 s after the shard died, want exited", s.State().Shards[0].State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	found := false
	for _, e := range s.Events() {
		found = found || e.Action == "exited"
	}
	if !found {
		t.Fatalf("no exited event: %+v", s.Events())
	}
	if err := s.Restore(context.Background(), 0); err != nil {
		t.Fatalf("restore after an unexpected exit: %v", err)
	}
	if st := s.State().Shards[0]; st.State != StateUp || st.URL != sh.URL {
		t.Fatalf("after restore: %+v", st)
	}
}

func TestShardLoops(t *testing.T) {
	for _, tc := range []struct{ shards, cpus, want int }{
		{1, 2, 2}, {2, 2, 1}, {6, 2, 1}, {1, 8, 8}, {3, 8, 2}, {0, 1, 1},
	} {
		if got := shardLoops(tc.shards, tc.cpus); got != tc.want {
			t.Errorf("shardLoops(%d shards, %d CPUs) = %d, want %d", tc.shards, tc.cpus, got, tc.want)
		}
	}
}
