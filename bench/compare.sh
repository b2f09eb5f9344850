#!/usr/bin/env bash
# Benchmark: weightseal hash / verify against b3sum on the same files, in the same run.
#
#   bench/compare.sh [SIZE_MIB] [RUNS]        (defaults: 2048 MiB, 5 runs)
#
# Makes a model of random safetensors shards (512 MiB each, under bench/data/, reused when
# present), reads it once to warm the page cache, then times each command RUNS times and prints
# the median wall time, throughput, the ratio to b3sum, and peak RSS. It also hashes a model of
# 1/8 the size, to show that peak RSS does not grow with model size. With taskset available it
# also times b3sum, verify and verify --tensors pinned to one core (taskset -c 0). b3sum is installed with
# `cargo install b3sum` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-2048}
RUNS=${2:-5}
DATA=bench/data/model-${SIZE_MIB}m
SMALL_MIB=$(( SIZE_MIB / 8 ))
SMALL=bench/data/model-${SMALL_MIB}m

command -v b3sum >/dev/null || cargo install b3sum --locked
cargo build --release --quiet
WS=target/release/weightseal

make_model() { # DIR MIB
  python3 - "$1" "$2" <<'PY'
import json, os, struct, sys
d, mib = sys.argv[1], int(sys.argv[2])
if os.path.isdir(d) and os.path.exists(os.path.join(d, ".complete")):
    sys.exit(0)
os.makedirs(d, exist_ok=True)
shard_mib = min(512, mib)
shards = max(1, mib // shard_mib)
tensor_mib = min(64, shard_mib)
for s in range(shards):
    n = shard_mib // tensor_mib
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for t in range(n):
        size = tensor_mib << 20
        rows = size // 2 // 4096
        header[f"model.layers.{s * n + t}.mlp.weight"] = {"dtype": "BF16", "shape": [rows, 4096], "data_offsets": [off, off + size]}
        off += size
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, f"model-{s+1:05d}-of-{shards:05d}.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _ in range(off >> 20):
            f.write(os.urandom(1 << 20))
with open(os.path.join(d, "config.json"), "w") as f:
    f.write('{"architectures": ["BenchModel"]}')
open(os.path.join(d, ".complete"), "w").close()
PY
}
make_model "$DATA" "$SIZE_MIB"
make_model "$SMALL" "$SMALL_MIB"
rm -f "$DATA/.complete.manifest"

python3 - "$WS" "$DATA" "$SMALL" "$RUNS" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time, glob
ws, data, small, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
man = "/tmp/weightseal-bench.manifest"

def files(d):
    return sorted(glob.glob(os.path.join(d, "*.safetensors"))) + [os.path.join(d, "config.json")]

def run(cmd):
    """Runs cmd in a child that reports its wall time and peak RSS (KiB)."""
    probe = ("import resource,subprocess,sys,time;t=time.perf_counter();"
             "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
             "w=time.perf_counter()-t;"
             "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    out = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, check=True).stdout.split()
    if out[2] != "0":
        sys.exit(f"command failed ({out[2]}): {' '.join(cmd)}")
    return float(out[0]), int(out[1])

total = sum(os.path.getsize(f) for f in files(data))
for f in files(data) + files(small):          # warm the page cache
    with open(f, "rb") as fh:
        while fh.read(1 << 24):
            pass
subprocess.run([ws, "hash", data, "-o", man], check=True, capture_output=True)
cmds = {
    "b3sum": ["b3sum"] + files(data),
    "weightseal hash --no-tensors": [ws, "hash", data, "--no-tensors", "-o", man + ".plain"],
    "weightseal hash": [ws, "hash", data, "-o", man],
    "weightseal verify": [ws, "verify", data, "--manifest", man],
    "weightseal verify --tensors": [ws, "verify", data, "--manifest", man, "--tensors"],
    "weightseal hash --sha256": [ws, "hash", data, "--sha256", "-o", man + ".sha"],
}
# Pinned to one core (taskset -c 0): the single-core cost of each, against b3sum pinned too.
if shutil.which("taskset"):
    one = ["taskset", "-c", "0"]
    cmds["b3sum (1 core)"] = one + ["b3sum"] + files(data)
    cmds["weightseal verify (1 core)"] = one + [ws, "verify", data, "--manifest", man]
    cmds["weightseal verify --tensors (1 core)"] = one + [ws, "verify", data, "--manifest", man, "--tensors"]
res = {k: [] for k in cmds}
for _ in range(runs):                          # interleaved, so drift hits all alike
    for k, c in cmds.items():
        res[k].append(run(c))
print(f"model: {data}, {total / 2**30:.2f} GiB in {len(files(data))} files; {runs} runs; {os.cpu_count()} cores")
base = statistics.median(w for w, _ in res["b3sum"])
print(f"{'command':28} {'median s':>9} {'GB/s':>7} {'vs b3sum':>9} {'peak RSS':>10}")
for k, rs in res.items():
    w = statistics.median(x for x, _ in rs)
    rss = max(r for _, r in rs)
    print(f"{k:28} {w:9.3f} {total / w / 1e9:7.2f} {w / base:8.2f}x {rss / 1024:8.1f} MiB")
plain = statistics.median(w for w, _ in res["weightseal hash --no-tensors"])
tens = statistics.median(w for w, _ in res["weightseal hash"])
print(f"tensor digests cost: hash / hash --no-tensors = {tens / plain:.2f}x")
if "b3sum (1 core)" in res:
    b1 = statistics.median(w for w, _ in res["b3sum (1 core)"])
    for k in ("weightseal verify (1 core)", "weightseal verify --tensors (1 core)"):
        w = statistics.median(x for x, _ in res[k])
        print(f"one core: {k} / b3sum (1 core) = {w / b1:.2f}x")
_, small_rss = run([ws, "hash", small, "-o", man + ".small"])
_, big_rss = run([ws, "hash", data, "-o", man])
stotal = sum(os.path.getsize(f) for f in files(small))
print(f"peak RSS of weightseal hash: {small_rss / 1024:.1f} MiB on {stotal / 2**30:.2f} GiB, "
      f"{big_rss / 1024:.1f} MiB on {total / 2**30:.2f} GiB")
PY
