# bench/lib.sh: helpers sourced by the bench scripts (bench/vs-*.sh, bench/run-all,
# bench/swarm-*.sh, bench/target-wrk.sh, bench/k6-ingest.sh; bench/storm-50k.sh
# takes only its /proc helpers). Not executable on its own.
#
# Every script: bench_init (temporary dir, trap that stops by PID everything
# started with start_bg), peers installed on demand (ensure_apt, ensure_go),
# agentstorm built once (build_agentstorm; run-all exports BENCH_BIN so the
# rows share one build), and its markdown section of bench/RESULTS.md replaced
# in place between <!-- bench:KEY --> and <!-- /bench:KEY --> (write_section).

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RESULTS=${RESULTS:-$BENCH_REPO/bench/RESULTS.md}
GOBIN_DIR=$(go env GOPATH)/bin
CLK_TCK=$(getconf CLK_TCK)
PIDS=()
VEGETA_VERSION=v12.13.0
BOMBARDIER_VERSION=v1.2.6

# bench_init makes $TMP and installs the EXIT trap that stops what we started.
bench_init() {
  TMP=$(mktemp -d /tmp/agentstorm-bench.XXXXXX)
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  cd "$BENCH_REPO"
}

# bench_cleanup stops every process started with start_bg, by PID.
bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$TMP"
}

# start_bg CMD...: runs CMD in the background, remembers its PID in BGPID and
# in PIDS (stopped at exit). Redirect inside CMD with sh -c if needed; the
# caller's redirections apply to the command itself.
start_bg() {
  "$@" &
  BGPID=$!
  PIDS+=("$BGPID")
}

# ensure_apt CMD PKG: installs the Debian package PKG when CMD is missing.
ensure_apt() {
  if ! command -v "$1" > /dev/null 2>&1; then
    echo "installing $2 (apt-get)" >&2
    apt-get update -qq > /dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" > /dev/null
  fi
}

# ensure_go NAME MODULE@VERSION: go installs MODULE when $GOBIN_DIR/NAME is missing.
ensure_go() {
  if [ ! -x "$GOBIN_DIR/$1" ]; then
    echo "installing $2 (go install)" >&2
    (cd /tmp && go install "$2")
  fi
}

# build_agentstorm: builds agentstorm and the bench servers into $BENCH_BIN
# unless they are there already (run-all builds once for every row).
build_agentstorm() {
  if [ -z "${BENCH_BIN:-}" ]; then
    BENCH_BIN=$TMP/bin
  fi
  mkdir -p "$BENCH_BIN"
  if [ ! -x "$BENCH_BIN/agentstorm" ] || [ ! -x "$BENCH_BIN/barefast" ] || [ ! -x "$BENCH_BIN/stallserver" ]; then
    (cd "$BENCH_REPO" && go build -o "$BENCH_BIN/agentstorm" ./cmd/agentstorm &&
      go build -o "$BENCH_BIN/barefast" ./bench/barefast &&
      go build -o "$BENCH_BIN/stallserver" ./bench/stallserver)
  fi
  AGENTSTORM=$BENCH_BIN/agentstorm
}

