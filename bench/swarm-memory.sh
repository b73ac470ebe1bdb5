#!/usr/bin/env bash
# swarm-memory.sh: memory per agent and ramp speed of the swarm in one process.
# Starts the bundled target (SHARDS shard processes, each well under its own
# open-file limit), then agents.BenchmarkMemoryPerAgent: AGENTS closed-model
# agents started at once (0 -> AGENTS in 0 s) with 2 s think time, spread over
# 127.0.0.2... source addresses. Reports the time until all are connected and
# the RSS growth per agent while they think. ROUNDS rounds; stops the target.
set -euo pipefail
AGENTS=${AGENTS:-15000}
SHARDS=${SHARDS:-2}
ROUNDS=${ROUNDS:-3}
source "$(dirname "$0")/lib.sh"
bench_init
go build -o "$TMP/agentstorm" ./cmd/agentstorm
go test -c -o "$TMP/agents.test" ./agents
start_bg "$TMP/agentstorm" target --shards "$SHARDS" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
  --data-dir "$TMP/data" --info-file "$TMP/info.json" > "$TMP/target.out" 2>&1
for _ in $(seq 1 100); do [ -s "$TMP/info.json" ] && break; sleep 0.1; done
urls=$(python3 -c 'import json,sys; print(",".join(s["url"] for s in json.load(open(sys.argv[1]))["shards"]))' "$TMP/info.json")
echo "target shards: $urls"
for r in $(seq 1 "$ROUNDS"); do
  AGENTSTORM_BENCH_TARGETS=$urls AGENTSTORM_BENCH_AGENTS=$AGENTS AGENTSTORM_BENCH_HEAPPROFILE=${HEAPPROFILE:-} AGENTSTORM_BENCH_FREEOS=${FREEOS:-} \
    "$TMP/agents.test" -test.run xxx -test.bench 'MemoryPerAgent$' -test.benchtime 1x -test.v | grep -E "Benchmark|agents:|per agent"
done
