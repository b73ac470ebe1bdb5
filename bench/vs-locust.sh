#!/usr/bin/env bash
# vs-locust.sh: agents per core against Locust (Debian python3-locust,
# FastHttpUser, one process: Locust 2.12 has no --processes, and its usual
# multi-core setup is one worker process per core). Both run the same two-step
# flow (bench/locust/two_step.py and bench/profiles/two-step.yaml: open a
# cart, add an item, 2 s think after every request) against one bare fasthttp
# server (bench/barefast), in turn, ROUNDS rounds:
#   - at USERS (3,000) users for DUR s: generator CPU per request (utime+stime
#     of the generator's process tree over the window WARM..END s, divided by
#     the requests the server counted in that window) and RSS at END s;
#   - at 10 users for 12 s: RSS, for the marginal RSS per user
#     (RSS at USERS - RSS at 10) / (USERS - 10).
# Then a bounded search: LEVELS users in turn (each tool stops at its first
# level with p99 >= 100 ms or errors), SEARCH_DUR s each. Writes
# <!-- bench:agents-per-core -->.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
USERS=${USERS:-3000}
DUR=${DUR:-30}
WARM=${WARM:-8}
END=${END:-26}
RAMP=${RAMP:-5}
LEVELS=${LEVELS:-500 1000 2000 3000 6000 10000 15000 19000}
SEARCH_DUR=${SEARCH_DUR:-20}
PORT=${PORT:-18400}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt curl curl
ensure_apt locust python3-locust
build_agentstorm
HOST=http://127.0.0.1:$PORT
machine_line > "$TMP/machine"

start_bg "$BENCH_BIN/barefast" -listen 127.0.0.1:$PORT > /dev/null
wait_port 127.0.0.1:$PORT
count() { curl -s "$HOST/__count"; }

cmd_of() { # TOOL USERS DUR
  case $1 in
    locust) echo "locust -f bench/locust/two_step.py --headless -u $2 -r $2/$RAMP -t ${3}s --host $HOST --csv loc --only-summary --loglevel WARNING" ;;
    agentstorm) echo "agentstorm run --profile bench/profiles/two-step.yaml --target $HOST --agents $2 --ramp ${RAMP}s --duration ${3}s" ;;
  esac
}
# measure TOOL USERS DUR WARM END: runs the tool, prints
# "tool users req/s cpu_us_per_request rss_kib p99_ms errors".
measure() {
  local t=$1 n=$2 dur=$3 warm=$4 end=$5 gen c0 n0 s0 c1 n1 s1 rss p99 err
  rm -f "$TMP"/loc_*
  case $t in
    locust) locust -f bench/locust/two_step.py --headless -u "$n" -r "$(((n + RAMP - 1) / RAMP))" -t "${dur}s" --host "$HOST" \
      --csv "$TMP/loc" --only-summary --loglevel WARNING > "$TMP/out.$t" 2>&1 & ;;
    agentstorm) "$AGENTSTORM" run --profile bench/profiles/two-step.yaml --target "$HOST" --agents "$n" \
      --ramp "${RAMP}s" --duration "${dur}s" > "$TMP/out.$t" 2>&1 & ;;
  esac
  gen=$!
  PIDS+=("$gen")
  sleep "$warm"
  c0=$(tree_ticks "$gen"); n0=$(count); s0=$(now_s)
  sleep $((end - warm))
  c1=$(tree_ticks "$gen"); n1=$(count); s1=$(now_s)
  rss=$(tree_rss_kb "$gen")
  local i
  for i in $(seq 1 $((dur + 60))); do kill -0 "$gen" 2> /dev/null || break; sleep 1; done
  kill "$gen" 2> /dev/null || true
  wait "$gen" 2> /dev/null || true
  case $t in
    locust)
      read -r p99 err <<< "$(python3 -c '
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    if row["Name"] == "Aggregated":
        print(row["99%"], row["Failure Count"])
