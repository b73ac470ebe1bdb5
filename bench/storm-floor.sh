#!/usr/bin/env bash
# storm-floor.sh: what the default storm's load costs this machine, side by side
# with C event-loop tools on both ends (issue 13, bars 2 and 3).
#
# Load: AGENTS keep-alive connections (default 50,000, the default storm's
# peak), each sending one small JSON POST every 1/RPS s on average (default
# 2 s: ~25,000 req/s, the default storm's hold), three ways, alternating,
# ROUNDS rounds, order rotating:
#
#   c-pair      h2load (C, libev; Debian nghttp2-client) -> nginx (C, event
#               loop; Debian nginx-light; `return 200`, 4 workers, reuseport)
#   h2load      h2load -> the bundled checkout (`agentstorm target --shards 6`),
#               add-to-cart into NCARTS carts a shard
#   agentstorm  `agentstorm run` (closed model, think exp(1/RPS s), open a cart
#               then add to it) -> the same bundled checkout
#
# h2load runs 6 processes (a process may open at most 20,000 sockets here),
# and nginx listens on 3 ports (a source address has ~28,000 ports toward one
# destination). Measured over HOLD seconds once every connection is up (h2load
# rows after WARM s; the agentstorm row after its ramp, the first live line (every 5 s) that
# reports all AGENTS connected, plus SETTLE s): requests answered (the
# server's own counter: nginx's stub_status, the shards' /metrics), CPU
# (utime+stime from /proc) of each side's processes per request, and the
# machine's busy share (/proc/stat); and, over the client's whole run, the
# share of its requests that failed (h2load: no 2xx; agentstorm: its JSON's
# errors), so that a failing client cannot pass for a cheap one. Writes
# section storm-floor of bench/RESULTS.md.
#
#   bash bench/storm-floor.sh
#   RPS=0.66 bash bench/storm-floor.sh     # the end of the default storm's ramp (~33,000 req/s)
set -euo pipefail
AGENTS=${AGENTS:-50000}
RPS=${RPS:-0.5}
NCARTS=${NCARTS:-200}
ROUNDS=${ROUNDS:-3}
ROWS=${ROWS:-c-pair h2load agentstorm}
WARM=${WARM:-12}
SETTLE=${SETTLE:-4}
HOLD=${HOLD:-15}
PORT=${PORT:-18300}
source "$(dirname "$0")/lib.sh"
bench_init
ensure_apt h2load nghttp2-client
ensure_apt curl curl
ensure_apt nginx nginx-light
build_agentstorm
printf '{"sku":"sku-1","qty":1}' > "$TMP/body.json"
per=$((AGENTS / 6))
think=$(LC_ALL=C awk -v r="$RPS" 'BEGIN {printf "%gs", 1 / r}')
THINK=${THINK:-exp($think)} # the agents' think time (a profile's think syntax)

# busy_ticks: "total idle" jiffies of all CPUs so far (/proc/stat; idle counts iowait).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6}' /proc/stat; }

# window LABEL COUNTER CLIENT_PIDS SERVER_PIDS: measures HOLD s; sets ROW (add_row
# appends it with the client's error share once the client has ended).
window() {
  local label=$1 counter=$2 c0 s0 n0 t0 i0 w0 c1 s1 n1 t1 i1 w1 cl sv
  read -r -a cl <<< "$3"
  read -r -a sv <<< "$4"
  c0=$(sum_ticks "${cl[@]}"); s0=$(sum_ticks "${sv[@]}"); n0=$($counter); read -r t0 i0 < <(busy_ticks); w0=$(now_s)
  sleep "$HOLD"
  c1=$(sum_ticks "${cl[@]}"); s1=$(sum_ticks "${sv[@]}"); n1=$($counter); read -r t1 i1 < <(busy_ticks); w1=$(now_s)
  ROW=$(LC_ALL=C awk -v l="$label" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v n=$((n1 - n0)) -v t=$((t1 - t0)) -v i=$((i1 - i0)) \
    -v dt="$(awk -v a="$w0" -v b="$w1" 'BEGIN {print b - a}')" -v hz="$CLK_TCK" \
    'BEGIN {printf "%s %.0f %.1f %.1f %.1f %.2f %.2f %.0f", l, n / dt, c / hz * 1e6 / n, s / hz * 1e6 / n, (c + s) / hz * 1e6 / n, c / hz / dt, s / hz / dt, 100 * (1 - i / t)}')
}

# add_row ERRORS REQUESTS: appends ROW with the client's failed share of its requests
# (a row whose client failed must not pass for a cheap one).
add_row() { LC_ALL=C awk -v r="$ROW" -v e="$1" -v n="$2" 'BEGIN {printf "%s %.2f\n", r, (n > 0 ? 100 * e / n : 100)}' | tee -a "$TMP/rows"; }

