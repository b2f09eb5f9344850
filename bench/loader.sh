#!/usr/bin/env bash
# Benchmark: weightseal's verified safetensors loader against the safetensors package's own
# NumPy loader, on the same file, in the same run.
#
#   bench/loader.sh [SIZE_MIB] [RUNS]        (defaults: 1024 MiB, 7 runs)
#
# Builds the Python package in release mode (maturin) into bench/.pkg (not into .venv, which
# holds the test build), writes one safetensors file of float32 tensors of mixed sizes with
# safetensors.numpy.save_file under bench/data/ (reused when present), hashes it, reads it once
# to warm the page cache, then alternates `safetensors.numpy.load_file(path)` and
# `weightseal.safetensors.load_file(path, digest=...)` (each tensor read into its array and
# its BLAKE3 checked against the manifest) RUNS times, and prints medians and the ratio. The
# .venv of scripts/test.sh provides numpy, safetensors and maturin.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
RUNS=${2:-7}
VENV="$PWD/.venv"
[ -x "$VENV/bin/maturin" ] || { echo "run scripts/test.sh once first (it prepares .venv)"; exit 2; }
(cd python && "$VENV/bin/maturin" build --quiet --release -i "$VENV/bin/python" -o ../target/wheels-release)
rm -rf bench/.pkg
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps --target bench/.pkg target/wheels-release/weightseal-*.whl
PYTHONPATH="$PWD/bench/.pkg" "$VENV/bin/python" - "$SIZE_MIB" "$RUNS" <<'PY'
import os, statistics, sys, time
import numpy as np
import safetensors.numpy
import weightseal
from weightseal.safetensors import load_file

mib, runs = int(sys.argv[1]), int(sys.argv[2])
d = f"bench/data/loader-{mib}m"
path = os.path.join(d, "model.safetensors")
if not os.path.exists(os.path.join(d, ".complete")):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(0)
    tensors, left, i = {}, mib << 20, 0
    # Mixed sizes, as in a transformer: large matrices, and small norms and biases.
    while left > 0:
        big = min(left, (32 << 20) if i % 2 == 0 else (8 << 20))
        tensors[f"model.layers.{i}.mlp.weight"] = rng.standard_normal(big // 4, dtype=np.float32).reshape(-1, 1024)
        tensors[f"model.layers.{i}.norm.weight"] = rng.standard_normal(4096, dtype=np.float32)
        left -= big
        i += 1
    safetensors.numpy.save_file(tensors, path)
    del tensors
    open(os.path.join(d, ".complete"), "w").close()
m = weightseal.hash(d, name="bench/loader")
size = os.path.getsize(path)
print(f"weightseal {weightseal.__version__}: {path}: {size / 2**20:.0f} MiB, {sum(len(f.tensors or ()) for f in m.files)} tensors, {os.cpu_count()} CPUs")
with open(path, "rb") as f:  # warm the page cache
    while f.read(1 << 24):
        pass

def timed(fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    del out
    return dt

ref, ours = [], []
for _ in range(runs):
    ref.append(timed(lambda: safetensors.numpy.load_file(path)))
    ours.append(timed(lambda: load_file(path, digest=m.digest)))
a, b = statistics.median(ref), statistics.median(ours)
gb = size / 1e9
print(f"safetensors.numpy.load_file        median {a:.3f} s  ({gb / a:.2f} GB/s)  runs {' '.join(f'{x:.3f}' for x in ref)}")
print(f"weightseal.safetensors.load_file   median {b:.3f} s  ({gb / b:.2f} GB/s)  runs {' '.join(f'{x:.3f}' for x in ours)}")
print(f"ratio weightseal / safetensors: {b / a:.2f}x  (goal: under 1.3x)")
PY
