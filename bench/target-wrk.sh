#!/usr/bin/env bash
# target-wrk.sh: wrk -t2 -c256 POST add-to-cart against one target shard process versus a
# bare fasthttp server answering a fixed 200 (bench/barefast), same Lua script, alternating,
# ROUNDS rounds of SECS seconds. The script spreads requests over 256 carts (as 256 agents
# would each have their own). Prints each round, then medians, the ratio and p99s.
# Installs wrk and curl if missing.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
BARE_PORT=${BARE_PORT:-18090}
SHARD_PORT=${SHARD_PORT:-18091}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt wrk wrk
ensure_apt curl curl
go build -o "$TMP/barefast" ./bench/barefast
go build -o "$TMP/shardbin" ./bench/target-shard
start_bg "$TMP/barefast" -listen 127.0.0.1:$BARE_PORT > "$TMP/bf.out"
start_bg "$TMP/shardbin" --listen 127.0.0.1:$SHARD_PORT --data-dir "$TMP/data" --stock 1000000000000 > "$TMP/shard.out" 2> "$TMP/shard.err"
for _ in $(seq 1 100); do
  grep -q LISTENING "$TMP/shard.out" && grep -q LISTENING "$TMP/bf.out" && break
  sleep 0.1
done
carts=()
for i in $(seq 1 256); do
  carts+=("$(curl -s -X POST -d '{"customer_id":"wrk-'"$i"'","region":"us-east"}' http://127.0.0.1:$SHARD_PORT/v1/carts | sed 's/.*"cart_id":"\([^"]*\)".*/\1/')")
done
{
  echo 'local paths = {'
  for c in "${carts[@]}"; do echo "  \"/v1/carts/$c/items\","; done
  echo '}'
  cat <<'LUA'
local i = 0
wrk.method = "POST"
wrk.body   = '{"sku":"sku-1","qty":1}'
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #paths + 1
  return wrk.format(nil, paths[i])
end
LUA
} > "$TMP/add.lua"
# Sanity: the shard answers the script's request with 200.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"sku":"sku-1","qty":1}' http://127.0.0.1:$SHARD_PORT/v1/carts/${carts[0]}/items)
[ "$code" = 200 ] || { echo "add-to-cart answered $code"; exit 1; }
run() {
  out=$(wrk -t2 -c256 -d${SECS}s --latency -s "$TMP/add.lua" "http://127.0.0.1:$1")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(to_ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  echo "$rps $p99 ${non2xx:-0}"
}
: > "$TMP/bare"; : > "$TMP/shard"
for r in $(seq 1 "$ROUNDS"); do
  read -r b bp bn <<< "$(run $BARE_PORT)"
  read -r s sp sn <<< "$(run $SHARD_PORT)"
  echo "round $r: bare $b req/s (p99 ${bp} ms), shard add-to-cart $s req/s (p99 ${sp} ms, non-2xx $sn)"
  echo "$b $bp" >> "$TMP/bare"; echo "$s $sp" >> "$TMP/shard"
done
mb=$(awk '{print $1}' "$TMP/bare" | median); mshard=$(awk '{print $1}' "$TMP/shard" | median)
pb=$(awk '{print $2}' "$TMP/bare" | median); ps=$(awk '{print $2}' "$TMP/shard" | median)
echo "median: bare $mb req/s (p99 $pb ms), add-to-cart $mshard req/s (p99 $ps ms), ratio $(awk -v s="$mshard" -v b="$mb" 'BEGIN {printf "%.2f", s/b}')"