# h2load_procs URL_OR_INPUT...: one h2load process of $per connections per
# argument, made over one think time so that their requests are spread as the
# agents' are (h2load_spread), each sending until the window has passed.
h2load_procs() {
  local a src spread
  read -r -a spread <<< "$(h2load_spread "$per" "$RPS" $((WARM + HOLD + 3)))"
  H2PIDS=()
  for a in "$@"; do
    case $a in http*) src=("$a") ;; *) src=(-i "$a") ;; esac
    h2load --h1 -c "$per" -t 1 --rps "$RPS" "${spread[@]}" -d "$TMP/body.json" \
      -H 'content-type: application/json' "${src[@]}" > "$TMP/h2load-$RANDOM.out" 2>&1 &
    H2PIDS+=($!)
  done
}
# wait_h2load: waits for the h2load processes; adds the row with their requests
# that did not get a 2xx (failed, errored, timed out or another status) as errors.
wait_h2load() {
  local p
  for p in "${H2PIDS[@]}"; do wait "$p" || true; done
  # shellcheck disable=SC2046 # two numbers
  add_row $(awk '/^requests:/ {t += $2} /^status codes:/ {c += $3} END {print t - c, t}' "$TMP"/h2load-*.out)
  rm -f "$TMP"/h2load-*.out
}

# --- nginx: 4 workers (a worker may hold at most ~19,000 connections), 3 ports.
mkdir -p "$TMP/nginx/logs"
{
  echo "daemon off; master_process on; worker_processes 4; worker_rlimit_nofile 19500;"
  echo "pid $TMP/nginx/nginx.pid; error_log $TMP/nginx/logs/error.log warn;"
  echo "events { worker_connections 19000; }"
  echo "http { access_log off; keepalive_requests 1000000; keepalive_timeout 300s;"
  echo "  client_body_temp_path $TMP/nginx/body; proxy_temp_path $TMP/nginx/proxy; fastcgi_temp_path $TMP/nginx/fcgi;"
  echo "  uwsgi_temp_path $TMP/nginx/uwsgi; scgi_temp_path $TMP/nginx/scgi;"
  echo "  server {"
  for k in 0 1 2; do echo "    listen 127.0.0.1:$((PORT + k)) reuseport backlog=16384;"; done
  echo "    location = /status { stub_status; }"
  echo "    location / { default_type application/json; return 200 '{\"ok\":true}'; }"
  echo "  }"
  echo "}"
} > "$TMP/nginx/nginx.conf"
nginx_served() { curl -s "http://127.0.0.1:$PORT/status" | awk 'NR == 3 {print $3}'; }

run_cpair() {
  start_bg nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log"
  local npid=$BGPID k
  wait_port "127.0.0.1:$PORT"
  h2load_procs $(for k in 0 1 2 0 1 2; do echo "http://127.0.0.1:$((PORT + k))/v1/carts/x/items"; done)
  sleep "$WARM"
  window c-pair nginx_served "${H2PIDS[*]}" "$(tree_pids "$npid" | tr '\n' ' ')"
  wait_h2load
  kill "$npid" && wait "$npid" || true
}

# --- the bundled checkout: 6 shards on TPORT..TPORT+5.
TPORT=$((PORT + 10))
checkout_served() {
  local k s=0
  for k in 0 1 2 3 4 5; do
    s=$((s + $(curl -s "http://127.0.0.1:$((TPORT + k))/metrics" | awk '/^agentstorm_target_requests_total/ {s += $2} END {printf "%.0f\n", s}')))
  done
  echo "$s"
}
start_checkout() {
  rm -rf "$TMP/tdata"
  start_bg "$AGENTSTORM" target --shards 6 --listen "127.0.0.1:$TPORT" --admin "127.0.0.1:$((PORT + 9))" --data-dir "$TMP/tdata" > "$TMP/target.out" 2>&1
  TGT=$BGPID
  local k
  for k in 0 1 2 3 4 5; do wait_port "127.0.0.1:$((TPORT + k))"; done
}
stop_checkout() { kill "$TGT" && wait "$TGT" || true; }

run_h2load() {
  start_checkout
  local k n cart
  for k in 0 1 2 3 4 5; do
    : > "$TMP/carts-$k"
    for n in $(seq 1 "$NCARTS"); do
      cart=$(curl -s -X POST -d '{"customer_id":"c1","region":"us-east"}' "http://127.0.0.1:$((TPORT + k))/v1/carts" | sed 's/.*"cart_id":"\([^"]*\)".*/\1/')
      echo "http://127.0.0.1:$((TPORT + k))/v1/carts/$cart/items" >> "$TMP/carts-$k"
    done
  done
  h2load_procs $(for k in 0 1 2 3 4 5; do echo "$TMP/carts-$k"; done)
  sleep "$WARM"
  window h2load checkout_served "${H2PIDS[*]}" "$(tree_pids "$TGT" | tr '\n' ' ')"
  wait_h2load
  stop_checkout
}

