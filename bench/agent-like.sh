#!/usr/bin/env bash
# agent-like.sh: the generator's cost at agent-like load (issue 13, bar 1),
# side by side with h2load (C, libev) in the same run.
#
# Load: AGENTS connections, each sending one small JSON POST every 2 s on
# average (agentstorm: closed model, think exp(2s); h2load: --h1 --rps 0.5,
# connections made over 2 s like the agents' ramp),
# against bare fasthttp servers (bench/barefast, one per SERVERS, each its
# own process). AGENTS up to 15,000 run in one agentstorm process
# (--workers 1) and one h2load process; more (e.g. AGENTS=50000 SERVERS=3)
# run agentstorm's automatic worker processes and one h2load process per
# server (a process may open at most 20,000 sockets), connections spread
# evenly. The tools alternate, ROUNDS rounds, order rotating.
#
# Measured over HOLD seconds of the hold (after a 2 s ramp and SETTLE s):
# requests served (the servers' own /__count), CPU (utime+stime from /proc)
# of every generator process summed, per request; RSS of every generator
# process summed, per connection, at the end of the window, and PSS the
# same way (RSS counts the pages of a binary shared by several processes
# once per process; PSS divides them among the processes sharing them).
#
#   bash bench/agent-like.sh                      # 15,000 agents, 3 rounds
#   AGENTS=50000 SERVERS=3 bash bench/agent-like.sh
set -euo pipefail
AGENTS=${AGENTS:-15000}
SERVERS=${SERVERS:-1}
ROUNDS=${ROUNDS:-3}
HOLD=${HOLD:-10}
SETTLE=${SETTLE:-6}
PORT=${PORT:-18230}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt h2load nghttp2-client
ensure_apt curl curl
build_agentstorm

ports=()
for i in $(seq 0 $((SERVERS - 1))); do
  p=$((PORT + i))
  ports+=("$p")
  start_bg "$BENCH_BIN/barefast" -listen "127.0.0.1:$p" > /dev/null
  wait_port "127.0.0.1:$p"
done

# The profile: one region per server, agents spread over them evenly.
secs=$((2 + SETTLE + HOLD + 4))
{
  echo "name: agent-like"
  echo "target:"
  for p in "${ports[@]}"; do echo "  s$p: http://127.0.0.1:$p"; done
  echo "workload:"
  echo "  model: closed"
  echo "  stages: \"0->$AGENTS in 2s, hold $((secs - 2))s\""
  echo "  think: exp(2s)"
  echo "population:"
  echo -n "  regions: {"
  sep=""
  for p in "${ports[@]}"; do echo -n "${sep}s$p: 1"; sep=", "; done
  echo "}"
  echo "flows:"
  echo "  - name: post"
  echo "    steps:"
  echo "      - {name: post, method: POST, path: /cart/items, body: {sku: sku-1, qty: 1}}"
} > "$TMP/agent-like.yaml"
printf '{"sku":"sku-1","qty":1}' > "$TMP/body.json"

served() {
  local s=0 p
  for p in "${ports[@]}"; do s=$((s + $(curl -s "http://127.0.0.1:$p/__count"))); done
  echo "$s"
}

# measure LABEL PID...: CPU and RSS of the given processes and their
# descendants over the window; appends "label us_per_req kib_per_conn req_s".
measure() {
  local label=$1
  shift
  sleep $((2 + SETTLE))
  local pids dt=0 rss=0 pss=0 c0 c1 p
  declare -A t0=()
  pids=$(for p in "$@"; do tree_pids "$p"; done)
  for p in $pids; do t0[$p]=$(cpu_ticks "$p"); done
  c0=$(served)
  sleep "$HOLD"
  pids=$(for p in "$@"; do tree_pids "$p"; done)
  for p in $pids; do # a process started in the window counts from 0
    dt=$((dt + $(cpu_ticks "$p") - ${t0[$p]:-0}))
    rss=$((rss + $(rss_kb "$p")))
    pss=$((pss + $(pss_kb "$p")))
  done
  c1=$(served)
  LC_ALL=C awk -v l="$label" -v t="$dt" -v hz="$CLK_TCK" -v n="$((c1 - c0))" -v r="$rss" -v ps="$pss" -v a="$AGENTS" -v h="$HOLD" \
    'BEGIN {printf "%s %.1f %.2f %.0f %.2f\n", l, t / hz * 1e6 / n, r / a, n / h, ps / a}' | tee -a "$TMP/rows"
}

run_agentstorm() {
  local wflag=()
  [ "$AGENTS" -le 15000 ] && wflag=(--workers 1)
  "$AGENTSTORM" run --profile "$TMP/agent-like.yaml" "${wflag[@]}" > "$TMP/as.out" 2>&1 &
  local pid=$!
  measure agentstorm "$pid"
  wait "$pid" || true # exit 99 when a default budget is missed does not matter here
}

# h2load's connections are made over 2 s, like the agents' ramp (h2load_spread).
run_h2load() {
  local pids=() per=$((AGENTS / SERVERS)) p spread
  read -r -a spread <<< "$(h2load_spread "$per" 0.5 "$secs")"
  for p in "${ports[@]}"; do
    h2load --h1 -c "$per" -t 1 --rps 0.5 "${spread[@]}" -d "$TMP/body.json" -H 'Content-Type: application/json' \
      "http://127.0.0.1:$p/cart/items" > "$TMP/h2-$p.out" 2>&1 &
    pids+=($!)
  done
  measure h2load "${pids[@]}"
  for p in "${pids[@]}"; do wait "$p" || true; done
}

: > "$TMP/rows"
echo "agent-like load: $AGENTS connections, 0.5 req/s each, $SERVERS barefast server(s); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tool µs-CPU/request KiB-RSS/connection req/s KiB-PSS/connection"
for r in $(seq 1 "$ROUNDS"); do
  for k in 0 1; do
    case $(rotated "$k" "$r" agentstorm h2load) in
      agentstorm) run_agentstorm ;;
      h2load) run_h2load ;;
    esac
  done
done
med() { awk -v t="$1" -v c="$2" '$1 == t {print $c}' "$TMP/rows" | median; }
a=$(med agentstorm 2); h=$(med h2load 2)
echo "median µs CPU/request: agentstorm $a, h2load $h: ratio $(ratio "$a" "$h")"
echo "median KiB RSS/connection: agentstorm $(med agentstorm 3), h2load $(med h2load 3)"
echo "median KiB PSS/connection: agentstorm $(med agentstorm 5), h2load $(med h2load 5)"
echo "median req/s: agentstorm $(med agentstorm 4), h2load $(med h2load 4)"
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
