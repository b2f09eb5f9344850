"""The oracle of tests/derive_oracle.rs: inputs (fixed seed) and the answers of gguf-py
(`gguf.quants.quantize`, `BF16`) and NumPy (`astype`) for weightseal's derive kernels.

    python tests/derive_oracle.py OUTDIR

Writes raw little-endian files to OUTDIR:
  q_<TYPE>.in (f32) / q_<TYPE>.out (bytes)      one per quantization type
  c_<FROM>_<TO>.in / c_<FROM>_<TO>.out           one per cast pair (NaN rule "keep")
  vectors.out                                    answers for OUTDIR/vectors.in, if present
                                                 (lines "OP ARGS... INPUT_HEX" -> OUTPUT_HEX)
  summary.txt                                    the NumPy build and informational counts

NumPy's NaN payload and signed-zero results of max/min depend on its SIMD dispatch (see
src/derive/quant.rs): the answers are made with every dispatched CPU feature disabled
(NPY_DISABLE_CPU_FEATURES), NumPy's x86-64 baseline. The default (dispatched) build is run
too, and how many blocks it answers differently is reported, not asserted.
"""

import os
import subprocess
import sys

PINNED = "WEIGHTSEAL_ORACLE_PINNED"


def dispatched_features():
    code = (
        "from numpy._core._multiarray_umath import __cpu_dispatch__ as d, __cpu_features__ as f;"
        "print(' '.join(x for x in d if f.get(x)))"
    )
    return subprocess.check_output([sys.executable, "-c", code], text=True).split()


def main():
    out = sys.argv[1]
    if os.environ.get(PINNED) is None:
        feats = dispatched_features()
        env = dict(os.environ)
        env[PINNED] = "1"
        if feats:
            env["NPY_DISABLE_CPU_FEATURES"] = " ".join(feats)
        subprocess.check_call([sys.executable, __file__, out], env=env)
        compare_default(out, feats)
        return
    generate(out)


# ---------------------------------------------------------------------------------------
import numpy as np  # noqa: E402  (imported after the environment is settled)

QTYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4", "TQ1_0", "TQ2_0"]
BLOCKS = 100_000


def gq():
    import gguf

    return gguf


def quantize(name, x):
    g = gq()
    t = getattr(g.GGMLQuantizationType, name)
    return np.ascontiguousarray(g.quants.quantize(x.reshape(-1), t)).view(np.uint8).reshape(-1)


def f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def nans(rng, n):
    """NaNs of every kind: quiet and signaling, both signs, random payloads."""
    payload = rng.integers(1, 1 << 23, n, dtype=np.uint32)
    small = rng.integers(1, 1 << 13, n, dtype=np.uint32)  # payloads that vanish in f16
    payload = np.where(rng.random(n) < 0.3, small, payload)
    quiet = np.where(rng.random(n) < 0.5, np.uint32(0x400000), np.uint32(0))
    sign = np.where(rng.random(n) < 0.5, np.uint32(0x80000000), np.uint32(0))
    return f32(sign | np.uint32(0x7F800000) | quiet | payload)