{
  echo "name: storm-floor"
  echo "target:"
  for k in 0 1 2 3 4 5; do echo "  s$k: http://127.0.0.1:$((TPORT + k))"; done
  echo "workload: {model: closed, stages: \"0->$AGENTS in 6s, hold 60s\", think: \"$THINK\"}"
  echo "population: {regions: {s0: 1, s1: 1, s2: 1, s3: 1, s4: 1, s5: 1}}"
  echo "flows:"
  echo "  - name: adder"
  echo "    steps:"
  echo "      - {name: open_cart, method: POST, path: /v1/carts, body: {customer_id: c1, region: us-east}, capture: {cart_id: \$.cart_id}, expect: {status: 201}}"
  echo "      - {name: add_to_cart, method: POST, path: \"/v1/carts/{{cart_id}}/items\", repeat: 100000, body: {sku: sku-1, qty: 1}, expect: {status: 200}}"
} > "$TMP/storm-floor.yaml"

run_agentstorm() {
  start_checkout
  "$AGENTSTORM" run --profile "$TMP/storm-floor.yaml" --out "json=$TMP/as.json" > "$TMP/as.out" 2>&1 &
  local apid=$! i
  PIDS+=("$apid")
  # The window starts SETTLE s after the first report of every agent connected.
  for i in $(seq 1 60); do
    grep -q "conns $(fmt_int "$AGENTS")\$" "$TMP/as.out" && break
    sleep 1
  done
  grep -q "conns $(fmt_int "$AGENTS")\$" "$TMP/as.out" || echo "warning: agentstorm never reported all $AGENTS agents connected; measuring anyway" >&2
  sleep "$SETTLE"
  window agentstorm checkout_served "$(tree_pids "$apid" | tr '\n' ' ')" "$(tree_pids "$TGT" | tr '\n' ' ')"
  kill -INT "$apid" && wait "$apid" || true
  # shellcheck disable=SC2046 # two numbers
  add_row $(python3 -c 'import json, sys; o = json.load(sys.stdin)["overall"]; print(o["errors"], o["requests"])' < "$TMP/as.json" || echo 0 0)
  stop_checkout
}

: > "$TMP/rows"
machine=$(machine_line)
echo "storm-floor: $AGENTS connections x $RPS req/s; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "row req/s client-µs/req server-µs/req both-µs/req client-cores server-cores machine-busy-% client-errors-%"
n=$(wc -w <<< "$ROWS")
for r in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086 # ROWS is a list of words
    case $(rotated "$k" "$r" $ROWS) in
      c-pair) run_cpair ;;
      h2load) run_h2load ;;
      agentstorm) run_agentstorm ;;
    esac
  done
done
med() { awk -v t="$1" -v c="$2" '$1 == t {print $c}' "$TMP/rows" | median; }

{
  echo "## The storm's load with C tools on both ends (\`bench/storm-floor.sh\`)"
  echo
  echo "$machine; $(agentstorm_version), h2load $(deb_version nghttp2-client), nginx $(deb_version nginx-light)."
  echo "$AGENTS keep-alive connections, one small POST every $think on average each; $ROUNDS rounds, rows alternating;"
  echo "CPU over $HOLD s once every connection is up, per request the server answered (its own counter);"
  echo "errors: the client's requests without the answer it expects (h2load: not 2xx; agentstorm: its errors), over its whole run."
  echo
  echo "| row | round | req/s | client µs/request | server µs/request | both µs/request | client cores | server cores | machine busy | errors |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  awk '{n[$1]++; printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s%% | %s%% |\n", $1, n[$1], $2, $3, $4, $5, $6, $7, $8, $9}' "$TMP/rows"
  echo
  echo "| row | median client µs/request | median server µs/request | median both | both / c-pair | median machine busy | most errors |"
  echo "|---|---|---|---|---|---|---|"
  cp=$(med c-pair 5)
  for t in $ROWS; do
    echo "| $t | $(med "$t" 3) | $(med "$t" 4) | $(med "$t" 5) | $(ratio "$(med "$t" 5)" "$cp") | $(med "$t" 8)% | $(awk -v t="$t" '$1 == t {print $9}' "$TMP/rows" | maximum)% |"
  done
} > "$TMP/section.md"
finish_machine_line "$TMP/section.md"
publish_section storm-floor "$TMP/section.md"