# build_at REV PKG OUT [REPO]: builds the package PKG (./cmd/agentstorm) of
# REPO (default this checkout) at REV into OUT from a clone of its own in
# $TMP, once; sets BUILT_REV to REV's short hash.
build_at() {
  local src=$TMP/src-${1//\//_}
  if [ ! -d "$src" ]; then
    git clone -q "${4:-$BENCH_REPO}" "$src"
    git -C "$src" checkout -q "$1"
  fi
  BUILT_REV=$(git -C "$src" rev-parse --short HEAD)
  [ -x "$3" ] || (cd "$src" && go build -o "$3" "$2")
}

# wait_port HOST:PORT: waits (at most 5 s) until something listens there.
wait_port() {
  local i
  for i in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2> /dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# cpu_ticks PID: user+system CPU of PID so far, in clock ticks (/proc/PID/stat).
cpu_ticks() {
  awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat" 2> /dev/null || echo 0
}

# pss_kb PID: proportional set size of PID in KiB: its resident pages, each
# page shared with other processes (a binary's text, libc) divided among
# them (0 for a process gone or a zombie).
pss_kb() {
  local v
  v=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup" 2> /dev/null)
  echo "${v:-0}"
}

# rss_kb PID: resident set size of PID in KiB (0 for a process gone or a zombie).
rss_kb() {
  local v
  v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null)
  echo "${v:-0}"
}

# now_s: wall clock in seconds with nanoseconds.
now_s() { date +%s.%N; }

# median / minimum / maximum of numbers on stdin, one a line.
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"; exit} print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minimum() { sort -g | head -1; }
maximum() { sort -g | tail -1; }

# fmt_int N: 123456.7 -> 123,457.
fmt_int() { LC_ALL=C awk -v x="$1" 'BEGIN {x=sprintf("%.0f", x); s=""; while (length(x)>3) {s="," substr(x, length(x)-2) s; x=substr(x, 1, length(x)-3)} print x s}'; }

# spread FILE FORMAT: "median (min–max)" of the numbers in FILE, printf FORMAT each.
spread() {
  local m lo hi
  m=$(median < "$1"); lo=$(minimum < "$1"); hi=$(maximum < "$1")
  if [ "$2" = int ]; then
    echo "$(fmt_int "$m") ($(fmt_int "$lo")–$(fmt_int "$hi"))"
  else
    LC_ALL=C printf "$2 ($2–$2)\n" "$m" "$lo" "$hi"
  fi
}

# ratio A B [FORMAT]: A / B.
ratio() { LC_ALL=C awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {if (b == 0) print "n/a"; else printf f "\n", a / b}'; }

# machine_line: one line saying what ran where and when.
machine_line() {
  local cpu mem
  cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
  echo "$(nproc) cores ($cpu), $mem, Linux $(uname -r), $(go version | awk '{print $3}'); $(date -u '+%Y-%m-%d %H:%M UTC'); load average at start $(cut -d' ' -f1-3 /proc/loadavg), at end LOADEND"
}

# finish_machine_line FILE: fills in the load average at the end.
finish_machine_line() { sed -i "s|LOADEND|$(cut -d' ' -f1-3 /proc/loadavg)|" "$1"; }

# agentstorm_version: the commit agentstorm was built from.
agentstorm_version() { echo "agentstorm $(git -C "$BENCH_REPO" rev-parse --short HEAD)$(git -C "$BENCH_REPO" diff --quiet -- agents report profiles cmd 2> /dev/null || echo '+local changes')"; }

# gomod_version BINARY: the module version go install embedded in BINARY.
gomod_version() { go version -m "$1" | awk '$1 == "mod" {print $3; exit}'; }

# deb_version PKG: the installed Debian package version.
deb_version() { dpkg-query -W -f '${Version}' "$1" 2> /dev/null || echo "?"; }

# write_section KEY FILE: puts FILE's text between <!-- bench:KEY --> and
# <!-- /bench:KEY --> in $RESULTS (replacing what was there, or appending).
# If $BENCH_OUT is set (run-all), a copy goes there too.
write_section() {
  python3 - "$RESULTS" "$1" "$2" << 'PY'
import os, sys
path, key, src = sys.argv[1:]
body = open(src).read().rstrip("\n")
start, end = "<!-- bench:%s -->" % key, "<!-- /bench:%s -->" % key
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
block = start + "\n" + body + "\n" + end
i = text.find(start)
j = text.find(end, i + 1) if i >= 0 else -1
if i >= 0 and j > i:
    text = text[:i] + block + text[j + len(end):]
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
tmp = path + ".tmp"
with open(tmp, "w") as f:
    f.write(text)
os.replace(tmp, path)
PY
  if [ -n "${BENCH_OUT:-}" ]; then cp "$2" "$BENCH_OUT/$1.md"; fi
}

# publish_section KEY FILE: prints FILE and writes it as section KEY (write_section).
publish_section() {
  cat "$2"
  write_section "$1" "$2"
}

# code_block FILE: FILE's text as a fenced markdown code block.
code_block() {
  echo '```'
  cat "$1"
  echo '```'
}

# headline KEY TEXT: a one-line headline for run-all's summary table.
headline() {
  if [ -n "${BENCH_OUT:-}" ]; then echo "$2" > "$BENCH_OUT/$1.headline"; fi
  echo "headline: $2"
}

# to_ms VALUE: a latency with a unit (250us, 250µs, 1.5ms, 1.02s, 1m2s) in milliseconds.
to_ms() {
  LC_ALL=C awk -v x="$1" 'BEGIN {
    if (x ~ /^[0-9.]+(us|µs)$/) { sub(/(us|µs)$/, "", x); printf "%.3f\n", x / 1000 }
    else if (x ~ /^[0-9.]+ms$/) { sub(/ms$/, "", x); printf "%.3f\n", x }
    else if (x ~ /^[0-9.]+m[0-9.]+s$/) { split(x, p, "m"); sub(/s$/, "", p[2]); printf "%.3f\n", (p[1] * 60 + p[2]) * 1000 }
    else if (x ~ /^[0-9.]+s$/) { sub(/s$/, "", x); printf "%.3f\n", x * 1000 }
    else if (x ~ /^[0-9.]+m$/) { sub(/m$/, "", x); printf "%.3f\n", x * 60000 }
    else print "nan" }'
}

# wrk_pct FILE PCT: wrk --latency's percentile line (50%, 99%) in ms.
wrk_pct() { to_ms "$(awk -v p="$2%" '$1 == p {print $2; exit}' "$1")"; }

# vegeta_pct RESULTS.bin KEY: vegeta's latency (50th, 90th, 99th, max) in ms.
vegeta_pct() {
  "$GOBIN_DIR/vegeta" report -type=json "$1" | python3 -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["latencies"][sys.argv[1]] / 1e6))' "$2"
}

