#!/usr/bin/env bash
# vs-throughput.sh: raw throughput, side by side. wrk, bombardier, vegeta, hey
# and agentstorm (closed model, 256 agents, no think time) each POST the same
# small JSON body over 256 keep-alive connections to one bare fasthttp server
# (bench/barefast), in turn, ROUNDS rounds of SECS seconds; the order rotates
# every round. Every tool is measured with the same ruler: requests counted by
# the server (GET /__count) and the generator's CPU (utime+stime from
# /proc/PID/stat) over the same window, from WARM s after its start to 1 s
# before its end. Writes the <!-- bench:raw-throughput --> section of
# bench/RESULTS.md.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
SECS=${SECS:-10}
WARM=${WARM:-2}
PORT=${PORT:-18200}
CONNS=256
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt curl curl
ensure_apt wrk wrk
ensure_apt hey hey
ensure_go vegeta "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
ensure_go bombardier "github.com/codesenberg/bombardier@$BOMBARDIER_VERSION"
build_agentstorm
VEGETA=$GOBIN_DIR/vegeta
BOMBARDIER=$GOBIN_DIR/bombardier
URL=http://127.0.0.1:$PORT/cart/items
BODY='{"sku":"sku-1","qty":1}'
machine_line > "$TMP/machine"

start_bg "$BENCH_BIN/barefast" -listen 127.0.0.1:$PORT > /dev/null
BF=$BGPID
wait_port 127.0.0.1:$PORT

cat > "$TMP/post.lua" << 'LUA'
wrk.method = "POST"
wrk.body   = '{"sku":"sku-1","qty":1}'
wrk.headers["Content-Type"] = "application/json"
LUA
printf '%s' "$BODY" > "$TMP/body.json"
mkdir -p "$BENCH_REPO/bench/profiles"

TOOLS=(wrk bombardier vegeta hey agentstorm)
# cmd_of TOOL: the exact command line (printed in RESULTS.md).
cmd_of() {
  case $1 in
    wrk) echo "wrk -t2 -c$CONNS -d${SECS}s -s post.lua $URL" ;;
    bombardier) echo "bombardier -c $CONNS -d ${SECS}s -m POST -H 'Content-Type: application/json' -b '$BODY' -p r $URL" ;;
    vegeta) echo "echo 'POST $URL' | vegeta attack -rate 0 -max-workers $CONNS -workers $CONNS -connections $CONNS -duration ${SECS}s -body body.json -header 'Content-Type: application/json' > /dev/null" ;;
    hey) echo "hey -z ${SECS}s -c $CONNS -m POST -T application/json -d '$BODY' $URL" ;;
    agentstorm) echo "agentstorm run --profile bench/profiles/raw-post.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s" ;;
  esac
}
# launch TOOL: starts it in the background; GEN is the generator's PID.
launch() {
  case $1 in
    wrk) wrk -t2 -c$CONNS -d${SECS}s -s "$TMP/post.lua" "$URL" > "$TMP/out.$1" 2>&1 & ;;
    bombardier) "$BOMBARDIER" -c $CONNS -d ${SECS}s -m POST -H 'Content-Type: application/json' -b "$BODY" -p r "$URL" > "$TMP/out.$1" 2>&1 & ;;
    vegeta) "$VEGETA" attack -rate 0 -max-workers $CONNS -workers $CONNS -connections $CONNS -duration ${SECS}s \
      -body "$TMP/body.json" -header 'Content-Type: application/json' -targets <(echo "POST $URL") > /dev/null 2> "$TMP/out.$1" & ;;
    hey) hey -z ${SECS}s -c $CONNS -m POST -T application/json -d "$BODY" "$URL" > "$TMP/out.$1" 2>&1 & ;;
    agentstorm) "$AGENTSTORM" run --profile bench/profiles/raw-post.yaml --target http://127.0.0.1:$PORT --duration ${SECS}s > "$TMP/out.$1" 2>&1 & ;;
  esac
  GEN=$!
  PIDS+=("$GEN")
}
count() { curl -s "http://127.0.0.1:$PORT/__count"; }

