#!/usr/bin/env bash
# vs-accuracy.sh: accuracy against a known latency. bench/stallserver with
# -delay 20ms (no stall) answers every request after a fixed 20 ms and logs
# what it really took (its wait ends on a nanosleep, not a Go timer that can
# be a millisecond late, but a busy machine still delays it). wrk
# (closed, -c40 ≈ 2,000 req/s), vegeta (-rate 2000) and agentstorm (open model,
# 2,000 sessions/s) run in turn, ROUNDS rounds of SECS seconds, order rotating;
# each tool's p50/p99 is set against 20 ms and against the server's own
# answer-minus-arrival p50/p99 in the same run. Writes <!-- bench:accuracy -->.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
RATE=${RATE:-2000}
PORT=${PORT:-18310}
APORT=${APORT:-18311}
source "$(dirname "$0")/lib.sh"
bench_init
stall_setup -delay 20ms
CONNS=$((RATE / 50)) # closed: 20 ms per request per connection
machine_line > "$TMP/machine"

TOOLS=(wrk vegeta agentstorm)
cmd_of() {
  case $1 in
    wrk) echo "wrk -t2 -c$CONNS -d${SECS}s --latency $URL" ;;
    vegeta) echo "echo 'GET $URL' | vegeta attack -rate $RATE -duration ${SECS}s > r.bin; vegeta report -type=json r.bin" ;;
    agentstorm) echo "agentstorm run --profile bench/profiles/stall-open.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s (open, $RATE sessions/s)" ;;
  esac
}
run_tool() {
  case $1 in
    wrk) timeout $((SECS + 30)) wrk -t2 -c$CONNS -d${SECS}s --latency "$URL" > "$TMP/out.$1" 2>&1 ;;
    vegeta) vegeta_run 2> "$TMP/out.$1" ;;
    agentstorm) timeout $((SECS + 30)) "$AGENTSTORM" run --profile "$TMP/stall-open.yaml" --target http://127.0.0.1:$PORT --duration ${SECS}s > "$TMP/out.$1" 2>&1 ;;
  esac
}
pct_of() { # TOOL -> "p50 p99" in ms
  case $1 in
    wrk) echo "$(wrk_pct "$TMP/out.wrk" 50) $(wrk_pct "$TMP/out.wrk" 99)" ;;
    vegeta) echo "$(vegeta_pct "$TMP/r.bin" 50th) $(vegeta_pct "$TMP/r.bin" 99th)" ;;
    agentstorm) echo "$(storm_pct "$TMP/out.$1" All p50) $(storm_pct "$TMP/out.$1" All p99)" ;;
  esac
}

: > "$TMP/rows"
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((${#TOOLS[@]} - 1))); do
    t=$(rotated "$k" "$r" "${TOOLS[@]}")
    curl -s "http://$ADMIN/arm?for=0s" > /dev/null
    run_tool "$t" || echo "round $r: $t exited $?" >&2
    truth_fetch "$TMP/truth"
    read -r p50 p99 <<< "$(pct_of "$t")"
    echo "$r $t $p50 $p99 $(truth_get "$TMP/truth" service_p50_ms) $(truth_get "$TMP/truth" service_p99_ms) $(truth_get "$TMP/truth" count)" >> "$TMP/rows"
    echo "round $r $t: p50 $p50 p99 $p99 ms; server p50 $(truth_get "$TMP/truth" service_p50_ms) p99 $(truth_get "$TMP/truth" service_p99_ms) ms ($(truth_get "$TMP/truth" count) requests)"
  done
done
finish_machine_line "$TMP/machine"

col() { awk -v t="$1" -v c="$2" '$2 == t {print $c}' "$TMP/rows" > "$TMP/col"; spread "$TMP/col" %.2f; }
dev() { awk -v t="$1" -v c="$2" -v s="$3" '$2 == t {printf "%.2f\n", $c - $s}' "$TMP/rows" > "$TMP/col"; spread "$TMP/col" %+.2f; }
{
  echo "## Side by side: accuracy against a fixed 20 ms handler (\`bench/vs-accuracy.sh\`)"
  echo
  echo "Machine: $(cat "$TMP/machine")."
  echo
  echo "ROUNDS=$ROUNDS SECS=$SECS. \`bench/stallserver -delay 20ms\` waits 20 ms in every handler and logs"
  echo "each request's arrival and answer, so the \"server\" columns are what it really took in the same run"
  echo "(the wait ends on a nanosleep, precise to ~0.1 ms on a quiet machine). wrk is closed with $CONNS connections (≈ $RATE req/s at"
  echo "20 ms); vegeta and agentstorm are open at $RATE/s. Medians over rounds (min–max); \"vs server\" is the"
  echo "tool's figure minus the server's own in the same run (network, client scheduling and the tool's"
  echo "own overhead)."
  echo
  echo "| tool | p50 ms | p99 ms | server p50 ms | server p99 ms | p50 vs server | p99 vs server |"
  echo "|---|---|---|---|---|---|---|"
  for t in "${TOOLS[@]}"; do
    echo "| $t | $(col "$t" 3) | $(col "$t" 4) | $(col "$t" 5) | $(col "$t" 6) | $(dev "$t" 3 5) | $(dev "$t" 4 6) |"
  done
  echo
  echo "Target (issue 4): p50 within 0.5 ms of 20 ms, p99 within 2 ms. Versions: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), vegeta $(gomod_version "$VEGETA"), $(agentstorm_version)."
  echo
  echo "Commands:"
  echo
  for t in "${TOOLS[@]}"; do echo "- $t: \`$(cmd_of "$t")\`"; done
  echo
  echo "Per run (round tool p50 p99 server-p50 server-p99 requests):"
  echo
  code_block "$TMP/rows"
} > "$TMP/section.md"
publish_section accuracy "$TMP/section.md"
m() { awk -v t="$1" -v c="$2" '$2 == t {print $c}' "$TMP/rows" | median; }
headline accuracy "20 ms handler, p50/p99 ms (server's own $(m agentstorm 5)/$(m agentstorm 6)): agentstorm $(m agentstorm 3)/$(m agentstorm 4), wrk $(m wrk 3)/$(m wrk 4), vegeta $(m vegeta 3)/$(m vegeta 4)"
