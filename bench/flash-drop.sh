#!/usr/bin/env bash
# flash-drop.sh: the built-in flash drop at full scale against the bundled
# target, as a user runs it:
#   agentstorm run --profile flash-drop
# (open model, levels: in_flight: 0 -> 50,000 sessions in flight in 6 s,
# hold 4 s, -> 2,000 in 10 s, hold 20 s, -> 0 in 5 s; think 1 s..3 s).
#
# While it runs, every 0.5 s: the shards' own order queue depth and open
# connections (their /metrics, summed over shards; max, and when for the
# queue). From the run's JSON: sessions
# dropped (of those due), sessions in flight per second (6 s after the start
# and the peak), latency per step from the intended start, errors. After it:
# the share of orders holding pre-ordered units, read from the order stores
# the run kept (--keep-data; removed afterwards). Prints a markdown section.
# RUNS (default 1) repeats the run; COMPARE=1 runs the default (closed)
# storm at 50,000 agents after each, for what the machine ramps then.
set -euo pipefail
RUNS=${RUNS:-1}
ARGS=${ARGS:-}    # extra flags for a trial, e.g. ARGS="--agents 300 --duration 4s --ramp 1s" PEAK=300
PEAK=${PEAK:-50000}
source "$(dirname "$0")/lib.sh" # bench_init, start_bg (stopped by PID at exit)
bench_init
tmp=$TMP
go build -o "$tmp/agentstorm" ./cmd/agentstorm
go build -o "$tmp/orderstats" ./bench/orderstats

# shard_gauges URL...: the order queue depth and the open client
# connections, each summed over the shards ("Q C").
shard_gauges() {
  local u q=0 c=0 m
  for u in "$@"; do
    m=$(curl -s -m 0.4 "$u/metrics" || true)
    q=$(awk -v s="$q" '/^agentstorm_target_order_queue_depth/ {s += $2} END {printf "%d", s}' <<< "$m")
    c=$(awk -v s="$c" '/^agentstorm_target_open_connections/ {s += $2} END {printf "%d", s}' <<< "$m")
  done
  echo "$q $c"
}

echo "| run | load before → after | exit | due | dropped | in flight at 6 s / peak (99% of the level at) | req/s | p50 / p99 all | p99 add_to_cart | p99 checkout | errors | timeouts | shards' max open conns | max queue depth (at) | queued at stop | orders | pre-order share |" > "$tmp/rows"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" >> "$tmp/rows"
for i in $(seq 1 "$RUNS"); do
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  # shellcheck disable=SC2086
  start_bg "$tmp/agentstorm" run --profile flash-drop --keep-data --out "json=$tmp/$i.json" $ARGS > "$tmp/$i.out" 2> "$tmp/$i.err"
  cpid=$BGPID
  t0=$(date +%s.%N)
  urls=() maxq=0 maxat=0 maxc=0
  while kill -0 "$cpid" 2> /dev/null; do
    if [ ${#urls[@]} -eq 0 ]; then
      mapfile -t urls < <(grep -m1 '^Target:' "$tmp/$i.out" 2> /dev/null | grep -o 'http://127\.0\.0\.1:[0-9]*' || true)
    fi
    if [ ${#urls[@]} -gt 0 ]; then
      read -r q c < <(shard_gauges "${urls[@]}")
      [ "$c" -gt "$maxc" ] && maxc=$c
      if [ "$q" -gt "$maxq" ]; then
        maxq=$q
        maxat=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.0f", b - a}')
      fi
    fi
    sleep 0.5
  done
  wait "$cpid" && rc=0 || rc=$?
  data=$(grep -o 'data in [^;)]*' "$tmp/$i.out" | head -1 | sed 's/^data in //; s/[. ]*$//' || true)
  orders='{}'
  if [ -n "$data" ] && [ -d "$data" ]; then
    orders=$("$tmp/orderstats" "$data" || echo '{}')
    case "$data" in /tmp/agentstorm-target-*) rm -rf "$data" ;; esac
  fi
  shardlog=$(grep -o 'shard logs: [^)]*' "$tmp/$i.out" | head -1 | sed 's/^shard logs: //' || true)
  case "$shardlog" in /tmp/agentstorm-target-*.log) rm -f "$shardlog" ;; esac
  python3 - "$tmp/$i.json" "$i" "$load0 → $(cut -d' ' -f1-3 /proc/loadavg)" "$rc" "$maxq" "$maxat" "$orders" "$maxc" "$PEAK" >> "$tmp/rows" << 'PY'
import json, sys
path, run, load, rc, maxq, maxat, orders, maxc, level = sys.argv[1:]
j = json.load(open(path))
o = json.loads(orders)
steps = {s["name"]: s for s in j["steps"]}
started = steps["open_cart"]["requests"]
due = started + j["dropped"]
at6 = next((p["active_agents"] for p in j["series"] if p["at_seconds"] >= 6), 0)
peak = max((p["active_agents"] for p in j["series"]), default=0)
reach = next(("%.0f s" % p["at_seconds"] for p in j["series"] if p["active_agents"] >= 0.99 * int(level)), "never")
ov = j["overall"]
tmo = ov["errors_by_class"].get("timeout", 0)
def p99(name):
    return "%.0f ms" % steps[name]["latency"]["p99_ms"]
print("| %s | %s | %s | %s | %s (%.2f%%) | %s / %s (%s) | %.0f | %.0f / %.0f ms | %s | %s | %s (%.1f%%) | %s | %s | %s (%s s) | %s | %s | %s |" % (
    run, load, rc, f"{due:,}", f"{j['dropped']:,}", 100 * j["dropped"] / max(due, 1), f"{at6:,}", f"{peak:,}", reach,
    ov["rps"], ov["latency"]["p50_ms"], ov["latency"]["p99_ms"], p99("add_to_cart"), p99("checkout"),
    f"{ov['errors']:,}", ov["error_pct"], f"{tmo:,}", f"{int(maxc):,}", f"{int(maxq):,}", maxat, f"{o.get('queued_at_stop', 0):,}",
    f"{o.get('orders', 0):,}", "%.1f%%" % o.get("preorder_share_pct", 0)))
PY
  echo "--- run $i: text summary ---"
  sed -n '/^agentstorm summary/,$p' "$tmp/$i.out"
  if [ "${COMPARE:-0}" = 1 ]; then
    # What the machine ramps at this moment: the default (closed) storm's
    # 50,000 agents in 6 s, held 14 s.
    "$tmp/agentstorm" run --agents 50000 --duration 20s > "$tmp/c$i.out" 2>&1 || true
    echo "closed default storm after run $i: $(grep -E '^(agentstorm summary|Ramp|Connections):' "$tmp/c$i.out" | tr '\n' ' ')" >> "$tmp/closed"
  fi
done
echo
cat "$tmp/rows"
[ -f "$tmp/closed" ] && { echo; cat "$tmp/closed"; }
true