for t in "${TOOLS[@]}"; do : > "$TMP/rps.$t"; : > "$TMP/cpu.$t"; : > "$TMP/cores.$t"; : > "$TMP/ratio.$t"; done
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((${#TOOLS[@]} - 1))); do
    t=${TOOLS[$(((k + r - 1) % ${#TOOLS[@]}))]}
    launch "$t"
    sleep "$WARM"
    c0=$(cpu_ticks "$GEN"); n0=$(count); s0=$(now_s)
    sleep $((SECS - WARM - 1))
    c1=$(cpu_ticks "$GEN"); n1=$(count); s1=$(now_s)
    if ! wait "$GEN"; then echo "round $r: $t failed:"; tail -5 "$TMP/out.$t"; fi
    LC_ALL=C awk -v c="$((c1 - c0))" -v n="$((n1 - n0))" -v s="$s1" -v s0="$s0" -v hz="$CLK_TCK" -v t="$t" -v d="$TMP" 'BEGIN {
      rps = n / (s - s0); cpu = n > 0 ? c / hz * 1e6 / n : 0; cores = c / hz / (s - s0)
      printf "%.0f\n", rps >> (d "/rps." t); printf "%.2f\n", cpu >> (d "/cpu." t); printf "%.2f\n", cores >> (d "/cores." t)
      printf "round %d %-10s %9.0f req/s  %5.2f µs CPU/request  %4.2f cores\n", '"$r"', t, rps, cpu, cores }'
  done
  a=$(tail -1 "$TMP/rps.agentstorm")
  for t in "${TOOLS[@]}"; do ratio "$a" "$(tail -1 "$TMP/rps.$t")" %.3f >> "$TMP/ratio.$t"; done
done
finish_machine_line "$TMP/machine"

{
  echo "## Side by side: raw throughput (\`bench/vs-throughput.sh\`)"
  echo
  echo "Machine: $(cat "$TMP/machine")."
  echo
  echo "ROUNDS=$ROUNDS SECS=$SECS; each round runs every tool once, the order rotating round to round. Target: \`bench/barefast\` (bare fasthttp, its own process, same 2 cores). Every tool"
  echo "POSTs \`$BODY\` over $CONNS keep-alive connections with no pause. Same ruler for all: requests counted"
  echo "by the server and generator CPU (utime+stime of the generator's PID in /proc/PID/stat) over the same"
  echo "window, ${WARM} s after start to 1 s before the end. Ratio: agentstorm ÷ tool, median of the per-round"
  echo "ratios (both from the same round)."
  echo
  echo "| tool | req/s median (min–max) | generator CPU µs/request | generator cores | agentstorm ÷ tool (req/s) |"
  echo "|---|---|---|---|---|"
  for t in "${TOOLS[@]}"; do
    echo "| $t | $(spread "$TMP/rps.$t" int) | $(spread "$TMP/cpu.$t" %.2f) | $(median < "$TMP/cores.$t") | $(if [ "$t" = agentstorm ]; then echo –; else spread "$TMP/ratio.$t" %.2f; fi) |"
  done
  echo
  echo "Versions: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), bombardier $(gomod_version "$BOMBARDIER"), vegeta $(gomod_version "$VEGETA"), hey (Debian) $(deb_version hey), $(agentstorm_version)."
  echo
  echo "Commands:"
  echo
  for t in "${TOOLS[@]}"; do echo "- $t: \`$(cmd_of "$t")\`"; done
  echo
  echo "Targets: ≥ 0.9 × wrk (median ratio here $(median < "$TMP/ratio.wrk")), ≥ 1.0 × bombardier ($(median < "$TMP/ratio.bombardier"))."
} > "$TMP/section.md"
publish_section raw-throughput "$TMP/section.md"
headline raw-throughput "raw throughput (256 conns, req/s): agentstorm $(fmt_int "$(median < "$TMP/rps.agentstorm")") = $(median < "$TMP/ratio.wrk") × wrk, $(median < "$TMP/ratio.bombardier") × bombardier, $(median < "$TMP/ratio.vegeta") × vegeta, $(median < "$TMP/ratio.hey") × hey; CPU/request $(median < "$TMP/cpu.agentstorm") µs vs wrk $(median < "$TMP/cpu.wrk") µs, bombardier $(median < "$TMP/cpu.bombardier") µs"
