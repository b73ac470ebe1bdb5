#!/usr/bin/env bash
# vs-stall.sh: truth under a stall. bench/stallserver answers at once but
# stalls every handler for STALL (1 s) starting AT (3 s) past the first request
# of each run. wrk (closed, -c64), vegeta (open, -rate RATE), agentstorm open
# (RATE sessions/s) and agentstorm closed (64 agents, raw and corrected
# figures) run in turn, ROUNDS rounds of SECS seconds, order rotating. Each
# tool's reported p99 is set against the true p99 that the server's own log
# gives for a constant-rate client (see stallserver's truth.go and the method
# written into RESULTS.md). Writes <!-- bench:stall-truth -->.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
RATE=${RATE:-2000}
AT=${AT:-3s}
STALL=${STALL:-1s}
PORT=${PORT:-18300}
APORT=${APORT:-18301}
source "$(dirname "$0")/lib.sh"
bench_init
stall_setup
machine_line > "$TMP/machine"

TOOLS=(wrk vegeta storm-open storm-closed)
cmd_of() {
  case $1 in
    wrk) echo "wrk -t2 -c64 -d${SECS}s --latency $URL" ;;
    vegeta) echo "echo 'GET $URL' | vegeta attack -rate $RATE -duration ${SECS}s > r.bin; vegeta report -type=json r.bin" ;;
    storm-open) echo "agentstorm run --profile bench/profiles/stall-open.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s (rate $RATE/s)" ;;
    storm-closed) echo "agentstorm run --profile bench/profiles/stall-closed.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s" ;;
  esac
}
# run_tool TOOL: runs it in the foreground (bounded by its duration), output in $TMP/out.TOOL.
run_tool() {
  case $1 in
    wrk) timeout $((SECS + 30)) wrk -t2 -c64 -d${SECS}s --latency "$URL" > "$TMP/out.$1" 2>&1 ;;
    vegeta) vegeta_run 2> "$TMP/out.$1" ;;
    storm-open) timeout $((SECS + 30)) "$AGENTSTORM" run --profile "$TMP/stall-open.yaml" --target http://127.0.0.1:$PORT --duration ${SECS}s > "$TMP/out.$1" 2>&1 ;;
    storm-closed) timeout $((SECS + 30)) "$AGENTSTORM" run --profile bench/profiles/stall-closed.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s > "$TMP/out.$1" 2>&1 ;;
  esac
}
# p99_of TOOL: what the tool reported as p99 (ms); for storm-closed "raw corrected".
p99_of() {
  case $1 in
    wrk) wrk_pct "$TMP/out.wrk" 99 ;;
    vegeta) vegeta_pct "$TMP/r.bin" 99th ;;
    storm-open) storm_pct "$TMP/out.$1" All p99 ;;
    storm-closed) echo "$(storm_pct "$TMP/out.$1" All p99) $(storm_pct "$TMP/out.$1" "All (corrected)" p99)" ;;
  esac
}

