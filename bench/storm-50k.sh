#!/usr/bin/env bash
# storm-50k.sh: the 50,000-agent storm on one machine, as the README runs it:
#   agentstorm run --agents 50000        (default profile agent-storm:
#   0 -> 50,000 agents in 6 s, hold 60 s, -> 0 in 5 s, exponential think with a 2 s mean)
# against the bundled target (shard processes started by run itself). The
# storm needs more sockets than one process may open (20,000), so run starts
# worker processes of itself and merges their streams.
#
# Two runs: WORKERS_A (default: automatic) and WORKERS_B (default 8, for the
# coordinator's CPU at 8 workers). For each, sampled once a second from /proc:
# the summed RSS of the worker processes (max over the hold), the
# coordinator's CPU (utime+stime over the run), the target's CPU; from the
# run's JSON output: req/s, add_to_cart p99, errors by class; from its text
# output: the ramp line and the dial counts. Prints a markdown section.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS_A=${WORKERS_A:-0}
WORKERS_B=${WORKERS_B:-8}
EXTRA=${EXTRA:-}
tmp=$(mktemp -d /tmp/agentstorm-storm50k.XXXXXX)
cpid=
cleanup() {
  if [ -n "$cpid" ]; then kill "$cpid" 2> /dev/null || true; wait "$cpid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
go build -o "$tmp/agentstorm" ./cmd/agentstorm
source bench/lib.sh # cpu_ticks, rss_kb, CLK_TCK

children() { ps --ppid "$1" -o pid=,args= 2> /dev/null | awk -v k="$2" '$0 ~ k {print $1}'; }

# storm WORKERS LABEL: one run; appends a markdown table row to $tmp/rows.
storm() {
  local workers=$1 label=$2 wflag=()
  [ "$workers" != 0 ] && wflag=(--workers "$workers")
  local load0
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  # shellcheck disable=SC2086
  "$tmp/agentstorm" run --agents 50000 "${wflag[@]}" --out "json=$tmp/$label.json" $EXTRA > "$tmp/$label.out" 2> "$tmp/$label.err" &
  cpid=$!
  local t0 c0 maxrss=0 shardticks=0 nworkers=0
  t0=$(date +%s.%N)
  c0=$(cpu_ticks "$cpid")
  declare -A lastticks=() workerticks=()
  while kill -0 "$cpid" 2> /dev/null; do
    local sum=0 n=0 p
    for p in $(children "$cpid" ' worker '); do
      sum=$((sum + $(rss_kb "$p")))
      n=$((n + 1))
      t=$(cpu_ticks "$p")
      [ "$t" -gt 0 ] && workerticks[$p]=$t
    done
    [ "$sum" -gt "$maxrss" ] && maxrss=$sum
    [ "$n" -gt "$nworkers" ] && nworkers=$n
    for p in $(children "$cpid" 'target-shard'); do
      lastticks[$p]=$(cpu_ticks "$p")
    done
    c1=$(cpu_ticks "$cpid")
    sleep 1
  done
  wait "$cpid" && rc=0 || rc=$?
  cpid=
  local t1 wall
  t1=$(date +%s.%N)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
  for p in "${!lastticks[@]}"; do shardticks=$((shardticks + lastticks[$p])); done
  local wticks=0
  for p in "${!workerticks[@]}"; do wticks=$((wticks + workerticks[$p])); done
  local coordcpu shardcpu
  coordcpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" -v w="$wall" 'BEGIN {printf "%.1f", (b - a) / t / w * 100}')
  shardcpu=$(awk -v a="$shardticks" -v t="$CLK_TCK" -v w="$wall" 'BEGIN {printf "%.2f", a / t / w}')
  local gencpu
  gencpu=$(awk -v a="$wticks" -v t="$CLK_TCK" 'BEGIN {printf "%.1f", a / t}')
  local ramp dials
  ramp=$(grep -m1 '^Ramp:' "$tmp/$label.out" | sed 's/^Ramp: //; s/\.$//' || true)
  dials=$(grep -m1 '^Connections:' "$tmp/$label.out" | sed 's/^Connections: //; s/\.$//' || true)
  python3 - "$tmp/$label.json" "$label" "$nworkers" "$maxrss" "$coordcpu" "$shardcpu" "$rc" "$load0 → $(cut -d' ' -f1-3 /proc/loadavg)" "$ramp" "$dials" "$gencpu" >> "$tmp/rows" << 'PY'
import json, sys
path, label, nw, rss, ccpu, scpu, rc, load, ramp, dials, gencpu = sys.argv[1:]
try:
    j = json.load(open(path))
except Exception as e:
    print(f"| {label} | run failed (exit {rc}): {e} |")
    sys.exit(0)
steps = {s["name"]: s for s in j["steps"]}
atc = steps.get("add_to_cart", {}).get("latency", {})
o = j["overall"]
conn_err = sum(v for k, v in o["errors_by_class"].items() if k in ("conn_refused", "conn_reset", "tls", "dns", "other_error"))
import re
m = re.search(r"([\d,]+) failed", dials or "")
failed_dials = int(m.group(1).replace(",", "")) if m else 0
hold = sorted(p["rps"] for p in j.get("series") or [] if 8 <= p["at_seconds"] <= 65)
hold_rps = hold[len(hold)//2] if hold else float("nan")
hold_p99 = sorted(p["p99_ms"] for p in j.get("series") or [] if 8 <= p["at_seconds"] <= 65)
hold_p99 = hold_p99[len(hold_p99)//2] if hold_p99 else float("nan")
peak = j["peak_active_agents"]
rss_kib = int(rss)
print(f"| {label} | {nw} | {ramp or '?'} | {o['rps']:,.0f} (hold median {hold_rps:,.0f}) | {o['requests']:,} | {conn_err + failed_dials} ({conn_err} requests; dials: {dials}) | "
      f"{atc.get('p99_ms', float('nan')):.1f} ms | {o['latency']['share_under_100ms']*100:.2f}% | "
      f"{rss_kib/1024:,.0f} MiB = {rss_kib/50000*1.0:.1f} KiB/agent | {float(gencpu)/j['elapsed_seconds']:.2f} cores, {float(gencpu)*1e6/max(o['requests'],1):.0f} µs/request | {ccpu}% | {scpu} cores | {rc} | {load} |")
PY
  cp "$tmp/$label.out" "/tmp/storm-50k-$label.out" 2> /dev/null || true
}

storm "$WORKERS_A" auto
storm "$WORKERS_B" "w$WORKERS_B"

echo
echo "### 50,000-agent storm on one machine (bench/storm-50k.sh, $(date -u +%Y-%m-%d), $(nproc) cores, agentstorm $(git rev-parse --short HEAD))"
echo
echo "\`agentstorm run --agents 50000\` (agent-storm: 0 → 50,000 in 6 s, hold 60 s, → 0 in 5 s, think exp(2 s)) against the bundled target"
echo "(its shard processes started by run). RSS: the worker processes' VmRSS summed, highest sample (1/s). Coordinator CPU:"
echo "its utime+stime over the whole run / wall time. Load average: before → after."
echo
echo "| run | workers | ramp | req/s (whole run; median second of the hold) | requests | connection errors (failed dials + refused/reset/other) | add_to_cart p99 | ≤ 100 ms | generator RSS | generator CPU (workers) | coordinator CPU | target CPU | exit | load avg |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$tmp/rows"