' "$TMP/loc_stats.csv" 2> /dev/null || echo "nan nan")" ;;
    agentstorm)
      p99=$(storm_pct "$TMP/out.$t" All p99)
      err=$(awk '/^Errors:/ {gsub(/,/, "", $2); print $2; exit}' "$TMP/out.$t") ;;
  esac
  LC_ALL=C awk -v t="$t" -v n="$n" -v c="$((c1 - c0))" -v q="$((n1 - n0))" -v s="$s1" -v s0="$s0" -v hz="$CLK_TCK" \
    -v rss="$rss" -v p="$p99" -v e="${err:-nan}" 'BEGIN {
    printf "%s %d %.0f %.1f %d %s %s\n", t, n, q / (s - s0), (q > 0 ? c / hz * 1e6 / q : 0), rss, p, e }'
}

: > "$TMP/rows"
for r in $(seq 1 "$ROUNDS"); do
  for t in $(if [ $((r % 2)) = 1 ]; then echo locust agentstorm; else echo agentstorm locust; fi); do
    big=$(measure "$t" "$USERS" "$DUR" "$WARM" "$END")
    small=$(measure "$t" 10 12 2 10)
    echo "round $r: $big | $small"
    echo "$r $big $(echo "$small" | awk '{print $5}')" >> "$TMP/rows"
  done
done
# rows: round tool users rps cpu rss p99 err rss10

: > "$TMP/search"
declare -A best=([locust]=0 [agentstorm]=0) alive=([locust]=1 [agentstorm]=1)
for n in $LEVELS; do
  for t in locust agentstorm; do
    [ "${alive[$t]}" = 1 ] || continue
    line=$(measure "$t" "$n" "$SEARCH_DUR" 6 $((SEARCH_DUR - 4)))
    echo "search: $line" | tee -a "$TMP/search"
    if LC_ALL=C awk -v p="$(echo "$line" | awk '{print $6}')" -v e="$(echo "$line" | awk '{print $7}')" 'BEGIN {exit !(p == p + 0 && p < 100 && e == 0)}'; then
      best[$t]=$n
    else
      alive[$t]=0
    fi
  done
done
finish_machine_line "$TMP/machine"

colm() { awk -v t="$1" -v c="$2" '$2 == t {print $c}' "$TMP/rows" > "$TMP/col"; }
marg() { awk -v t="$1" -v n="$USERS" '$2 == t {printf "%.2f\n", ($6 - $9) / (n - 10)}' "$TMP/rows" > "$TMP/col"; }
for t in locust agentstorm; do
  colm "$t" 5; cp "$TMP/col" "$TMP/cpu.$t"
  marg "$t"; cp "$TMP/col" "$TMP/marg.$t"
done
# per-round ratios: locust / agentstorm CPU per request, and marginal RSS.
awk '$2 == "locust" {l[$1] = $5; lm[$1] = ($6 - $9)} $2 == "agentstorm" {a[$1] = $5; am[$1] = ($6 - $9)}
  END {for (r in l) if (a[r] > 0) printf "%.1f\n", l[r] / a[r]}' "$TMP/rows" > "$TMP/cpuratio"
awk '$2 == "locust" {lm[$1] = ($6 - $9)} $2 == "agentstorm" {am[$1] = ($6 - $9)}
  END {for (r in lm) if (am[r] > 0) printf "%.2f\n", lm[r] / am[r]}' "$TMP/rows" > "$TMP/memratio"
