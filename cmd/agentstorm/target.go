package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/agentstorm/agentstorm/target/supervisor"
)

func targetCommand() command {
	return command{
		name:    "target",
		summary: "run the bundled reference checkout: one process per shard, a region map and a chaos admin API",
		run:     runTarget,
		flags:   func() *pflag.FlagSet { return newTargetFlagSet(&targetFlags{}) },
	}
}

// targetFlags are the parsed flags of `agentstorm target`.
type targetFlags struct {
	shards    int
	listen    string
	admin     string
	token     string
	dataDir   string
	keepData  bool
	orderRate float64
	topology  string
	infoFile  string
	maxConns  int
}

// newTargetFlagSet declares every flag of `agentstorm target` into f.
func newTargetFlagSet(f *targetFlags) *pflag.FlagSet {
	fs := newCommandFlagSet("agentstorm target")
	fs.IntVar(&f.shards, "shards", 4, "number of shard processes; shard i serves region i mod 4 (us-east, us-west, eu-west, ap-tokyo)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8081", "HOST:PORT of shard 0; shard i listens on PORT+i (port 0: every shard picks a free port)")
	fs.StringVar(&f.admin, "admin", "127.0.0.1:8080", "HOST:PORT of the chaos admin API (port 0 picks a free port)")
	fs.StringVar(&f.token, "admin-token", "", "bearer token every admin call needs (default: a random token, printed at start)")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for the shards' order stores, kept at stop (default: a new temporary directory, removed at stop)")
	fs.BoolVar(&f.keepData, "keep-data", false, "keep the temporary data directory at stop (a --data-dir is always kept)")
	fs.Float64Var(&f.orderRate, "order-rate", 500, "orders per second each shard's worker turns from queued into created")
	fs.StringVar(&f.topology, "topology", supervisor.TopologyEdge, `"edge" (every region served near its customers) or "central" (adds each region's published round trip to a us-east origin)`)
	fs.StringVar(&f.infoFile, "info-file", "", `write {"admin","token","data_dir","shards"} as JSON to this file once serving, removed at stop (for scripts)`)
	fs.IntVar(&f.maxConns, "max-conns-per-shard", 0, "cap on open client connections per shard (0: the shard's default, below the open-file limit)")
	return fs
}

func printTargetUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, "Usage: agentstorm target [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Runs the bundled reference checkout: one process per shard on its own loopback port, each")
	fmt.Fprintln(w, "with in-memory carts and a durable order queue, plus a chaos admin API (kill, restore,")
	fmt.Fprintln(w, "freeze a shard; fail inventory; add latency; pause orders) that needs the printed token.")
	fmt.Fprintln(w, "Runs until Ctrl-C (SIGINT) or SIGTERM, then stops every shard; the data stays only in a")
	fmt.Fprintln(w, "--data-dir or with --keep-data.")
	fmt.Fprintln(w)
	printFlags(w, fs)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit codes: 0 stopped cleanly, 1 a shard could not start or stop (or the info file not be written),")
	fmt.Fprintln(w, "2 bad usage.")
}

// runTarget is `agentstorm target`.
func runTarget(ctx context.Context, env *cliEnv, args []string) int {
	var f targetFlags
	fs := newTargetFlagSet(&f)
	if code, ok := parseFlags(env, fs, args, printTargetUsage, targetUsageError); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return targetUsageError(env, fmt.Sprintf("unexpected argument %q: target takes only flags", fs.Arg(0)))
	}
	if msg := f.validate(); msg != "" {
		return targetUsageError(env, msg)
	}
	for _, a := range []struct{ name, addr string }{{"--listen", f.listen}, {"--admin", f.admin}} {
		if !isLoopback(a.addr) {
			fmt.Fprintf(env.stderr, "agentstorm target: warning: %s %s is not a loopback address; the checkout (and for --admin, the chaos API) is reachable from other machines\n", a.name, a.addr)
		}
	}

	runCtx, cancel := cancelOnInterrupt(ctx, env)
	defer cancel()

	sup, err := supervisor.Start(runCtx, supervisor.Config{
		Shards:           f.shards,
		Listen:           f.listen,
		Admin:            f.admin,
		AdminToken:       f.token,
		DataDir:          f.dataDir,
		KeepData:         f.keepData,
		OrderRate:        f.orderRate,
		Topology:         f.topology,
		MaxConnsPerShard: f.maxConns,
		Log:              env.stderr,
	})
	if err != nil {
		fmt.Fprintf(env.stderr, "agentstorm target: %v\n", err)
		return exitFailed
	}
	info := sup.Info()
	if f.infoFile != "" {
		if err := writeInfoFile(f.infoFile, info); err != nil {
			fmt.Fprintf(env.stderr, "agentstorm target: %v\n", err)
			if cerr := sup.Close(); cerr != nil {
				fmt.Fprintf(env.stderr, "agentstorm target: stop: %v\n", cerr)
			}
			return exitFailed
		}
	}
	printTargetBanner(env.stdout, info, f)

	<-runCtx.Done()
	fmt.Fprintln(env.stdout, "agentstorm target: stopping every shard...")
	code := exitOK
	if err := sup.Close(); err != nil {
		fmt.Fprintf(env.stderr, "agentstorm target: stop: %v\n", err)
		code = exitFailed
	}
	if f.infoFile != "" {
		if err := os.Remove(f.infoFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(env.stderr, "agentstorm target: remove the info file: %v\n", err)
		}
	}
	if sup.DataKept() {
		fmt.Fprintf(env.stdout, "agentstorm target: stopped; the order stores stay in %s\n", info.DataDir)
	} else {
		fmt.Fprintf(env.stdout, "agentstorm target: stopped; removed the temporary order stores in %s (--keep-data keeps them)\n", info.DataDir)
	}
	return code
}

