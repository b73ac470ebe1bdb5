#!/usr/bin/env bash
# uring-vs-epoll.sh: what io_uring would save an event loop here (issue 13). Two one-thread C
# servers (bench/probes/uring) answer every request with the same fixed response:
#   epoll   level-triggered epoll, one recv and one send a request
#   defer   io_uring: multishot recv into a provided buffer ring, sends batched, one
#           submit-and-wait a round (SINGLE_ISSUER|DEFER_TASKRUN)
#   coop    the same with COOP_TASKRUN
# Load: h2load --h1, C (default 15,000) connections made at 1,500/s, each sending one
# request every 2 s (--rps 0.5). ROUNDS rounds (default 3), variants alternating. Measured
# over 20 s once every connection is up: the server's CPU (utime+stime) per request it
# answered (its own counter), h2load's likewise, and, in the next 20 s with perf (when
# installed), the server's system calls and context switches a request. Prints only.
#
#   bash bench/uring-vs-epoll.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
C=${C:-15000}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-19300}
bench_init
ensure_apt gcc gcc
ensure_apt h2load nghttp2-client
if [ ! -f /usr/include/liburing.h ]; then
  echo "installing liburing-dev (apt-get)" >&2
  apt-get update -qq > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburing-dev > /dev/null
fi
gcc -O2 -Wall -o "$TMP/srv_epoll" bench/probes/uring/srv_epoll.c
gcc -O2 -Wall -o "$TMP/srv_uring" bench/probes/uring/srv_uring.c -luring

count() { od -An -tu8 -j$((8 * $2)) -N8 "$1" | tr -d ' '; } # field 0 requests, 1 accepts
one() {
  local v=$1 port=$2 stats=$TMP/stats.$1.$2 srv h2 i r0 r1 c0 c1 h0 h1 t0 t1 sc="" cs=""
  if [ "$v" = epoll ]; then
    start_bg "$TMP/srv_epoll" "$port" 150 "$stats"
  else
    start_bg "$TMP/srv_uring" "$port" 150 "$stats" "$v"
  fi
  srv=$BGPID
  sleep 0.3
  start_bg h2load --h1 -c "$C" -t 1 -r 1500 --rate-period 1s -n $((C * 30)) --rps 0.5 "http://127.0.0.1:$port/" > "$TMP/h2.$v.$port" 2>&1
  h2=$BGPID
  for i in $(seq 1 60); do
    [ "$(count "$stats" 1)" -ge "$C" ] && break
    sleep 0.5
  done
  sleep 2
  r0=$(count "$stats" 0) c0=$(cpu_ticks "$srv") h0=$(cpu_ticks "$h2") t0=$(now_s)
  sleep 20
  r1=$(count "$stats" 0) c1=$(cpu_ticks "$srv") h1=$(cpu_ticks "$h2") t1=$(now_s)
  if command -v perf > /dev/null 2>&1; then
    local p0 p1
    p0=$(count "$stats" 0)
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$srv" -o "$TMP/perf" -- sleep 20 || true
    p1=$(count "$stats" 0)
    sc=$(awk -F, -v n=$((p1 - p0)) '/sys_enter/ {printf "%.2f", $1 / n}' "$TMP/perf")
    cs=$(awk -F, -v n=$((p1 - p0)) '/context-switches/ {printf "%.3f", $1 / n}' "$TMP/perf")
  fi
  kill "$h2" "$srv" 2> /dev/null || true
  wait "$h2" "$srv" 2> /dev/null || true
  LC_ALL=C awk -v v="$v" -v r=$((r1 - r0)) -v c=$((c1 - c0)) -v h=$((h1 - h0)) -v dt="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
    -v hz="$CLK_TCK" -v sc="${sc:--}" -v cs="${cs:--}" -v acc="$(count "$stats" 1)" \
    'BEGIN {printf "%s %.2f %.2f %.0f %s %s %d\n", v, 1e6 * c / hz / r, 1e6 * h / hz / r, r / dt, sc, cs, acc}' | tee -a "$TMP/rows"
}

echo "$(nproc) cores, $(uname -sr); $C connections, 0.5 req/s each"
echo "variant server_us/req h2load_us/req req/s syscalls/req context_switches/req connections"
for r in $(seq 1 "$ROUNDS"); do
  for v in epoll defer coop; do
    PORT=$((PORT + 1))
    one "$v" "$PORT"
    sleep 2
  done
done
for v in epoll defer coop; do
  printf 'median %s: server %s µs CPU a request\n' "$v" "$(awk -v v="$v" '$1 == v {print $2}' "$TMP/rows" | median)"
done
