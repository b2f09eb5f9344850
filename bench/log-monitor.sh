#!/usr/bin/env bash
# Benchmark of `weightseal log monitor`: a log of N entries (signed releases of org/model-0 ..
# org/model-999, made by examples/log-bench and appended with `log add --entries`), served by
# `weightseal log serve` on 127.0.0.1, read from scratch by the monitor. Reports entries/s and
# peak RSS (/usr/bin/time) for two watches: one model (org/model-7: 1/1000 of the entries,
# each checked against the publisher key) and every model (org/*: every entry checked).
#
#   bench/log-monitor.sh [N]        (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
cargo build --release --quiet
cargo build --release --quiet --example log-bench
WS=$PWD/target/release/weightseal
LB=$PWD/target/release/examples/log-bench
D=bench/data/log-monitor-$N
if [ ! -f "$D/log/checkpoint" ] || [ "$(cat "$D/.size" 2>/dev/null)" != "$N" ]; then
  rm -rf "$D"
  mkdir -p "$D/batches"
  "$LB" entries "$N" "$D/entries.txt"
  split -l 100000 -d -a 4 "$D/entries.txt" "$D/batches/b"
  "$WS" keygen --out "$D/log.key" >/dev/null
  "$WS" log init "$D/log" --origin bench.example/log --key "$D/log.key" 2>/dev/null | head -1 > "$D/vkey"
  for b in "$D"/batches/b*; do
    "$WS" log add "$D/log" --key "$D/log.key" --entries "$b" >/dev/null
  done
  rm -rf "$D/batches" "$D/entries.txt"
  echo "$N" > "$D/.size"
fi
VKEY=$(cat "$D/vkey")
"$WS" log serve "$D/log" --key "$D/log.key" --listen 127.0.0.1:0 2> "$D/serve.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "http://" "$D/serve.err" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' "$D/serve.err" | head -1)
run() {
  local pattern=$1 label=$2
  local times=()
  for i in 1 2 3; do
    rm -f "$D/state.json"
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$D/rss" "$WS" log monitor "$URL" --log-key "$VKEY" --model "$pattern" \
      --key "$D/entries.txt.pub" --state "$D/state.json" --max-entries "$N" --json > "$D/report.json" 2>/dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc) $(cat "$D/rss")")
  done
  python3 - "$N" "$label" "${times[@]}" <<'PY'
import statistics, sys
n, label = int(sys.argv[1]), sys.argv[2]
runs = [tuple(map(float, a.split())) for a in sys.argv[3:]]
secs = statistics.median(r[0] for r in runs)
rss = max(r[1] for r in runs) / 1024
print(f"monitor, watching {label}: {n} entries in {secs:.2f} s = {n / secs:,.0f} entries/s (median of {len(runs)}), peak RSS {rss:.1f} MiB")
PY
}
run 'org/model-7' 'one model (1/1000 of the entries)'
run 'org/*' 'every model (every entry checked)'