// validate returns a message naming the first bad flag value, or "".
func (f *targetFlags) validate() string {
	switch {
	case f.shards < 1 || f.shards > 1024:
		return fmt.Sprintf("--shards %d: want 1 to 1024", f.shards)
	case f.orderRate <= 0:
		return fmt.Sprintf("--order-rate %g: want a number of orders per second above 0", f.orderRate)
	case f.maxConns < 0:
		return fmt.Sprintf("--max-conns-per-shard %d: want 0 (the default) or more", f.maxConns)
	case f.topology != supervisor.TopologyEdge && f.topology != supervisor.TopologyCentral:
		return fmt.Sprintf("--topology %q: want %q or %q", f.topology, supervisor.TopologyEdge, supervisor.TopologyCentral)
	}
	for _, a := range []struct{ name, addr string }{{"--listen", f.listen}, {"--admin", f.admin}} {
		if msg := checkHostPort(a.name, a.addr); msg != "" {
			return msg
		}
	}
	return ""
}

// checkHostPort returns a message when addr is not HOST:PORT with a valid port.
func checkHostPort(name, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%s %q: want HOST:PORT, such as 127.0.0.1:8081", name, addr)
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil || p < 0 || p > 65535 || fmt.Sprint(p) != port {
		return fmt.Sprintf("%s %q: port %q is not a number from 0 to 65535", name, addr, port)
	}
	return ""
}

// isLoopback reports whether the host of addr is a loopback address or
// localhost.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// targetUsageError reports bad usage and returns exit code 2.
func targetUsageError(env *cliEnv, msg string) int {
	return usageError(env, "target", "target", "the flags and their defaults", msg)
}

// writeInfoFile writes info as JSON to path through a temporary file and a
// rename, so a reader never sees half a file. It holds the admin token, so
// only the owner may read it.
func writeInfoFile(path string, info supervisor.Info) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the info file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write the info file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write the info file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the info file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write the info file %s: %w", path, err)
	}
	return nil
}

// printTargetBanner prints the shards, the admin URL with its token, the
// data directory and curl examples to paste.
func printTargetBanner(w io.Writer, info supervisor.Info, f targetFlags) {
	fmt.Fprintf(w, "agentstorm target: %d shards, topology %s, %g orders/s per shard\n", len(info.Shards), f.topology, f.orderRate)
	for _, s := range info.Shards {
		fmt.Fprintf(w, "  shard %-2d %-9s %s  (pid %d)\n", s.ID, s.Region, s.URL, s.PID)
	}
	fmt.Fprintf(w, "admin: %s  token: %s\n", info.Admin, info.Token)
	fmt.Fprintf(w, "data:  %s\n", info.DataDir)
	if f.infoFile != "" {
		fmt.Fprintf(w, "info:  %s\n", f.infoFile)
	}
	s0 := info.Shards[0]
	auth := fmt.Sprintf("-H 'Authorization: Bearer %s'", info.Token)
	fmt.Fprintln(w, "Try:")
	fmt.Fprintf(w, "  curl -s %s %s/v1/topology\n", auth, info.Admin)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/carts -d '{\"customer_id\":\"cust-1\",\"region\":\"%s\"}'\n", s0.URL, s0.Region)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/carts/CART_ID/items -d '{\"sku\":\"sku-1\",\"qty\":2}'\n", s0.URL)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/carts/CART_ID/checkout -H 'Idempotency-Key: k1' -d '{\"destination\":\"10001\",\"carrier\":\"ups\",\"speed\":\"standard\"}'\n", s0.URL)
	fmt.Fprintf(w, "  curl -s %s/v1/orders/ORDER_ID\n", s0.URL)
	fmt.Fprintf(w, "  curl -s -X POST %s %s/admin/shards/%d/kill      # and .../restore\n", auth, info.Admin, s0.ID)
	fmt.Fprintf(w, "  curl -s %s %s/admin/state\n", auth, info.Admin)
	fmt.Fprintln(w, "Ctrl-C stops every shard.")
}
