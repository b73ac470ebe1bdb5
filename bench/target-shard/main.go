// Command target-shard runs one shard of the bundled reference checkout (target.RunShardMain)
// on its own, for benchmarks that need a shard process without the supervisor:
//
//	go run ./bench/target-shard --data-dir /tmp/shard0 --listen 127.0.0.1:18081
//
// It prints "LISTENING host:port" once serving and stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"os"

	"github.com/agentstorm/agentstorm/target"
)

func main() {
	os.Exit(target.RunShardMain(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
