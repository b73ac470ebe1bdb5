#!/usr/bin/env bash
# target-idle.sh: RSS of one target shard process holding CONNS (default 12,500) idle
# keep-alive connections opened from 4 loopback source addresses (bench/target-idle).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/shard" ./bench/target-shard
go run ./bench/target-idle --shard-bin "$tmp/shard" --conns "${CONNS:-12500}" --sources "${SOURCES:-4}"