# storm_pct FILE TABLE COLUMN: a column of agentstorm's summary, "all" line of
# the table titled TABLE ("All" or "All (corrected)"); COLUMN p50, p90, p99, ... in ms.
storm_pct() {
  local v
  v=$(awk -v t="$2" -v c="$3" '
    $0 == t {f = 1; next}
    f == 1 && $1 == "count" {for (i = 1; i <= NF; i++) col[$i] = i + 1; next}
    f == 1 && $1 == "all" {print $(col[c]); exit}' "$1")
  to_ms "$v"
}

# truth_fetch FILE: stallserver's /truth for the last run into FILE (needs ADMIN and RATE);
# truth_get FILE KEY: one figure from it.
truth_fetch() { curl -s "http://$ADMIN/truth?rate=$RATE" > "$1"; }
truth_get() { awk -v k="$2" '$1 == k {print $2}' "$1"; }

# stall_setup [STALLSERVER FLAG...]: the common start of vs-stall.sh and
# vs-accuracy.sh: peers (curl, wrk, vegeta) and our binaries, then
# bench/stallserver on 127.0.0.1:$PORT (admin on $APORT) with the given flags,
# and the open profile at $RATE sessions/s in $TMP/stall-open.yaml. Sets
# VEGETA, URL and ADMIN.
stall_setup() {
  ensure_apt curl curl
  ensure_apt wrk wrk
  ensure_go vegeta "github.com/tsenart/vegeta/v12@$VEGETA_VERSION"
  build_agentstorm
  VEGETA=$GOBIN_DIR/vegeta
  URL=http://127.0.0.1:$PORT/item
  ADMIN=127.0.0.1:$APORT
  start_bg "$BENCH_BIN/stallserver" -listen "127.0.0.1:$PORT" -admin "$ADMIN" "$@" > /dev/null
  wait_port "127.0.0.1:$PORT"
  wait_port "$ADMIN"
  sed "s/2000/$RATE/g" bench/profiles/stall-open.yaml > "$TMP/stall-open.yaml"
}

# vegeta_run: vegeta at $RATE/s for $SECS s against $URL, results in $TMP/r.bin.
vegeta_run() {
  timeout $((SECS + 60)) "$VEGETA" attack -rate "$RATE" -duration "${SECS}s" -targets <(echo "GET $URL") > "$TMP/r.bin"
}

# rotated I R TOOL...: the tool at place I in round R, the order rotating by one each round.
rotated() {
  local k=$1 r=$2
  shift 2
  local a=("$@")
  echo "${a[$(((k + r - 1) % ${#a[@]}))]}"
}

# h2load_spread CONNS RPS SECS: h2load arguments that make CONNS connections
# at a steady rate over one think time (1/RPS s) and give each enough requests
# for SECS s. h2load sends each connection's requests every 1/RPS s from its
# connect: with -D it connects all at once and then sends in waves (a
# process's whole round in ~0.25 s of every 2 s, which a server and h2load
# itself handle in large batches, cheaply); spread (-r per millisecond, -n in
# all, as -r excludes -D) its requests come as evenly as agents' think times.
h2load_spread() {
  LC_ALL=C awk -v c="$1" -v r="$2" -v s="$3" 'BEGIN {x = int(c * r / 1000 + 0.999); if (x < 1) x = 1; printf "-r %d --rate-period 1ms -n %d\n", x, c * int(s * r + 1)}'
}

# tree_pids PID: PID and all its descendants.
tree_pids() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" 2> /dev/null); do tree_pids "$c"; done
}
# sum_ticks PID...: the CPU ticks of the given processes together.
sum_ticks() { local p s=0; for p in "$@"; do s=$((s + $(cpu_ticks "$p"))); done; echo "$s"; }
# tree_ticks PID / tree_rss_kb PID: CPU ticks and RSS summed over PID's process tree.
# shellcheck disable=SC2046 # a list of PIDs
tree_ticks() { sum_ticks $(tree_pids "$1"); }
tree_rss_kb() { local p s=0; for p in $(tree_pids "$1"); do s=$((s + $(rss_kb "$p"))); done; echo "$s"; }

