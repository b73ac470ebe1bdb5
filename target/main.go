package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// ControlTokenEnv names the environment variable that gives a shard its bearer token for
// /internal/chaos. The token travels in the environment, not on the command line: a
// process's arguments are readable by every user of the machine (ps), its environment only
// by its owner.
const ControlTokenEnv = "AGENTSTORM_SHARD_CONTROL_TOKEN"

// UnsafeAckEnv, set to "1", turns on --unsafe-ack-before-write in shards (for the test that
// breaks durability on purpose through a supervisor).
const UnsafeAckEnv = "AGENTSTORM_UNSAFE_ACK_BEFORE_WRITE"

// shardGCPercent is a shard process's GOGC unless the environment sets one.
const shardGCPercent = 200

// RunShardMain is the body of the hidden `agentstorm target-shard` subcommand and of test
// binaries that re-exec themselves as a shard. It parses flags (pflag):
//
//	--id N --region R --listen HOST:PORT --data-dir DIR --order-rate F
//	--extra-rtt D --max-conns N --stock N --server loop|goroutines --loops N
//
// takes the chaos control token from the environment (ControlTokenEnv; unset disables
// /internal/chaos), starts the shard, prints exactly one line "LISTENING host:port\n" to
// stdout once serving, then serves until ctx is done or SIGTERM/SIGINT arrives, closes
// gracefully and returns an exit code: 0 after a clean stop, 1 if the shard failed, 2 for
// bad flags.
func RunShardMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if os.Getenv("GOGC") == "" {
		// A shard's garbage is per request (decoded bodies, answers) and its
		// memory is not what a storm measures: collect half as often.
		debug.SetGCPercent(shardGCPercent)
	}
	fs := pflag.NewFlagSet("target-shard", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg ShardConfig
	fs.IntVar(&cfg.ID, "id", 0, "shard number, 0-based")
	fs.StringVar(&cfg.Region, "region", "us-east", "region this shard serves")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:0", "host:port to serve on (port 0 picks a free port)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "this shard's data directory (required; created if missing)")
	fs.Float64Var(&cfg.OrderRate, "order-rate", DefaultOrderRate, "orders created from the queue per second")
	fs.DurationVar(&cfg.ExtraRTT, "extra-rtt", 0, "delay added to every answer (topology central)")
	fs.IntVar(&cfg.MaxConns, "max-conns", DefaultMaxConns, "cap on open client connections")
	fs.Int64Var(&cfg.StockPerSKU, "stock", DefaultStockPerSKU, "initial stock of every SKU")
	fs.StringVar(&cfg.Server, "server", os.Getenv(ServerEnv), `how to serve HTTP: "loop" (event loops; the default on Linux) or "goroutines" (a goroutine per connection)`)
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops of --server loop (0: one per CPU the process may use)")
	// Hidden, for the broken-durability test only; the environment variable lets a test
	// reach shards started by a supervisor.
	fs.BoolVar(&cfg.UnsafeAckBeforeWrite, "unsafe-ack-before-write", os.Getenv(UnsafeAckEnv) == "1", "answer checkouts before the order is written (broken on purpose, for tests)")
	_ = fs.MarkHidden("unsafe-ack-before-write")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "target-shard: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if cfg.DataDir == "" {
		fmt.Fprintln(stderr, "target-shard: --data-dir is required")
		return 2
	}
	cfg.ControlToken = os.Getenv(ControlTokenEnv)
	logger := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s shard %d: %s\n", time.Now().UTC().Format(time.RFC3339), cfg.ID, fmt.Sprintf(format, a...))
	}
	cfg.Logf = logger
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := StartShard(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "target-shard: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "LISTENING %s\n", s.Addr()); err != nil {
		fmt.Fprintf(stderr, "target-shard: write LISTENING line: %v\n", err)
		_ = s.Close()
		return 1
	}
	<-ctx.Done()
	if err := s.Close(); err != nil {
		fmt.Fprintf(stderr, "target-shard: %v\n", err)
		return 1
	}
	return 0
}
