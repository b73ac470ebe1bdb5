#!/usr/bin/env bash
# fsync-prewritten.sh: what an order-log commit's fdatasync costs when the write extends the
# file (as the bundled checkout's log does) and when it lands in space written beforehand
# (bench/probes/fsync). N (default 2000) pwrite+fdatasync of SIZES bytes each, ROUNDS
# rounds alternating, in a file under DIR (default the repository's disk). Prints µs of CPU
# and of wall time an operation, per round and the medians. Prints only.
#
#   bash bench/fsync-prewritten.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${N:-2000}
ROUNDS=${ROUNDS:-2}
SIZES=${SIZES:-"4096 20000"}
DIR=${DIR:-$BENCH_REPO}
bench_init
ensure_apt gcc gcc
gcc -O2 -Wall -o "$TMP/fsync_prewritten" bench/probes/fsync/fsync_prewritten.c
file="$DIR/.fsync-prewritten.$$"
echo "$(nproc) cores, $(uname -sr), $(findmnt -no FSTYPE,OPTIONS -T "$DIR" | cut -c1-60); $N ops a run"
echo "mode size cpu_us/op wall_us/op"
for r in $(seq 1 "$ROUNDS"); do
  for size in $SIZES; do
    for mode in a p; do
      "$TMP/fsync_prewritten" "$mode" "$N" "$size" "$file" | tee -a "$TMP/rows"
    done
  done
done
for size in $SIZES; do
  for mode in growing pre-written; do
    printf 'median %s %s: %s µs CPU, %s µs wall an op\n' "$mode" "$size" \
      "$(awk -v m="$mode" -v s="$size" '$1 == m && $2 == s {print $3}' "$TMP/rows" | median)" \
      "$(awk -v m="$mode" -v s="$size" '$1 == m && $2 == s {print $4}' "$TMP/rows" | median)"
  done
done
