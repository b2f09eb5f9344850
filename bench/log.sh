#!/usr/bin/env bash
# Benchmark of the transparency log: append N entries with `weightseal log add --entries` in
# batches (each entry admitted as POST /add admits it, and its attestation verified under the
# publisher key, before it is added),
# then report entries/s, tile bytes per entry against the entries' own bytes, the size of a
# proof at that log size, and the time to verify it (in process, median of 1000).
#
#   bench/log.sh [N] [BATCH]        (defaults: 1000000 entries, batches of 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BATCH=${2:-100000}
cargo build --release --quiet
cargo build --release --quiet --example log-bench
WS=target/release/weightseal
LB=target/release/examples/log-bench
D=bench/data/log-$N
rm -rf "$D"
mkdir -p "$D"
"$WS" keygen --out "$D/log.key" >/dev/null
VKEY=$("$WS" log init "$D/log" --origin bench.example/log --key "$D/log.key" 2>/dev/null | head -1)
# Each batch of signed entries is made (not timed), appended (timed), then deleted: a log of
# 10^7 entries needs no 15 GB entry file. The first batch is kept for the per-entry sizes.
secs=0
made=0
b=0
while [ "$made" -lt "$N" ]; do
  n=$(( N - made < BATCH ? N - made : BATCH ))
  f="$D/batch-$b.txt"
  "$LB" entries "$n" "$f" "$made"
  sync
  start=$(date +%s.%N)
  "$WS" log add "$D/log" --key "$D/log.key" --entries "$f" --publisher-key "$f.pub" >/dev/null
  end=$(date +%s.%N)
  secs=$(echo "$secs + $end - $start" | bc)
  [ "$b" -eq 0 ] && cp "$f" "$D/first-batch.txt" && cp "$f.pub" "$D/entries.txt.pub"
  rm -f "$f" "$f.pub"
  made=$(( made + n ))
  b=$(( b + 1 ))
done
echo "appended $N entries in $b batches of up to $BATCH ($secs s appending; making the signed entries not counted)"
# One real release at the end, for a proof at this size.
M="$D/model"
mkdir -p "$M"
head -c 100000 /dev/urandom > "$M/w.bin"
"$WS" keygen --out "$D/pub.key" >/dev/null
"$WS" hash "$M" --name org/bench >/dev/null 2>&1
"$WS" sign "$M" --key "$D/pub.key" --version 1 >/dev/null 2>&1
"$WS" log add "$D/log" --key "$D/log.key" "$M" >/dev/null 2>&1
python3 - "$D" "$N" "$secs" "$VKEY" "$LB" "$WS" <<'PY'
import base64, os, subprocess, sys, time, statistics
d, n, secs, vkey, lb, ws = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
entry_bytes = 0
# Every entry has the same shape (its numbers aside): the first batch's mean, times N.
with open(os.path.join(d, "first-batch.txt")) as f:
    sizes = [len(base64.b64decode(line.strip())) for line in f]
entry_bytes = sum(sizes) / len(sizes) * n
tiles = {"entries": 0, "hashes": 0}
for root, _, files in os.walk(os.path.join(d, "log", "tile")):
    kind = "entries" if "/tile/entries" in root else "hashes"
    for x in files:
        p = os.path.join(root, x)
        # Count only the newest file of each tile (partial tiles superseded by fuller ones are
        # kept, as tlog-tiles allows, and are not part of the steady state).
        if ".p" not in p.split(os.sep):
            tiles[kind] += os.path.getsize(p)
proof = os.path.join(d, "model", "weightseal.tlog-proof")
us = subprocess.check_output([lb, "verify", proof, vkey, "1000"], text=True).strip()
runs = []
for _ in range(5):
    t = time.perf_counter()
    subprocess.run([ws, "verify", os.path.join(d, "model"), "--log-key", vkey, "--integrity-only"], check=True, capture_output=True)
    runs.append(time.perf_counter() - t)
total = n + 1
print(f"entries appended:        {n} in {secs:.2f} s = {n / secs:,.0f} entries/s (attestations verified)")
print(f"entry bytes:             {entry_bytes / n:.1f} per entry")
print(f"entry bundles (full):    {tiles['entries'] / total:.1f} bytes per entry = entries x {tiles['entries'] / (entry_bytes + 2 * n):.3f} (with the 2-byte length)")
print(f"hash tiles (full):       {tiles['hashes'] / total:.1f} bytes per entry")
print(f"tiles / entry bytes:     {(tiles['entries'] + tiles['hashes']) / entry_bytes:.3f}x (goal: <= 1.1x + 32 B/entry = {(1.1 * entry_bytes + 32 * n) / entry_bytes:.3f}x)")
print(f"proof at size {total}:    {os.path.getsize(proof)} bytes")
print(f"proof verification:      {us} us (in process, median of 1000)")
print(f"weightseal verify --log-key (whole process, 100 KB model): {statistics.median(runs) * 1000:.1f} ms median of 5")
PY
