#!/usr/bin/env bash
# Benchmark: `hash --update` + `sign` after a config edit, on a 256 GiB model (issue 25, 3).
#
#   bench/update.sh [SIZE_GIB] [FULL_GIB]        (defaults: 256 GiB, none)
#
# Makes a sparse model (`truncate -s`: 8 shards of SIZE_GIB/8 plus config.json; sparse files
# take no disk space, so no free space is needed) under a temporary directory, hashes it once
# with --update (a full hash: no stat record yet), waits out the racy window, edits
# config.json, then times `hash --update` followed by `sign`: the target is at most 1 s in
# total. The first `hash --update` is the full hash of SIZE_GIB (every byte read; holes read
# as zeros, at memory speed rather than disk speed, so a real model hashes no faster); with
# FULL_GIB a plain `hash` of another sparse model of that size is timed too. The stat record
# goes to a temporary WEIGHTSEAL_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_GIB=${1:-256}
FULL_GIB=${2:-}
cargo build --release --quiet --bin weightseal
WS=$PWD/target/release/weightseal
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export WEIGHTSEAL_CACHE=$WORK/cache

make_model() { # DIR GIB
  mkdir -p "$1"
  for i in 1 2 3 4 5 6 7 8; do
    truncate -s $(( $2 * 1024 / 8 ))M "$1/model-0000$i-of-00008.bin"
  done
  echo '{"hidden_size": 4096, "num_layers": 32}' > "$1/config.json"
}
now() { date +%s.%N; }
secs() { awk "BEGIN { printf \"%.3f\", $2 - $1 }"; }

M=$WORK/model
make_model "$M" "$SIZE_GIB"
echo "model: $(du -sh --apparent-size "$M" | cut -f1) apparent, $(du -sh "$M" | cut -f1) on disk, $(nproc) cores"
"$WS" keygen --out "$WORK/key" >/dev/null

# Past the racy window: a file changed within the second before the record is re-read, and
# the record is taken when hashing starts.
sleep 2.2
t0=$(now)
"$WS" hash "$M" --update 2>/dev/null >/dev/null
t1=$(now)
full=$(secs "$t0" "$t1")
echo "full hash (first hash --update, no record yet), ${SIZE_GIB} GiB: $full s ($(awk "BEGIN { printf \"%.2f\", $SIZE_GIB / $full }") GiB/s)"

# Edit, then update and sign at once (sign re-reads config.json again: it is still in the
# racy window of the record hash --update just wrote).
echo '{"hidden_size": 4096, "num_layers": 33}' > "$M/config.json"
t0=$(now)
"$WS" hash "$M" --update 2>"$WORK/hash.err" >/dev/null
t1=$(now)
"$WS" sign "$M" --key "$WORK/key" --signer bench 2>"$WORK/sign.err" >/dev/null
t2=$(now)
grep -h "re-hashed" "$WORK/hash.err" "$WORK/sign.err" | sed 's/^/  /'
echo "after editing config.json, ${SIZE_GIB} GiB: hash --update $(secs "$t0" "$t1") s + sign $(secs "$t1" "$t2") s = $(secs "$t0" "$t2") s (target: at most 1 s)"

if [ -n "$FULL_GIB" ]; then
  F=$WORK/full
  make_model "$F" "$FULL_GIB"
  t0=$(now)
  "$WS" hash "$F" -o "$WORK/full.manifest" 2>/dev/null >/dev/null
  t1=$(now)
  full=$(secs "$t0" "$t1")
  echo "full hash (plain hash), ${FULL_GIB} GiB: $full s ($(awk "BEGIN { printf \"%.2f\", $FULL_GIB / $full }") GiB/s)"
fi
