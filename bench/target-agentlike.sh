#!/usr/bin/env bash
# target-agentlike.sh: the bundled checkout's cost at agent-like load (issue 13, bar 2),
# builds or shard servers side by side in one run.
#
# Each variant runs `agentstorm run --agents AGENTS --duration SECS --ramp RAMP` (the
# default profile agent-storm: exp(2s) think, write-heavy mix, bundled target, its shard
# count planned for AGENTS), the variants alternating, ROUNDS rounds, order rotating.
# VARIANTS is a list of NAME[:SERVER]: "old" is REV_OLD (default main) built from a clone
# of this repository, "new" this checkout, any other NAME the agentstorm binary in $BIN_NAME;
# ":SERVER" runs the shards with AGENTSTORM_SHARD_SERVER=SERVER (loop or goroutines).
#
# Per run, over the hold (10 s after the start to 3 s before the end): the shard processes'
# CPU (cores, and µs per request answered), the generator's (the run process and its
# workers), req/s; and the whole run's failed dials, ramp and add_to_cart corrected p99.
# Medians per variant and the ratio of the first variant's µs/request to each other's.
#
#   bash bench/target-agentlike.sh                              # 50,000 agents, old vs new
#   AGENTS=20000 VARIANTS="new:goroutines new:loop" bash bench/target-agentlike.sh
set -euo pipefail
AGENTS=${AGENTS:-50000}
SECS=${SECS:-40}
RAMP=${RAMP:-6s}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-old new}
EXTRA=${EXTRA:-} # more flags of agentstorm run, such as "--think 30s" for a connect storm alone
REV_OLD=${REV_OLD:-main}
source "$(dirname "$0")/lib.sh"
bench_init
build_agentstorm
case " $VARIANTS" in *" old"*)
  build_at "$REV_OLD" ./cmd/agentstorm "$TMP/old/agentstorm"
  old_rev=$BUILT_REV
  ;;
esac

: > "$TMP/rows"
i=0
for r in $(seq 1 "$ROUNDS"); do
  n=$(wc -w <<< "$VARIANTS")
  for k in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086 # VARIANTS is a list of words
    v=$(rotated "$k" "$r" $VARIANTS)
    name=${v%%:*}
    server=""
    [ "$v" != "$name" ] && server=${v#*:}
    case $name in
      new) bin=$AGENTSTORM ;;
      old) bin=$TMP/old/agentstorm ;;
      *) bin_var=BIN_$name && bin=${!bin_var} ;;
    esac
    i=$((i + 1))
    dir=$TMP/run$i
    mkdir -p "$dir"
    load0=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086 # EXTRA is a list of flags
    run_sampled "$dir" env AGENTSTORM_SHARD_SERVER="$server" "$bin" run --agents "$AGENTS" --duration "${SECS}s" --ramp "$RAMP" $EXTRA --out "json=$dir/run.json"
    python3 - "$dir" "$v" "$r" "$RUN_CODE" "$CLK_TCK" "$SECS" "$load0" << 'PY' | tee -a "$TMP/rows"
import datetime, json, re, sys
d, v, rnd, code, hz, secs, load0 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
out = open(d + "/out.txt").read()
m = re.search(r"Connections: ([\d,]+) dials, ([\d,]+) failed", out)
failed = m.group(2).replace(",", "") if m else "?"
m = re.search(r"all [\d,]+ agents of the peak connected ([\d.]+)s", out)
ramp = m.group(1) if m else "-"
j = json.load(open(d + "/run.json"))
start = datetime.datetime.fromisoformat(j["start"].replace("Z", "+00:00")).timestamp()
t0, t1 = 10, secs - 3
reqs = sum(s["requests"] for s in j["series"] if t0 <= s["at_seconds"] < t1)
rows = [tuple(map(float, l.split())) for l in open(d + "/cpu") if l.strip()]
at = lambda t: min(rows, key=lambda x: abs(x[0] - t))
a, b = at(start + t0), at(start + t1)
span = b[0] - a[0]
rps = reqs / (t1 - t0)
nan = float("nan")
tgt = (b[2] - a[2]) / hz / span if span > 0 else nan
gen = (b[1] - a[1]) / hz / span if span > 0 else nan
p99 = next(((s.get("corrected_latency") or s.get("latency") or {}).get("p99_ms", float("nan")) for s in j["steps"] if s["step"] == "add_to_cart"), float("nan"))
print("%s %s %.0f %.3f %.1f %.3f %s %s %.0f %s %s" % (v, rnd, rps, tgt, tgt * 1e6 / rps if rps else float("nan"), gen, failed, ramp, p99, code, load0))
PY
  done
done

{
  echo "## The bundled checkout at agent-like load (\`bench/target-agentlike.sh\`)"
  echo
  echo "$(nproc) cores, $(uname -sr), $(go version | awk '{print $3}'); $(date -u '+%Y-%m-%d %H:%M UTC');"
  echo "\`agentstorm run --agents $AGENTS --duration ${SECS}s --ramp $RAMP${EXTRA:+ $EXTRA}\` (default profile), variants alternating, $ROUNDS rounds;"
  echo "new = $(agentstorm_version)${old_rev:+, old = $old_rev ($REV_OLD)}. Hold = 10 s after the start to 3 s before the end."
  echo
  echo "| variant | round | req/s held | target cores | target µs/request | generator cores | failed dials | all connected after (s) | add_to_cart corrected p99 (ms) | exit | load avg before |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  awk '{printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11}' "$TMP/rows"
  echo
  echo "| variant | median req/s | median target cores | median target µs/request | median failed dials | µs/request ratio (first variant / this) |"
  echo "|---|---|---|---|---|---|"
  first=""
  for v in $VARIANTS; do
    us=$(awk -v v="$v" '$1 == v {print $5}' "$TMP/rows" | median)
    [ -z "$first" ] && first=$us
    echo "| $v | $(awk -v v="$v" '$1 == v {print $3}' "$TMP/rows" | median) | $(awk -v v="$v" '$1 == v {print $4}' "$TMP/rows" | median) | $us | $(awk -v v="$v" '$1 == v {print $7}' "$TMP/rows" | median) | $(ratio "$first" "$us") |"
  done
} > "$TMP/section.md"
publish_section target-agentlike "$TMP/section.md"