def blocks_for(name, rng, n):
    """n adversarial and random blocks for one type, as an (n, L) float32 array."""
    L = 256 if name.startswith("TQ") else 32
    half = {"Q8_0": 127.0, "Q4_0": 8.0, "Q5_0": 16.0, "Q4_1": 15.0, "Q5_1": 31.0,
            "TQ1_0": 1.0, "TQ2_0": 1.0, "MXFP4": 4.0}[name]
    fams = []
    k = n // 16

    def scale_exp(m, lo=-149, hi=127):
        return np.exp2(rng.integers(lo, hi + 1, (m, 1)).astype(np.float64))

    # 1. normal values at scales from 1e-8 to 1e8
    m = 3 * k
    fams.append(rng.standard_normal((m, L)) * 10.0 ** rng.uniform(-8, 8, (m, 1)))
    # 2. uniform
    fams.append(rng.uniform(-1, 1, (k, L)) * 10.0 ** rng.uniform(-4, 4, (k, 1)))
    # 3. any scale of the f32 range (subnormal to near-overflow)
    fams.append(rng.uniform(-1, 1, (k, L)) * scale_exp(k))
    # 4. random bit patterns (NaN, inf, subnormals, everything)
    fams.append(f32(rng.integers(0, 1 << 32, (k // 2, L), dtype=np.uint64).astype(np.uint32)))
    # 5. subnormals only
    sub = rng.integers(0, 1 << 23, (k // 2, L), dtype=np.uint32)
    sub |= np.where(rng.random((k // 2, L)) < 0.5, np.uint32(0x80000000), np.uint32(0))
    fams.append(f32(sub))
    # 6. zeros of both signs, some with negatives (max == ±0) or positives (min == ±0)
    z = np.where(rng.random((k, L)) < 0.5, 0.0, -0.0).astype(np.float32)
    some = rng.random((k, L)) < np.where(rng.random((k, 1)) < 0.5, 0.0, 0.4)
    sgn = np.where(rng.random((k, 1)) < 0.5, -1.0, 1.0)
    z = np.where(some, sgn * rng.uniform(0.5, 2, (k, L)), z).astype(np.float32)
    fams.append(z)
    # 7. ties: half-integers on the grid of an exact power-of-two scale
    p = scale_exp(k, -120, 100)
    grid = rng.integers(-2 * int(half), 2 * int(half) + 1, (k, L)) / 2.0
    t = grid * p
    col = rng.integers(0, L, k)
    t[np.arange(k), col] = np.where(rng.random(k) < 0.5, -half, half) * p[:, 0]
    if name in ("Q4_1", "Q5_1"):
        lo = rng.integers(-40, 40, (k, 1)) * p
        t = lo + np.abs(grid) * p
        t[np.arange(k), col] = lo[:, 0]
        t[np.arange(k), (col + 7) % L] = lo[:, 0] + half * p[:, 0]
    if name == "MXFP4":
        # midpoints between neighbouring e2m1 values, d = 2^e
        mids = np.array([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12])
        t = rng.choice(mids, (k, L)) * np.where(rng.random((k, L)) < 0.5, -1, 1) * p
        t[np.arange(k), col] = 12 * p[:, 0] * 0.999
    fams.append(t)
    # 8. the maximum magnitude with both signs, in either order
    b = rng.standard_normal((k, L))
    mx = np.abs(b).max(axis=1) * 1.5
    i1 = rng.integers(0, L, k)
    i2 = (i1 + rng.integers(1, L, k)) % L
    s = np.where(rng.random(k) < 0.5, 1.0, -1.0)
    b[np.arange(k), i1] = s * mx
    b[np.arange(k), i2] = -s * mx
    fams.append(b)
    # 9. NaN and ±inf anywhere, and NaNs only in the last positions (the reductions' tail)
    b = rng.standard_normal((2 * k, L)).astype(np.float32)
    for _ in range(3):
        r = np.arange(2 * k)
        pos = np.where(rng.random(2 * k) < 0.5, rng.integers(0, L, 2 * k),
                       rng.integers(L - 4, L, 2 * k))
        kind = rng.random(2 * k)
        val = np.where(kind < 0.6, nans(rng, 2 * k),
                       np.where(kind < 0.8, np.float32(np.inf), np.float32(-np.inf)))
        use = rng.random(2 * k) < 0.7
        b[r[use], pos[use]] = val[use]
    fams.append(b)
    # 10. scales near f16 overflow and underflow: d = target · (1 + a few ulps)
    targets = np.array([65504.0, 65519.0, 65520.0, 65536.0, 131008.0, 6.1035156e-05,
                        5.9604645e-08, 2.9802322e-08, 8.940697e-08, 1e-10, 3e38])
    d = rng.choice(targets, (k, 1)) * (1 + rng.integers(-3, 4, (k, 1)) * 2.0 ** -23)
    b = rng.uniform(-1, 1, (k, L))
    b[np.arange(k), rng.integers(0, L, k)] = np.where(rng.random(k) < 0.5, 1.0, -1.0)
    if name in ("Q4_1", "Q5_1"):
        b = (b + 1) / 2  # range 1 when the forced 1.0 meets a 0 ... roughly
        b[np.arange(k), rng.integers(0, L, k)] = 0.0
        b[np.arange(k), rng.integers(0, L, k)] = 1.0
        b = b + rng.choice([0.0, -0.5, 3.0, -70000.0 / 65520.0], (k, 1))
    fams.append(b * d * half)
    # 11. the maximum just below (or at) a power of two, every binade
    e = rng.integers(-149, 128, (k, 1))
    top = np.where(e + 1 >= -126, ((e + 1 + 127) << 23), 1 << (e + 1 + 149)).astype(np.int64)
    below = np.clip(top - rng.integers(0, 100, (k, 1)), 1, 0x7F7FFFFF).astype(np.uint32)
    b = rng.uniform(-1, 1, (k, L)) * f32(below).astype(np.float64)
    b[np.arange(k), rng.integers(0, L, k)] = f32(below[:, 0]) * np.where(rng.random(k) < 0.5, 1, -1)
    fams.append(b)
    # 12. everything mixed: normal values with a few specials sprinkled in
    b = rng.standard_normal((k, L)) * 10.0 ** rng.uniform(-30, 30, (k, 1))
    msk = rng.random((k, L)) < 0.05
    sp = rng.choice(np.array([0.0, -0.0, np.inf, -np.inf, 65504.0, -65520.0, 1e-45, -1e-45],
                             dtype=np.float32), (k, L))
    fams.append(np.where(msk, sp, b))

    with np.errstate(all="ignore"):
        fams = [np.asarray(f, dtype=np.float64).astype(np.float32) if f.dtype != np.float32
                else f for f in fams]
        out = np.concatenate(fams)
    fill = n - len(out)
    if fill > 0:
        out = np.concatenate([out, rng.standard_normal((fill, L)).astype(np.float32)])
    return out[:n]


def mxfp4_binades():
    """One block per (binade, distance below its top): amax = top - k ulps, k = 0..63."""
    rows = []
    for e in range(-149, 128):
        top = ((e + 1 + 127) << 23) if e + 1 >= -126 else 1 << (e + 1 + 149)
        for k in range(64):
            b = top - k
            if b < 1 or b > 0x7F7FFFFF:
                continue
            v = f32(np.uint32(b))
            row = np.full(32, v / 3, dtype=np.float32)
            row[k % 32] = v
            rows.append(row)
    return np.array(rows, dtype=np.float32)


def cast_inputs(rng):
    """Inputs of the casts from f32: ~1.5e6 values, random and at every rounding boundary."""
    parts = [rng.integers(0, 1 << 32, 500_000, dtype=np.uint64).astype(np.uint32)]
    parts.append((rng.standard_normal(200_000) * 10.0 ** rng.uniform(-10, 6, 200_000))
                 .astype(np.float32).view(np.uint32))
    # f16 midpoints (normal and subnormal) ± 1 ulp, and the overflow boundary
    h = rng.integers(0, 0x7C00, 300_000).astype(np.uint16)
    lo = h.view(np.float16).astype(np.float32).astype(np.float64)
    hi = (h + 1).astype(np.uint16).view(np.float16).astype(np.float32).astype(np.float64)
    mid = ((lo + hi) / 2).astype(np.float32).view(np.uint32).astype(np.int64)
    mid += rng.integers(-1, 2, 300_000)
    mid |= np.where(rng.random(300_000) < 0.5, 0x80000000, 0)
    parts.append(mid.astype(np.uint32))
    # bf16 midpoints ± 1
    hb = rng.integers(0, 1 << 16, 300_000, dtype=np.uint32) << 16
    parts.append((hb | 0x8000) + rng.integers(-1, 2, 300_000).astype(np.uint32))
    # NaNs, infinities, zeros, around 65504/65520 and the f16 subnormal range
    parts.append(nans(rng, 100_000).view(np.uint32))
    special = np.array([0, 0x80000000, 0x7F800000, 0xFF800000, 0x477FE000, 0x477FEFFF,
                        0x477FF000, 0x477FF001, 0xC77FF000, 0x38800000, 0x387FFFFF,
                        0x33800000, 0x33000000, 0x33000001, 0x7F7FFFFF, 1], dtype=np.uint32)
    near = (np.array([0x477FF000, 0x38800000, 0x33000000, 0x7F7F8000], dtype=np.int64)[:, None]
            + np.arange(-64, 65)[None, :]).reshape(-1)
    parts.append(special)
    parts.append(near.astype(np.uint32))
    parts.append(near.astype(np.uint32) | np.uint32(0x80000000))
    parts.append(rng.integers(0, 1 << 24, 50_000, dtype=np.uint32))  # f32 subnormals & tiny
    return f32(np.concatenate(parts))


def cast_f32(to, x):
    g = gq()
    if to == "F16":
        return x.astype(np.float16).view(np.uint8).reshape(-1)
    return np.ascontiguousarray(g.quants.quantize(x, g.GGMLQuantizationType.BF16)).view(np.uint8).reshape(-1)


def widen(frm, bits16):
    g = gq()
    if frm == "F16":
        return bits16.view(np.float16).astype(np.float32)
    return g.quants.dequantize(bits16.view(np.uint8), g.GGMLQuantizationType.BF16).reshape(-1)


def do_cast(frm, to, raw):
    """The oracle of a cast with the Keep rule, from raw little-endian bytes."""
    if frm == to:
        return raw
    if frm == "F32":
        return cast_f32(to, raw.view(np.float32))
    x = widen(frm, raw.view(np.uint16))
    if to == "F32":
        return x.view(np.uint8)
    return cast_f32(to, x)


def generate(out):
    rng = np.random.default_rng(20240617)
    with np.errstate(all="ignore"):
        for name in QTYPES:
            x = blocks_for(name, rng, BLOCKS)
            if name == "MXFP4":
                x = np.concatenate([x, mxfp4_binades()])
            x = np.ascontiguousarray(x, dtype=np.float32)
            x.tofile(os.path.join(out, f"q_{name}.in"))
            quantize(name, x).tofile(os.path.join(out, f"q_{name}.out"))
        xs = cast_inputs(rng)
        for to in ("F16", "BF16"):
            xs.tofile(os.path.join(out, f"c_F32_{to}.in"))
            cast_f32(to, xs).tofile(os.path.join(out, f"c_F32_{to}.out"))
        # 16-bit sources: every value, then random draws up to 2^20 values
        allv = np.concatenate([np.arange(1 << 16, dtype=np.uint32).astype(np.uint16),
                               rng.integers(0, 1 << 16, (1 << 20) - (1 << 16)).astype(np.uint16)])
        for frm, to in (("F16", "F32"), ("BF16", "F32"), ("F16", "BF16"), ("BF16", "F16")):
            raw = allv.view(np.uint8)
            raw.tofile(os.path.join(out, f"c_{frm}_{to}.in"))
            np.asarray(do_cast(frm, to, raw)).tofile(os.path.join(out, f"c_{frm}_{to}.out"))
        vin = os.path.join(out, "vectors.in")
        if os.path.exists(vin):
            lines = []
            for line in open(vin):
                parts = line.split()
                raw = np.frombuffer(bytes.fromhex(parts[-1]), dtype=np.uint8)
                if parts[0] == "quantize":
                    r = quantize(parts[1], raw.view(np.float32).copy())
                else:  # cast FROM TO keep
                    r = do_cast(parts[1], parts[2], raw.copy())
                lines.append(bytes(np.asarray(r, dtype=np.uint8)).hex())
            open(os.path.join(out, "vectors.out"), "w").write("".join(x + "\n" for x in lines))
    from numpy._core._multiarray_umath import __cpu_features__, __cpu_dispatch__
    import platform
    with open(os.path.join(out, "summary.txt"), "w") as f:
        used = [x for x in __cpu_dispatch__ if __cpu_features__.get(x)]
        f.write(f"numpy {np.__version__} on {platform.machine()}, dispatched features in use: "
                f"{' '.join(used) or 'none (baseline)'}\n")


def compare_default(out, feats):
    """Informational: how many blocks NumPy's default build answers differently."""
    with np.errstate(all="ignore"):
        notes = []
        for name in QTYPES:
            L = 256 if name.startswith("TQ") else 32
            x = np.fromfile(os.path.join(out, f"q_{name}.in"), dtype=np.float32)
            want = np.fromfile(os.path.join(out, f"q_{name}.out"), dtype=np.uint8)
            got = quantize(name, x)
            nb = len(x) // L
            diff = (got.reshape(nb, -1) != want.reshape(nb, -1)).any(axis=1).sum()
            notes.append(f"{name}: {diff}")
    with open(os.path.join(out, "summary.txt"), "a") as f:
        f.write(f"blocks answered differently by the default build ({' '.join(feats) or 'no'} "
                f"dispatch): {', '.join(notes)}\n")


if __name__ == "__main__":
    main()
