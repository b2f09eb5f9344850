#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10^7) from its committed seeds, keeping
# new inputs in fuzz/work/TARGET (not committed) and crashes in fuzz/artifacts/TARGET.
# Usage: fuzz/run.sh [RUNS] [TARGET...]   (needs the nightly toolchain and cargo-fuzz)
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${1:-10000000}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(manifest safetensors gguf envelope policy response tlog)
cargo +nightly fuzz build -O
for t in "${TARGETS[@]}"; do
  mkdir -p "work/$t"
  echo "== $t: $RUNS runs"
  cargo +nightly fuzz run -O "$t" "work/$t" "seeds/$t" -- \
    -runs="$RUNS" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|SUMMARY|panicked|ERROR" || true
done