cap_note() { if [ "${best[$1]}" = "${LEVELS##* }" ]; then echo "≥ $(fmt_int "${best[$1]}") (the highest level tried)"; elif [ "${best[$1]}" = 0 ]; then echo "< ${LEVELS%% *}"; else fmt_int "${best[$1]}"; fi; }
{
  echo "## Side by side: agents per core vs Locust (\`bench/vs-locust.sh\`)"
  echo
  echo "Machine: $(cat "$TMP/machine")."
  echo
  echo "ROUNDS=$ROUNDS. Both tools ramp to their users over ${RAMP} s (Locust's spawn rate users/${RAMP}) and run the same two-step flow (open a cart: POST /v1/carts; add an item:"
  echo "POST /v1/carts/c-1/items; a constant 2 s think after every request) against \`bench/barefast\`, in"
  echo "turn. Locust is Debian's python3-locust $(deb_version python3-locust) with \`FastHttpUser\`, run headless as **one"
  echo "process (one core)**: 2.12 has no \`--processes\`; spreading it over cores means one worker process"
  echo "per core, each with its own RSS. agentstorm is one process too. CPU per request: utime+stime of the"
  echo "generator's process tree (/proc/PID/stat) from ${WARM} s to ${END} s of a ${DUR} s run, divided by the"
  echo "requests the server counted in that window. RSS at ${END} s; at 10 users, at 10 s of a 12 s run."
  echo "Marginal RSS per user = (RSS at $(fmt_int "$USERS") − RSS at 10) / $(fmt_int $((USERS - 10))). Medians (min–max)."
  echo
  echo "| at $(fmt_int "$USERS") users | req/s | CPU µs/request | RSS MiB | RSS at 10 users MiB | marginal KiB/user | p99 ms |"
  echo "|---|---|---|---|---|---|---|"
  for t in locust agentstorm; do
    colm "$t" 4; rps=$(spread "$TMP/col" int)
    colm "$t" 6; awk '{printf "%.1f\n", $1 / 1024}' "$TMP/col" > "$TMP/col2"; rss=$(spread "$TMP/col2" %.1f)
    colm "$t" 9; awk '{printf "%.1f\n", $1 / 1024}' "$TMP/col" > "$TMP/col2"; rss10=$(spread "$TMP/col2" %.1f)
    colm "$t" 7; p99=$(spread "$TMP/col" %.1f)
    echo "| $t | $rps | $(spread "$TMP/cpu.$t" %.1f) | $rss | $rss10 | $(spread "$TMP/marg.$t" %.2f) | $p99 |"
  done
  echo
  echo "- **CPU per request: Locust ÷ agentstorm = $(spread "$TMP/cpuratio" %.1f)×** (per-round ratios; target ≥ 10×)."
  echo "- **Marginal memory per user: Locust ÷ agentstorm = $(spread "$TMP/memratio" %.2f)×** (target ≥ 1: no more memory per user than Locust)."
  echo "- CPU ticks are 1/$CLK_TCK s: agentstorm's window holds few of them, so its CPU figure is the coarser one."
  echo
  echo "**Most users with p99 < 100 ms** (and no errors), levels $LEVELS tried in turn, ${SEARCH_DUR} s each,"
  echo "each tool stopping at its first failing level: Locust **$(cap_note locust)**, agentstorm **$(cap_note agentstorm)**."
  echo "The ceiling of this setup is ~19,500 connections: the server and the generator are each one process"
  echo "under the 20,000 open-files limit (agentstorm's worker processes pass it for the generator; see the"
  echo "storm row)."
  echo
  echo '```'
  echo "tool users req/s cpu_us_per_request rss_kib p99_ms errors"
  cat "$TMP/search"
  echo '```'
  echo
  echo "Commands:"
  echo
  echo "- locust: \`$(cmd_of locust N 30)\`"
  echo "- agentstorm: \`$(cmd_of agentstorm N 30)\` ($(agentstorm_version))"
  echo
  echo "Per run (round tool users req/s cpu_us_per_request rss_kib p99_ms errors rss_kib_at_10):"
  echo
  code_block "$TMP/rows"
} > "$TMP/section.md"
publish_section agents-per-core "$TMP/section.md"
headline agents-per-core "vs Locust at $(fmt_int "$USERS") users, 2 s think: CPU/request $(median < "$TMP/cpu.locust") µs vs $(median < "$TMP/cpu.agentstorm") µs = $(median < "$TMP/cpuratio")× less; marginal RSS $(median < "$TMP/marg.locust") vs $(median < "$TMP/marg.agentstorm") KiB/user = $(median < "$TMP/memratio")× less; most users with p99 < 100 ms: Locust $(cap_note locust), agentstorm $(cap_note agentstorm)"
