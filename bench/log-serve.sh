#!/usr/bin/env bash
# Benchmark of `weightseal log serve` under load: N distinct signed releases (made beforehand by
# `log-bench entries`, not timed) submitted with POST /add from CLIENTS concurrent clients, each
# one submission at a time over a keep-alive connection, each answer's proof checked under the
# log key before the client's next submission; the server requires the publisher signature
# (--require-signed-by), and answers only once the checkpoint that includes the entry is
# fsynced. Then the same again with IDLE more connections held open doing nothing, reopened
# whenever the server drops them. Prints entries/s, submission latency p50/p99/max, the latency
# of a GET /checkpoint made every 100 ms meanwhile, the server's peak RSS and the log's size.
#
#   bench/log-serve.sh [N] [CLIENTS] [IDLE]   (defaults: 100000 entries, 64 clients, 1000 idle)
#   BATCH_MS=... BATCH_MAX=... bench/log-serve.sh   (log serve's --batch-ms and --batch-max)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
CLIENTS=${2:-64}
IDLE=${3:-1000}
cargo build --release --quiet
cargo build --release --quiet --example log-bench
WS=target/release/weightseal
LB=target/release/examples/log-bench
D=bench/data/log-serve-$N
rm -rf "$D"
mkdir -p "$D"
"$LB" entries "$N" "$D/entries.txt"
"$WS" keygen --out "$D/log.key" >/dev/null
ulimit -n 8192 2>/dev/null || true
extra=()
[ -n "${BATCH_MS:-}" ] && extra+=(--batch-ms "$BATCH_MS")
[ -n "${BATCH_MAX:-}" ] && extra+=(--batch-max "$BATCH_MAX")

run() { # LABEL IDLE LOGDIR
  local vkey pid addr
  vkey=$("$WS" log init "$3" --origin bench.example/serve --key "$D/log.key" 2>/dev/null | head -1)
  sync
  "$WS" log serve "$3" --key "$D/log.key" --listen 127.0.0.1:0 \
    --require-signed-by "$D/entries.txt.pub" ${extra[@]+"${extra[@]}"} 2>"$D/serve.err" &
  pid=$!
  for _ in $(seq 200); do grep -q "http://" "$D/serve.err" && break; sleep 0.05; done
  addr=$(grep -o 'http://[0-9.:]*' "$D/serve.err" | head -1)
  echo "== $1 (log serve ${extra[*]:-with its default batching})"
  "$LB" load "${addr#http://}" "$D/entries.txt" "$vkey" "$CLIENTS" "$2"
  echo "server peak RSS $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pid/status"); log directory $(du -sh "$3" | cut -f1)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

# Each run in a new log directory; all removed at the end, not before the next run (on a file
# system without a journal, ext4 passes over recently deleted inodes when it allocates one, so
# a run right after deleting the last one's many files measures that).
run "$N submissions, $CLIENTS clients" 0 "$D/log-1"
run "$N submissions, $CLIENTS clients, $IDLE idle connections held open" "$IDLE" "$D/log-2"
rm -rf "$D"
