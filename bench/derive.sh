#!/usr/bin/env bash
# Benchmark: `weightseal derive check` (a derived release recomputed from its signed base)
# against the peer that made it, gguf-py's `gguf.quants.quantize` / NumPy, on the same data.
#
#   bench/derive.sh [SIZE_MIB] [RUNS]        (defaults: 2048 MiB of F32 base, 3 runs)
#
# Makes (under bench/data/derive-SIZE/, reused when present) an F32 base of 256 MiB tensors in
# 512 MiB safetensors shards, signed; its F16 cast (NumPy astype); its Q8_0 and Q4_0 GGUF
# conversions (gguf-py quantize, GGUFWriter). Warms the page cache, then times `derive check`
# for each (all cores, and pinned to one core with RAYON_NUM_THREADS=1 taskset -c 0), and prints
# the median wall time, base GB/s, base GB/s per core, peak RSS against the bound (2 x the
# largest tensor + 64 MiB), the time the peer took to make the same derivation, and b3sum over
# the base as a reference. Needs the .venv of scripts/test.sh (numpy, gguf, safetensors).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-2048}
RUNS=${2:-3}
PY=${WEIGHTSEAL_PYTHON:-.venv/bin/python}
DATA=bench/data/derive-${SIZE_MIB}m
command -v b3sum >/dev/null || cargo install b3sum --locked
cargo build --release --quiet
WS=$PWD/target/release/weightseal

"$PY" - "$DATA" "$SIZE_MIB" "$WS" <<'PY'
import json, os, subprocess, sys, time
import numpy as np
import gguf
from safetensors.numpy import save_file
d, mib, ws = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if os.path.exists(os.path.join(d, ".complete")):
    sys.exit(0)
os.makedirs(d, exist_ok=True)
base = os.path.join(d, "base")
f16 = os.path.join(d, "f16")
os.makedirs(base, exist_ok=True)
os.makedirs(f16, exist_ok=True)
tensor_mib = min(256, mib)
n = mib // tensor_mib
cols = 4096
rows = (tensor_mib << 20) // 4 // cols
rng = np.random.default_rng(0)
per_shard = max(1, 512 // tensor_mib)
names = [f"model.layers.{i}.mlp.up_proj.weight" for i in range(n)]
peer = {}
writers = {q: gguf.GGUFWriter(os.path.join(d, f"{q.name}.gguf"), "llama") for q in (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0)}
for q in writers:
    peer[q.name] = 0.0
peer["F16"] = 0.0
for s in range(0, n, per_shard):
    part = {}
    for name in names[s:s + per_shard]:
        x = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
        part[name] = x
        t = time.perf_counter()
        h = x.astype(np.float16)
        peer["F16"] += time.perf_counter() - t
        save_file({name: h}, os.path.join(f16, f"f16-{s:05d}.safetensors"))
        for q, w in writers.items():
            t = time.perf_counter()
            b = gguf.quants.quantize(x, q)
            peer[q.name] += time.perf_counter() - t
            w.add_tensor(name, b, raw_shape=b.shape, raw_dtype=q)
    save_file(part, os.path.join(base, f"model-{s // per_shard + 1:05d}.safetensors"))
for w in writers.values():
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
subprocess.run([ws, "keygen", "--out", os.path.join(d, "publisher.key")], check=True)
subprocess.run([ws, "sign", base, "--key", os.path.join(d, "publisher.key")], check=True, stderr=subprocess.DEVNULL)
for x in ("f16", "Q8_0.gguf", "Q4_0.gguf"):
    subprocess.run([ws, "hash", os.path.join(d, x)], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
with open(os.path.join(d, "peer.json"), "w") as f:
    json.dump(peer, f)
open(os.path.join(d, ".complete"), "w").close()
PY

"$PY" - "$WS" "$DATA" "$RUNS" <<'PY'
import glob, json, os, statistics, subprocess, sys
ws, d, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = os.path.join(d, "base")
key = os.path.join(d, "publisher.key.pub")
shards = sorted(glob.glob(os.path.join(base, "*.safetensors")))
total = sum(os.path.getsize(f) for f in shards)
largest = 256 << 20

def run(cmd, env=None):
    probe = ("import resource,subprocess,sys,time;t=time.perf_counter();"
             "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
             "w=time.perf_counter()-t;"
             "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, check=True, env=env).stdout.split()
    if out[2] != "0":
        sys.exit(f"command failed ({out[2]}): {' '.join(cmd)}")
    return float(out[0]), int(out[1]) * 1024

for f in glob.glob(os.path.join(d, "**", "*"), recursive=True):   # warm the page cache
    if os.path.isfile(f):
        with open(f, "rb") as fh:
            while fh.read(1 << 24):
                pass
cores = os.cpu_count()
peer = json.load(open(os.path.join(d, "peer.json")))
print(f"base: {total / 2**30:.2f} GiB F32 in {len(shards)} shard(s), tensors of 256 MiB; {cores} core(s)")
print(f"{'command':34} {'median s':>9} {'GB/s':>7} {'GB/s/core':>10} {'peak RSS':>10} {'bound':>8}")
def row(label, cmd, ncores, env=None):
    rs = [run(cmd, env) for _ in range(runs)]
    w = statistics.median(r[0] for r in rs)
    rss = max(r[1] for r in rs)
    print(f"{label:34} {w:9.3f} {total / w / 1e9:7.2f} {total / w / 1e9 / ncores:10.2f} {rss / 2**20:8.0f}Mi {(2 * largest + (64 << 20)) / 2**20:6.0f}Mi")
    return w
row("b3sum (base shards)", ["b3sum"] + shards, cores)
one = dict(os.environ, RAYON_NUM_THREADS="1")
for target, label in (("f16", "F16 cast"), ("Q8_0.gguf", "Q8_0"), ("Q4_0.gguf", "Q4_0")):
    cmd = [ws, "derive", "check", os.path.join(d, target), "--from", base, "--key", key]
    row(f"derive check -> {label}", cmd, cores)
    row(f"derive check -> {label} (1 core)", ["taskset", "-c", "0"] + cmd, 1, one)
print("peer (single-threaded NumPy, making the same derivation, quantize/astype only):")
for k, v in peer.items():
    print(f"  {k:6} {v:8.2f} s  {total / v / 1e9:6.2f} GB/s")
PY