: > "$TMP/rows"
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((${#TOOLS[@]} - 1))); do
    t=$(rotated "$k" "$r" "${TOOLS[@]}")
    curl -s "http://$ADMIN/arm?after=$AT&for=$STALL" > /dev/null
    run_tool "$t" || echo "round $r: $t exited $?" >&2
    truth_fetch "$TMP/truth"
    tp=$(truth_get "$TMP/truth" true_p99_ms)
    read -r p c _ <<< "$(p99_of "$t") - -"
    echo "$r $t $tp $p $c $(truth_get "$TMP/truth" count) $(truth_get "$TMP/truth" in_stall) $(truth_get "$TMP/truth" stall_from_s)" >> "$TMP/rows"
    echo "round $r $t: true p99 $tp ms, reported p99 $p ms ${c/-/} (requests $(truth_get "$TMP/truth" count), in stall $(truth_get "$TMP/truth" in_stall))"
  done
done
finish_machine_line "$TMP/machine"

# per tool: median true p99, median reported p99, median error (reported/true - 1).
summ() { # TOOL COLUMN(4 or 5) -> "reported (min–max) | true | error"
  awk -v t="$1" -v c="$2" '$2 == t {print $c > "'"$TMP"'/rep"; print $3 > "'"$TMP"'/tru"; printf "%.1f\n", ($c / $3 - 1) * 100 > "'"$TMP"'/err"}' "$TMP/rows"
  echo "$(spread "$TMP/rep" %.1f) | $(spread "$TMP/tru" %.1f) | $(spread "$TMP/err" %+.1f)"
}
{
  echo "## Side by side: truth under a stall (\`bench/vs-stall.sh\`)"
  echo
  echo "Machine: $(cat "$TMP/machine")."
  echo
  echo "ROUNDS=$ROUNDS SECS=$SECS RATE=$RATE/s; the server (\`bench/stallserver\`, fasthttp, answers at once) stalls"
  echo "every handler for $STALL starting $AT after the first request of each run (a gate in the handler:"
  echo "connections are still accepted and requests read, so arrivals stay exact)."
  echo
  echo "**The truth.** The server logs every request's arrival (handler entry) and answer time. For"
  echo "each run it takes a constant-rate schedule t_i = A0 + i/RATE over the run, from the first"
  echo "arrival A0 to the last, and for every t_i the first request the server received at or after"
  echo "t_i stands in for a request sent at t_i: true latency = that request's answer time − t_i"
  echo "(the intended send time, as wrk2 and our open model measure). During the stall every request"
  echo "that arrives, and the first one after it when a closed client sent nothing, is answered only"
  echo "when the stall ends, so the waiting is in the truth whatever the tool did. Outside the stall the"
  echo "stand-in adds at most the gap to the next arrival (microseconds for wrk, up to 1/RATE for the"
  echo "open tools). With a 1 s stall in a ${SECS} s run, ~10% of intended sends fall in it, so the true"
  echo "p99 is about 0.9 s. Error = reported ÷ true − 1, per run, median over rounds."
  echo
  echo "| tool (model) | reported p99 ms, median (min–max) | true p99 ms | error % |"
  echo "|---|---|---|---|"
  echo "| wrk -c64 (closed) | $(summ wrk 4) |"
  echo "| vegeta -rate $RATE (open) | $(summ vegeta 4) |"
  echo "| agentstorm open, $RATE/s | $(summ storm-open 4) |"
  echo "| agentstorm closed, 64 agents: raw (latency from send) | $(summ storm-closed 4) |"
  echo "| agentstorm closed, 64 agents: corrected (HdrHistogram) | $(summ storm-closed 5) |"
  echo
  echo "Why wrk's p99 is close although it is a closed client: wrk 4.x corrects its latency"
  echo "histogram for coordinated omission before printing it (\`stats_correct\` with an expected"
  echo "interval of run time ÷ requests per connection, the same idea as our closed model's corrected"
  echo "figure); its raw per-request view would hide the stall as ours does (raw row)."
  echo
  echo "Versions: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), vegeta $(gomod_version "$VEGETA"), $(agentstorm_version)."
  echo
  echo "Commands:"
  echo
  for t in "${TOOLS[@]}"; do echo "- $t: \`$(cmd_of "$t")\`"; done
  echo
  echo "Per run (round tool true-p99 reported-p99 [corrected] requests in-stall stall-start-s):"
  echo
  code_block "$TMP/rows"
} > "$TMP/section.md"
awk '$2 == "storm-open" {printf "%.1f\n", ($4 / $3 - 1) * 100}' "$TMP/rows" > "$TMP/e.open"
awk '$2 == "wrk" {printf "%.1f\n", ($4 / $3 - 1) * 100}' "$TMP/rows" > "$TMP/e.wrk"
awk '$2 == "vegeta" {printf "%.1f\n", ($4 / $3 - 1) * 100}' "$TMP/rows" > "$TMP/e.veg"
awk '$2 == "storm-closed" {printf "%.1f\n", ($4 / $3 - 1) * 100}' "$TMP/rows" > "$TMP/e.raw"
awk '$2 == "storm-closed" {printf "%.1f\n", ($5 / $3 - 1) * 100}' "$TMP/rows" > "$TMP/e.corr"
publish_section stall-truth "$TMP/section.md"
headline stall-truth "p99 error vs true p99 under a 1 s stall: agentstorm open $(median < "$TMP/e.open")%, closed raw $(median < "$TMP/e.raw")% / corrected $(median < "$TMP/e.corr")%; wrk $(median < "$TMP/e.wrk")%, vegeta $(median < "$TMP/e.veg")%"
