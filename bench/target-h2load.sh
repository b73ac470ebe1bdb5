#!/usr/bin/env bash
# target-h2load.sh: one shard's CPU per request at agent-like load, without our generator:
# h2load (C, libev; Debian nghttp2-client) holds CONNS keep-alive connections to one shard
# process (bench/target-shard), each sending an add-to-cart POST RPS times a second
# (default 15,000 x 0.5 = 7,500 req/s), into one cart. The shard's servers or builds
# alternate, ROUNDS rounds, order rotating: VARIANTS lists NAME[:SERVER] as in
# bench/target-agentlike.sh ("old" = REV_OLD built from a clone, "new" = this checkout).
#
# Measured over HOLD seconds after WARM seconds: the shard's CPU (utime+stime) per request
# it answered (its own /metrics counter), and its RSS per connection at the end.
#
#   bash bench/target-h2load.sh
#   VARIANTS="new:goroutines new:loop" bash bench/target-h2load.sh
set -euo pipefail
CONNS=${CONNS:-15000}
RPS=${RPS:-0.5}
WARM=${WARM:-8}
HOLD=${HOLD:-15}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-old new}
REV_OLD=${REV_OLD:-main}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt h2load nghttp2-client
ensure_apt curl curl
mkdir -p "$TMP/new"
go build -o "$TMP/new/shard" ./bench/target-shard
case " $VARIANTS" in *" old"*)
  build_at "$REV_OLD" ./bench/target-shard "$TMP/old/shard"
  old_rev=$BUILT_REV
  ;;
esac
printf '{"sku":"sku-1","qty":1}' > "$TMP/body.json"

# answered ADDR: requests the shard has answered so far (its Prometheus counter).
answered() { curl -s "http://$1/metrics" | awk '/^agentstorm_target_requests_total/ {s += $2} END {printf "%.0f\n", s}'; }

: > "$TMP/rows"
for r in $(seq 1 "$ROUNDS"); do
  n=$(wc -w <<< "$VARIANTS")
  for k in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086 # VARIANTS is a list of words
    v=$(rotated "$k" "$r" $VARIANTS)
    name=${v%%:*}
    server=""
    [ "$v" != "$name" ] && server=${v#*:}
    rm -rf "$TMP/data"
    AGENTSTORM_SHARD_SERVER=$server "$TMP/$name/shard" --data-dir "$TMP/data" --listen 127.0.0.1:0 --max-conns $((CONNS + 100)) > "$TMP/listen" 2> "$TMP/shard.log" &
    spid=$!
    PIDS+=("$spid")
    for _ in $(seq 1 50); do grep -q LISTENING "$TMP/listen" && break; sleep 0.1; done
    addr=$(awk '/LISTENING/ {print $2}' "$TMP/listen")
    cart=$(curl -s -X POST -d '{"customer_id":"c1","region":"us-east"}' "http://$addr/v1/carts" | sed 's/.*"cart_id":"\([^"]*\)".*/\1/')
    h2load --h1 -c "$CONNS" -t 1 --rps "$RPS" -D "$((WARM + HOLD + 2))" -m 1 -d "$TMP/body.json" \
      -H 'content-type: application/json' "http://$addr/v1/carts/$cart/items" > "$TMP/h2load.out" 2>&1 &
    hpid=$!
    sleep "$WARM"
    c0=$(cpu_ticks "$spid")
    a0=$(answered "$addr")
    t0=$(now_s)
    sleep "$HOLD"
    c1=$(cpu_ticks "$spid")
    a1=$(answered "$addr")
    t1=$(now_s)
    rss=$(rss_kb "$spid")
    wait "$hpid" || true
    kill "$spid" && wait "$spid" || true
    LC_ALL=C awk -v v="$v" -v r="$r" -v c="$((c1 - c0))" -v hz="$CLK_TCK" -v a="$((a1 - a0))" -v dt="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" -v rss="$rss" -v n="$CONNS" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
      'BEGIN {printf "%s %s %.0f %.3f %.1f %.2f %s\n", v, r, a / dt, c / hz / dt, c / hz * 1e6 / a, rss / n, load}' | tee -a "$TMP/rows"
  done
done

{
  echo "## One shard at agent-like load, driven by h2load (\`bench/target-h2load.sh\`)"
  echo
  echo "$(nproc) cores, $(uname -sr), $(go version | awk '{print $3}'), h2load $(deb_version nghttp2-client); $(date -u '+%Y-%m-%d %H:%M UTC');"
  echo "$CONNS connections x $RPS POST add-to-cart per second to one bench/target-shard process; variants alternating, $ROUNDS rounds;"
  echo "new = $(agentstorm_version)${old_rev:+, old = $old_rev ($REV_OLD)}. Window: $HOLD s after $WARM s."
  echo
  echo "| variant | round | req/s answered | shard cores | shard µs/request | shard RSS KiB/connection | load avg |"
  echo "|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$TMP/rows"
  echo
  echo "| variant | median µs/request | median KiB/connection | µs/request ratio (first variant / this) |"
  echo "|---|---|---|---|"
  first=""
  for v in $VARIANTS; do
    us=$(awk -v v="$v" '$1 == v {print $5}' "$TMP/rows" | median)
    [ -z "$first" ] && first=$us
    echo "| $v | $us | $(awk -v v="$v" '$1 == v {print $6}' "$TMP/rows" | median) | $(ratio "$first" "$us") |"
  done
} > "$TMP/section.md"
publish_section target-h2load "$TMP/section.md"