# sample_storm PID OUT: once a second, "epoch generator_ticks target_ticks" of PID's
# process tree (worker and run processes count as generator, target-shard as
# target; a process's last reading is kept after it exits) until PID exits. One
# python3 process reads /proc: a shell loop forking pgrep, tr and awk for each
# process took a tenth of a core on a 2-core VM, from the storm it measured.
sample_storm() {
  python3 - "$1" "$2" << 'PY'
import os, sys, time
pid, out = int(sys.argv[1]), sys.argv[2]
gen, tgt = {}, {}
def ticks(p):
    with open("/proc/%d/stat" % p) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
def children(p):
    # Each thread lists the children it forked; Go forks from any thread.
    kids = set()
    for t in os.listdir("/proc/%d/task" % p):
        try:
            with open("/proc/%d/task/%s/children" % (p, t)) as f:
                kids.update(int(c) for c in f.read().split())
        except OSError:
            pass
    return kids
with open(out, "a") as o:
    while os.path.exists("/proc/%d" % pid):
        # A process that exits between two reads keeps its last reading.
        try:
            gen[pid] = ticks(pid)
            kids = children(pid)
        except (OSError, ValueError, IndexError):
            kids = ()
        for c in kids:
            try:
                with open("/proc/%d/cmdline" % c, "rb") as f:
                    args = f.read().replace(b"\0", b" ")
                if b" worker " in args:
                    gen[c] = ticks(c)
                elif b" target-shard " in args:
                    tgt[c] = ticks(c)
            except (OSError, ValueError, IndexError):
                pass
        o.write("%.3f %d %d\n" % (time.time(), sum(gen.values()), sum(tgt.values())))
        o.flush()
        time.sleep(1)
PY
}

# run_sampled DIR CMD...: runs CMD in DIR (its output in DIR/out.txt) while
# sample_storm samples its processes into DIR/cpu; sets RUN_CODE to its exit
# code.
run_sampled() {
  local dir=$1 pid spid
  shift
  (cd "$dir" && exec "$@") > "$dir/out.txt" 2>&1 &
  pid=$!
  sample_storm "$pid" "$dir/cpu" &
  spid=$!
  RUN_CODE=0
  wait "$pid" || RUN_CODE=$?
  wait "$spid" || true
}
