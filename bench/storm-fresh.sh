#!/usr/bin/env bash
# storm-fresh.sh: the default storm as a new user meets it (issue 13, bar 3).
# Clones the repository (REPO, default this checkout; REV, default HEAD) into
# a temporary directory, builds agentstorm there, then runs
#
#   agentstorm run                  (default profile agent-storm, unchanged:
#                                    50,000 agents, exp(2s), 0 -> 50,000 in 6 s,
#                                    hold 60 s, -> 0 in 5 s; bundled target)
#
# RUNS times in a row (default 3), the first right after the build, each in
# a fresh working directory. Samples the CPU of every process of the run
# once a second: the generator (the run process, which coordinates, and its
# worker processes) and the target (the shard processes). Prints per run:
# the ramp (time until all 50,000 were connected), failed dials, req/s held
# (median second of the hold), corrected p99 per write step, budgets and
# exit code, the sessions abandoned (share; how many in the ramp's first 9 s
# and after), and generator and target CPU (cores) during the hold (from
# 10 s to 60 s after the storm's start). Writes the table into bench/RESULTS.md
# (section storm-fresh).
#
#   bash bench/storm-fresh.sh
set -euo pipefail
RUNS=${RUNS:-3}
source "$(dirname "$0")/lib.sh"
REPO=${REPO:-$BENCH_REPO}
REV=${REV:-HEAD}
bench_init
if pgrep -f 'agentstorm (run|worker|target-shard)' > /dev/null; then
  echo "warning: agentstorm processes are already running; the first run is not on a fresh machine" >&2
fi
build_at "$REV" ./cmd/agentstorm "$TMP/agentstorm" "$REPO"
rev=$BUILT_REV
echo "built agentstorm $rev from a clean clone of $REPO"

: > "$TMP/rows"
for r in $(seq 1 "$RUNS"); do
  dir=$TMP/run$r
  mkdir -p "$dir"
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  run_sampled "$dir" "$TMP/agentstorm" run --out "json=$dir/run.json"
  python3 - "$dir" "$r" "$RUN_CODE" "$CLK_TCK" "$load0" << 'PY' | tee -a "$TMP/rows"
import datetime, json, re, statistics, sys
d, run, code, hz, load0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
out = open(d + "/out.txt").read()
m = re.search(r"Ramp: (.*?)\.\n", out)
ramp = m.group(1) if m else "?"
m = re.search(r"all [\d,]+ agents of the peak connected ([\d.]+)s", out)
ramp = m.group(1) + " s" if m else ramp
m = re.search(r"Connections: ([\d,]+) dials, ([\d,]+) failed", out)
failed = m.group(2) if m else "?"
try:
    j = json.load(open(d + "/run.json"))
except Exception:
    print("| %s | run failed, no JSON (exit %s) | | | | | | | | | |" % (run, code))
    sys.exit()
start = datetime.datetime.fromisoformat(j["start"].replace("Z", "+00:00")).timestamp()
hold = [s["rps"] for s in j.get("series", []) if 8 <= s["at_seconds"] <= 64]
rps = "%.0f" % statistics.median(hold) if hold else "?"
p99 = ", ".join("%s %.0f ms" % (s["step"], s["corrected_latency"]["p99_ms"]) for s in j["steps"] if s.get("write"))
met = sum(1 for b in j.get("budgets", []) if b["met"])
budgets = "%d of %d met" % (met, len(j.get("budgets", [])))
# Abandoned sessions: the run's share, and how many ended in the ramp's
# seconds (to 9 s: the connect storm and its backlog) and after.
ended = lambda f: sum(s["sessions"]["abandoned"] for s in j.get("series", []) if f(s["at_seconds"]))
share = j["overall"]["sessions"].get("abandoned_share")
abandoned = "%s (%d by 9 s, %d after)" % ("%.1f%%" % (100 * share) if share is not None else "?", ended(lambda t: t <= 9), ended(lambda t: t > 9))
rows = [tuple(map(float, l.split())) for l in open(d + "/cpu") if l.strip()]
def at(t):
    return min(rows, key=lambda x: abs(x[0] - t))
a, b = at(start + 10), at(start + 60)
span = b[0] - a[0]
if span > 30:
    gen = "%.2f" % ((b[1] - a[1]) / hz / span)
    tgt = "%.2f" % ((b[2] - a[2]) / hz / span)
else:
    gen = tgt = "?"
busy = j.get("figures", {}).get("machine_busy")
busy = "%.0f%%" % busy if busy is not None else "?"
print("| %s | %s | %s | %s | %s | %s, exit %s | %s | %s | %s | %s | %s |" % (run, ramp, failed, rps, p99, budgets, code, abandoned, gen, tgt, busy, load0))
PY
done
{
  echo "## The default storm from a clean clone (\`bench/storm-fresh.sh\`)"
  echo
  echo "$(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr), $(go version | awk '{print $3}');"
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); agentstorm $rev built from a clean clone, then \`agentstorm run\` (default profile) $RUNS times in a row."
  echo "CPU in cores during the hold (10 s to 60 s after the storm's start): generator = the run process and its workers, target = the shard processes."
  echo
  echo "| run | ramp to 50,000 connected | failed dials | req/s held (median second) | corrected p99 per write step | budgets | sessions abandoned | generator CPU | target CPU | machine busy (the run's machine_busy) | load avg before |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  cat "$TMP/rows"
} > "$TMP/section.md"
publish_section storm-fresh "$TMP/section.md"
