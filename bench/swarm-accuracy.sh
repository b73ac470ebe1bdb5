#!/usr/bin/env bash
# swarm-accuracy.sh: accuracy against a known latency. bench/barefast answers
# every request after a fixed 20 ms; agentstorm run drives it at 2,000
# sessions/s (open model, one request per session) for SECS seconds, ROUNDS
# times. The reported p50 should be within 0.5 ms of 20 ms and p99 within 2 ms.
# A busy machine delays even barefast's precise wait, so each round also runs
# wrk --latency with 40 connections (40 / 20 ms = 2,000 req/s) against the
# same server, as an independent measurement of what the server really does.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
PORT=${PORT:-18090}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt wrk wrk
build_agentstorm
start_bg "$BENCH_BIN/barefast" -listen 127.0.0.1:$PORT -delay 20ms > /dev/null
wait_port 127.0.0.1:$PORT
cat > "$TMP/accuracy.yaml" <<YAML
name: accuracy
target: http://127.0.0.1:$PORT
workload:
  model: open
  stages: "0->2000 in 0s, hold ${SECS}s"
  max_agents: 2000
flows:
  - name: one
    steps:
      - {name: ping, method: GET, path: /ping}
YAML
for r in $(seq 1 "$ROUNDS"); do
  "$AGENTSTORM" run --profile "$TMP/accuracy.yaml" | awk '/^All$/ {getline; getline; print "round '"$r"' agentstorm: " $0; exit}'
  wrk -t2 -c40 -d${SECS}s --latency http://127.0.0.1:$PORT/ping | awk '/Latency Distribution/ {f=1; next} f && /%/ {printf "%s %s  ", $1, $2} /Requests\/sec/ {print "req/s " $2}' | sed "s/^/round $r wrk:        /"
done
echo "(columns: count req/s err p50 p90 p99 p99.9 max <=100ms)"
