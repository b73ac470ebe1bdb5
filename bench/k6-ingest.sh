#!/usr/bin/env bash
# bench/k6-ingest.sh: `agentstorm k6 ingest` on a generated k6 --out json
# file, end to end (the CLI, with an hlog and an HTML report written):
# wall time, points per second and peak RSS, for a small and a large file,
# so memory can be seen not to grow with the file. Rounds alternate sizes;
# medians are reported. The file is what `k6 run --out json=FILE` writes
# for an HTTP script: per request http_reqs, http_req_duration,
# http_req_waiting and http_req_failed points (four lines), plus a checks
# point every tenth request.
#
#   bench/k6-ingest.sh            N=5000000 points (large) and N/10 (small), 3 rounds
#   N=1000000 ROUNDS=1 bench/k6-ingest.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init
build_agentstorm

N=${N:-5000000}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-20000} # k6 points per second of k6 time

# gen POINTS FILE: a k6 JSON output file of about POINTS lines.
gen() {
  LC_ALL=C awk -v n="$1" -v rate="$RATE" 'BEGIN {
    split("add_to_cart checkout view_product search pay", st, " ")
    reqs = int(n / 4.1)
    for (i = 0; i < reqs; i++) {
      off = int(i * 4.1 / rate); h = 16 + int(off / 3600); m = int(off % 3600 / 60); s = off % 60
      t = sprintf("2026-11-26T%02d:%02d:%02d.%06d+00:00", h, m, s, (i * 4.1 % rate) * int(1000000 / rate))
      name = st[i % 5 + 1]; lat = (i % 997) * 0.173 + 0.5; status = (i % 250 == 0) ? "503" : "200"
      ok = (status == "200") ? "true" : "false"
      tags = sprintf("{\"expected_response\":\"%s\",\"group\":\"\",\"method\":\"POST\",\"name\":\"%s\",\"proto\":\"HTTP/1.1\",\"scenario\":\"default\",\"status\":\"%s\",\"tls_version\":\"\",\"url\":\"http://127.0.0.1:8081/%s\"}", ok, name, status, name)
      printf "{\"metric\":\"http_reqs\",\"type\":\"Point\",\"data\":{\"time\":\"%s\",\"value\":1,\"tags\":%s}}\n", t, tags
      printf "{\"metric\":\"http_req_duration\",\"type\":\"Point\",\"data\":{\"time\":\"%s\",\"value\":%.6f,\"tags\":%s}}\n", t, lat, tags
      printf "{\"metric\":\"http_req_waiting\",\"type\":\"Point\",\"data\":{\"time\":\"%s\",\"value\":%.6f,\"tags\":%s}}\n", t, lat * 0.9, tags
      printf "{\"metric\":\"http_req_failed\",\"type\":\"Point\",\"data\":{\"time\":\"%s\",\"value\":%d,\"tags\":%s}}\n", t, (status == "200") ? 0 : 1, tags
      if (i % 10 == 0) printf "{\"metric\":\"checks\",\"type\":\"Point\",\"data\":{\"time\":\"%s\",\"value\":%d,\"tags\":{\"check\":\"status is 200\",\"group\":\"\",\"scenario\":\"default\"}}}\n", t, (status == "200")
    }
  }' > "$2"
}

SMALL=$((N / 10))
echo "generating $N and $SMALL points..."
gen "$N" "$TMP/large.json"
gen "$SMALL" "$TMP/small.json"

declare -A WALL RSS PTS
for r in $(seq "$ROUNDS"); do
  for size in small large; do
    f=$TMP/$size.json
    /usr/bin/time -f "%e %M" -o "$TMP/time" "$AGENTSTORM" k6 ingest "$f" --trend http_req_waiting \
      --budget 'name=checkout p99 < 200ms' --out hlog="$TMP/$size.hlog" --out html="$TMP/$size.html" > "$TMP/$size.out" || true
    read -r wall rss < "$TMP/time"
    lines=$(wc -l < "$f")
    WALL[$size]+="$wall "
    RSS[$size]+="$rss "
    PTS[$size]=$lines
    echo "round $r $size: $lines points in ${wall}s, peak RSS ${rss} KB"
  done
done

med() { tr ' ' '\n' | grep -v '^$' | median; }
OUT=$TMP/section.md
{
  echo "## agentstorm k6 ingest: k6 JSON results into the HDR recorder"
  echo
  machine_line
  echo
  echo "Generated k6 \`--out json\` files (per request: http_reqs, http_req_duration, http_req_waiting,"
  echo "http_req_failed; checks every tenth request; 5 steps; $RATE points per second of k6 time)."
  echo "Command: \`agentstorm k6 ingest FILE --trend http_req_waiting --budget 'name=checkout p99 < 200ms' --out hlog=… --out html=…\`"
  echo "(one process, reading and parsing on one goroutine). Medians of $ROUNDS rounds, sizes alternating."
  echo
  echo "| file | points | size | wall (median) | points/s | peak RSS |"
  echo "|---|---:|---:|---:|---:|---:|"
  for size in small large; do
    w=$(echo "${WALL[$size]}" | med)
    m=$(echo "${RSS[$size]}" | med)
    bytes=$(stat -c %s "$TMP/$size.json")
    echo "| $size | $(fmt_int "${PTS[$size]}") | $((bytes / 1048576)) MiB | ${w} s | $(fmt_int "$(awk -v p="${PTS[$size]}" -v w="$w" 'BEGIN {print p / w}')") | $((m / 1024)) MiB |"
  done
} > "$OUT"
finish_machine_line "$OUT"
write_section k6-ingest "$OUT"
cat "$OUT"
