#!/usr/bin/env bash
# target-wrk.sh: wrk -t2 -c256 POST add-to-cart against one target shard process versus a
# bare fasthttp server answering a fixed 200 (bench/barefast), same Lua script, alternating,
# ROUNDS rounds of SECS seconds. The script spreads requests over 256 carts (as 256 agents
# would each have their own). Prints each round, then medians, the ratio and p99s.
# Needs wrk (apt-get install -y wrk) and curl.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
BARE_PORT=${BARE_PORT:-18090}
SHARD_PORT=${SHARD_PORT:-18091}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
go build -o "$tmp/barefast" ./bench/barefast
go build -o "$tmp/shardbin" ./bench/target-shard
"$tmp/barefast" -listen 127.0.0.1:$BARE_PORT > "$tmp/bf.out" &
bf=$!
"$tmp/shardbin" --listen 127.0.0.1:$SHARD_PORT --data-dir "$tmp/data" --stock 1000000000000 > "$tmp/shard.out" 2> "$tmp/shard.err" &
sh=$!
trap 'kill $bf $sh 2>/dev/null; wait $bf $sh 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  grep -q LISTENING "$tmp/shard.out" && grep -q LISTENING "$tmp/bf.out" && break
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
} > "$tmp/add.lua"
# Sanity: the shard answers the script's request with 200.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"sku":"sku-1","qty":1}' http://127.0.0.1:$SHARD_PORT/v1/carts/${carts[0]}/items)
[ "$code" = 200 ] || { echo "add-to-cart answered $code"; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'; }
run() {
  out=$(wrk -t2 -c256 -d${SECS}s --latency -s "$tmp/add.lua" "http://127.0.0.1:$1")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}' | ms)
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  echo "$rps $p99 ${non2xx:-0}"
}
: > "$tmp/bare"; : > "$tmp/shard"
for r in $(seq 1 "$ROUNDS"); do
  read -r b bp bn <<< "$(run $BARE_PORT)"
  read -r s sp sn <<< "$(run $SHARD_PORT)"
  echo "round $r: bare $b req/s (p99 ${bp} ms), shard add-to-cart $s req/s (p99 ${sp} ms, non-2xx $sn)"
  echo "$b $bp" >> "$tmp/bare"; echo "$s $sp" >> "$tmp/shard"
done
mb=$(awk '{print $1}' "$tmp/bare" | median); ms_=$(awk '{print $1}' "$tmp/shard" | median)
pb=$(awk '{print $2}' "$tmp/bare" | median); ps=$(awk '{print $2}' "$tmp/shard" | median)
echo "median: bare $mb req/s (p99 $pb ms), add-to-cart $ms_ req/s (p99 $ps ms), ratio $(awk -v s="$ms_" -v b="$mb" 'BEGIN {printf "%.2f", s/b}')"
