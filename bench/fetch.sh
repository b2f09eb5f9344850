#!/usr/bin/env bash
# Benchmark: `weightseal fetch` against `curl` downloading the same files from the same local
# static server (nginx on 127.0.0.1, with Range support), in the same run.
#
#   bench/fetch.sh [SIZE_MIB] [RUNS]        (defaults: 2048 MiB, 5 runs)
#
# weightseal fsyncs each file before renaming it into place, so the fair comparison is
# `curl && sync` (curl's files on disk too); plain curl (not on disk when it exits) is shown
# for reference. The runs are interleaved (each round runs every command once, in turn) and
# each timed command starts after a `sync`, so disk noise and writeback fall on all of them
# alike. Uses the model of bench/compare.sh (bench/data/model-SIZEm, made if missing).
# Installs nginx with apt-get when missing. Prints median wall times, the ratio to
# `curl && sync` and to curl, and weightseal's peak RSS (bounded by jobs x chunk size).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-2048}
RUNS=${2:-5}
DATA=$PWD/bench/data/model-${SIZE_MIB}m
[ -f "$DATA/.complete" ] || bench/compare.sh "$SIZE_MIB" 1 >/dev/null
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
cargo build --release --quiet
WS=$PWD/target/release/weightseal
WORK=$(mktemp -d)
trap 'kill $(cat "$WORK/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -f "$DATA/weightseal.manifest" ] || "$WS" hash "$DATA" >/dev/null
PORT=18080
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$PORT; root $DATA; }
}
CONF
nginx -c "$WORK/nginx.conf"
sleep 0.5
python3 - "$WS" "$DATA" "$WORK" "$PORT" "$RUNS" <<'PY'
import glob, os, resource, shutil, statistics, subprocess, sys, time
ws, data, work, port, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
base = f"http://127.0.0.1:{port}"
names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(data, "*.safetensors"))) + ["config.json"]
total = sum(os.path.getsize(os.path.join(data, n)) for n in names)

def timed(cmd):
    # Dirty pages of the previous run are written back first, so no run pays for another's.
    subprocess.run(["sync"], check=True)
    probe = ("import resource,subprocess,sys,time;t=time.perf_counter();"
             "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE);"
             "sys.stderr.buffer.write(r.stderr[-2000:] if r.returncode else b'');"
             "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
    p = subprocess.run([sys.executable, "-c", probe] + cmd, capture_output=True, text=True, check=True)
    out = p.stdout.split()
    if out[2] != "0":
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return float(out[0]), int(out[1])

CURL_SYNC = "curl && sync"
res = {"curl (not synced)": [], CURL_SYNC: [], "weightseal fetch": [], "weightseal fetch --no-fsync": []}

def fresh(d):
    shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    os.makedirs(os.path.join(work, d))

def curl_cmd(d):
    cmd = ["curl", "-sf", "--parallel", "--parallel-max", "8"]
    for n in names:
        cmd += ["-o", os.path.join(work, d, n), f"{base}/{n}"]
    return cmd

for _ in range(max(runs, 5)):
    fresh("curl")
    res["curl (not synced)"].append(timed(curl_cmd("curl")))
    fresh("curl")
    # curl, then sync: the files are on disk when it returns, as weightseal's are.
    res[CURL_SYNC].append(timed(["sh", "-c", '"$@" && sync', "sh"] + curl_cmd("curl")))
    fresh("ws")
    res["weightseal fetch"].append(timed([ws, "fetch", base, os.path.join(work, "ws"), "--allow-unsigned"]))
    fresh("ws")
    res["weightseal fetch --no-fsync"].append(timed([ws, "fetch", base, os.path.join(work, "ws"), "--allow-unsigned", "--no-fsync"]))
n_runs = len(res[CURL_SYNC])
sync_t = statistics.median(w for w, _ in res[CURL_SYNC])
plain_t = statistics.median(w for w, _ in res["curl (not synced)"])
print(f"model: {total / 2**30:.2f} GiB in {len(names)} files from nginx on 127.0.0.1; medians of {n_runs} interleaved runs")
for k, v in res.items():
    w = statistics.median(x for x, _ in v)
    spread = f"{min(x for x, _ in v):.2f}-{max(x for x, _ in v):.2f} s"
    print(f"{k:28} {w:7.3f} s ({spread})  {total / w / 1e9:5.2f} GB/s  {w / sync_t:5.2f}x curl && sync  {w / plain_t:5.2f}x curl  peak RSS {max(r for _, r in v) / 1024:6.1f} MiB")
PY
