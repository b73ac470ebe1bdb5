#!/usr/bin/env bash
# swarm-vs-wrk.sh: closed model, 256 connections, no think time, POST against a
# bare fasthttp server (bench/barefast, its own process): the agentstorm swarm
# (agents.BenchmarkSwarmClosedLoop: the real Swarm, recorder and all) and
# wrk -t2 -c256, alternating, ROUNDS rounds of SECS seconds each.
# Prints each round and the medians and ratio. Installs wrk if missing.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
PORT=${PORT:-18080}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt wrk wrk
go build -o "$TMP/barefast" ./bench/barefast
go test -c -o "$TMP/agents.test" ./agents
start_bg "$TMP/barefast" -listen 127.0.0.1:$PORT > "$TMP/bf.out"
wait_port 127.0.0.1:$PORT
cat > "$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"sku":"sku-1","qty":1}'
wrk.headers["Content-Type"] = "application/json"
LUA
: > "$TMP/wrk"; : > "$TMP/swarm"; : > "$TMP/cpu"; : > "$TMP/wcpu"; : > "$TMP/ratio"
for r in $(seq 1 "$ROUNDS"); do
  wout=$(/usr/bin/time -f "CPU %U %S" wrk -t2 -c256 -d${SECS}s -s "$TMP/post.lua" http://127.0.0.1:$PORT/cart/items 2>&1)
  w=$(echo "$wout" | awk '/Requests\/sec/ {print $2}')
  wc=$(echo "$wout" | awk -v w="$w" -v s="$SECS" '/^CPU/ {printf "%.3f", ($2+$3)*1e6/(w*s)}')
  out=$(AGENTSTORM_BENCH_TARGET=http://127.0.0.1:$PORT AGENTSTORM_BENCH_SECONDS=$SECS \
        "$TMP/agents.test" -test.run xxx -test.bench 'SwarmClosedLoop$' -test.benchtime 1x | grep Benchmark)
  s=$(echo "$out" | awk '{for (i=1;i<=NF;i++) if ($i=="req/s") print $(i-1)}')
  c=$(echo "$out" | awk '{for (i=1;i<=NF;i++) if ($i=="cpu-us/req") print $(i-1)}')
  ratio=$(awk -v s="$s" -v w="$w" 'BEGIN {printf "%.3f", s/w}')
  echo "round $r: wrk $w req/s ($wc µs CPU/request), swarm $s req/s ($c µs CPU/request), ratio $ratio"
  echo "$w" >> "$TMP/wrk"; echo "$s" >> "$TMP/swarm"; echo "$c" >> "$TMP/cpu"; echo "$wc" >> "$TMP/wcpu"; echo "$ratio" >> "$TMP/ratio"
done
mw=$(median < "$TMP/wrk"); ms=$(median < "$TMP/swarm"); mc=$(median < "$TMP/cpu"); mwc=$(median < "$TMP/wcpu"); mr=$(median < "$TMP/ratio")
echo "median: wrk $mw req/s ($mwc µs CPU/request), swarm $ms req/s ($mc µs CPU/request); median of per-round ratios $mr, ratio of medians $(awk -v s="$ms" -v w="$mw" 'BEGIN {printf "%.2f", s/w}')"
