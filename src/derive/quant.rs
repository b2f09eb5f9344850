//! GGML block quantization (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, MXFP4, TQ1_0, TQ2_0), bit-exact
//! with gguf-py's `gguf.quants.quantize` (gguf 0.19, NumPy 2.4 on x86-64) for every f32
//! input, NaNs, infinities, signed zeros and subnormals included. See [`quantize`] for the
//! rules this takes from NumPy and for where gguf-py differs from ggml's C reference.

use super::float::{f32_to_f16, NanRule};

/// A GGML block quantization type.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quant {
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Mxfp4,
    Tq1_0,
    Tq2_0,
}

impl Quant {
    /// Every type, in the order above.
    pub const ALL: [Quant; 8] = [
        Quant::Q8_0,
        Quant::Q4_0,
        Quant::Q4_1,
        Quant::Q5_0,
        Quant::Q5_1,
        Quant::Mxfp4,
        Quant::Tq1_0,
        Quant::Tq2_0,
    ];

    /// The GGML type name (`"Q8_0"`, `"MXFP4"`, `"TQ1_0"`, ...).
    pub fn from_name(ggml_name: &str) -> Option<Quant> {
        Quant::ALL.into_iter().find(|q| q.name() == ggml_name)
    }

    /// The GGML type name, as [`Quant::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Quant::Q8_0 => "Q8_0",
            Quant::Q4_0 => "Q4_0",
            Quant::Q4_1 => "Q4_1",
            Quant::Q5_0 => "Q5_0",
            Quant::Q5_1 => "Q5_1",
            Quant::Mxfp4 => "MXFP4",
            Quant::Tq1_0 => "TQ1_0",
            Quant::Tq2_0 => "TQ2_0",
        }
    }

    /// Elements per block.
    pub fn block_len(self) -> usize {
        match self {
            Quant::Tq1_0 | Quant::Tq2_0 => 256,
            _ => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Quant::Q8_0 => 34,
            Quant::Q4_0 => 18,
            Quant::Q4_1 => 20,
            Quant::Q5_0 => 22,
            Quant::Q5_1 => 24,
            Quant::Mxfp4 => 17,
            Quant::Tq1_0 => 54,
            Quant::Tq2_0 => 66,
        }
    }
}

/// Quantizes `src` (a multiple of `q.block_len()` values) into `out`
/// (`src.len() / q.block_len() * q.block_bytes()` bytes), block by block, exactly as
/// `gguf.quants.quantize(np.float32 array, GGMLQuantizationType.X)` does. With other
/// lengths, the whole blocks that fit in both are written; the rest of `out` is left as it
/// was. Total: every input gives defined bytes; nothing allocates, prints or panics.
///
/// # NumPy's rules, reproduced
///
/// * Arithmetic is float32 and unfused (`x / 127`, `1 / d`, `x * id + 8.5` each rounded once).
///   `np.where(d == 0, 0, 1 / d)` is `0.0` for `d == ±0`.
/// * float → `uint8`/`int8` (`astype`): through a 32-bit integer (`cvttss2si`): the low 8
///   bits of the truncated value when `|x| < 2^31`, else (NaN, ±inf, huge) 0: `300.0` → 44,
///   `-3.0` → 253, `2^31 - 128` → 128. `.astype(np.uint8).clip(0, 15)` clips after that
///   wrap. (NumPy gives the same for values routed through int64: from `2^24` up, f32
///   values are multiples of 256 beyond `2^31`, so the low byte is 0 either way.)
/// * `np_roundf(n)` = `sign(n) * (floor(|n|) + floor(2 * (|n| - floor(|n|))))`, in f32.
/// * `abs(x).argmax()` (Q4_0, Q5_0): the first NaN if there is one, else the first maximum;
///   the element there, with its sign, is the scale's numerator.
/// * `max`/`min` reductions (Q8_0, Q4_1, Q5_1, TQ1_0, TQ2_0) follow NumPy 2.4's
///   `simd_reduce_c_{max,min}_f32` with 4-lane vectors (its x86-64 baseline build, SSE; see
///   below): lanes start at element 0, take elements `1..` four at a time (for 256 values,
///   8 vectors at a time, combined as a tree first) with `maxps(acc, v)` (= `acc > v ? acc
///   : v`, so ties between -0 and +0 go to `v`), then `max(max(l0, l2), max(l1, l3))`, then
///   the tail (`n - 1` mod 4 values) one by one, a tie again going to the new value. A NaN
///   in the vector part gives the default NaN `0x7fc00000`; otherwise the first NaN of the
///   tail is returned as it is (sign and payload, not quieted).
/// * A NaN operand of `/`, `-` comes out quieted with its sign (x86 SSE); `inf - inf`
///   (Q4_1/Q5_1 with `max == min == ±inf`) gives x86's default NaN `0xffc00000`. Both are
///   produced here from bits, so the result does not depend on this machine's FPU.
/// * Scales to f16 with `astype(np.float16)`: [`NanRule::Keep`].
/// * MXFP4: `floor(np.log2(d))` in f32 is `E` (the exponent of `d`) or `E + 1` when the f32
///   log2 rounds up to the next integer: for the `K` largest values of a binade,
///   `K = floor(2^j ln 2) >> s`, `j` the binade of the integer next to `log2(d)` in magnitude,
///   `s` the subnormal shift. This matches NumPy (which equals the f64 log2 rounded to f32)
///   on every positive f32 (checked exhaustively). `e = floor(log2 d) + 125` wraps as a
///   `uint8` (tiny `d` give 232..255); `d` NaN or 0 gives `e = 0`, `d = inf` gives 0 too.
///   The index is `argmin(abs(d_half * k - x))` over the 16 values: the first minimum, or
///   the first NaN.
///
/// NumPy's own NaN and signed-zero results depend on its SIMD build: with AVX2 the vector
/// part covers 24 elements of a 32-block, with AVX-512 16, and aarch64's `fmax` orders
/// `-0 < +0`. The rules above are those of NumPy's x86-64 baseline (`NPY_DISABLE_CPU_FEATURES`
/// set to every dispatched feature), the one configuration every x86-64 machine can run; with
/// AVX-512 dispatch, NumPy differs from it only in which NaN (payload, sign) or which zero
/// (sign) a block's max/min returns.
///
/// # Where gguf-py (followed here) differs from ggml's C `quantize_row_*_ref`
///
/// * NaN: ggml's loops (`if (amax < fabsf(v))`, `MAX(amax, fabsf(v))`, `v < min`) skip or
///   lose NaNs depending on position, and `(int8_t)NaN` is undefined; gguf-py's argmax/max
///   propagate them as above.
/// * Q4_0/Q5_0: ggml starts from `max = 0.0f` and takes a later element only when strictly
///   larger, so an all-zero block gets `d = -0.0` (`0x8000`); gguf-py takes element 0's
///   sign (`+0` gives `d = -0`, `-0` gives `d = +0`).
/// * Q4_0/Q5_0/Q4_1/Q5_1: ggml computes `MIN(15, (int8_t)(x * id + 8.5f))` (a negative value
///   would go into the other nibble); gguf-py truncates, wraps to `uint8` and clips to
///   15 (31). ggml's `x * id + 8.5f` may be contracted to an FMA by the C compiler; gguf-py's
///   never is.
/// * Scales: ggml's `GGML_FP32_TO_FP16` is F16C hardware on x86 (a NaN is quieted,
///   `0x7f800001` → `0x7e00`) or a software `0x7E00 | sign`; gguf-py uses NumPy's rule
///   ([`NanRule::Keep`]).
/// * MXFP4: ggml uses `log2f` from libm and `(uint8_t)` of a negative float (undefined);
///   gguf-py uses NumPy's log2 and the wrapping cast above.
/// * Q8_0, TQ1_0/TQ2_0: `roundf`/`lroundf` vs `np_roundf`: equal for finite values;
///   infinities and NaNs give 0 in gguf-py, undefined in C.
pub fn quantize(q: Quant, src: &[f32], out: &mut [u8]) {
    let (bl, bb) = (q.block_len(), q.block_bytes());
    let blocks = src.chunks_exact(bl).zip(out.chunks_exact_mut(bb));
    match q {
        Quant::Q8_0 => blocks.for_each(|(x, o)| q8_0(arr(x), arr_mut(o))),
        Quant::Q4_0 => blocks.for_each(|(x, o)| q4_0(arr(x), arr_mut(o))),
        Quant::Q4_1 => blocks.for_each(|(x, o)| q4_1(arr(x), arr_mut(o))),
        Quant::Q5_0 => blocks.for_each(|(x, o)| q5_0(arr(x), arr_mut(o))),
        Quant::Q5_1 => blocks.for_each(|(x, o)| q5_1(arr(x), arr_mut(o))),
        Quant::Mxfp4 => blocks.for_each(|(x, o)| mxfp4(arr(x), arr_mut(o))),
        Quant::Tq1_0 => blocks.for_each(|(x, o)| tq1_0(arr(x), arr_mut(o))),
        Quant::Tq2_0 => blocks.for_each(|(x, o)| tq2_0(arr(x), arr_mut(o))),
    }
}

/// A chunk of exactly `N` items as an array (the chunks above always have that length).
#[inline(always)]
fn arr<const N: usize, T>(x: &[T]) -> &[T; N] {
    x.try_into().unwrap_or_else(|_| unreachable!())
}

#[inline(always)]
fn arr_mut<const N: usize, T>(x: &mut [T]) -> &mut [T; N] {
    x.try_into().unwrap_or_else(|_| unreachable!())
}

/// NumPy's default NaN (`np.max` of a vector holding a NaN).
const DEFAULT_NAN: u32 = 0x7fc0_0000;
/// x86's default NaN (the result of an invalid operation such as `inf - inf`).
const X86_INDEFINITE: u32 = 0xffc0_0000;

/// A NaN quieted as an x86 arithmetic operation returns it.
#[inline(always)]
fn quiet(x: f32) -> f32 {
    f32::from_bits(x.to_bits() | 0x0040_0000)
}

/// NumPy float32 → uint8/int8 `astype` (see [`quantize`]).
#[inline(always)]
fn to_u8(x: f32) -> u8 {
    if x.abs() < 2_147_483_648.0 {
        x as i32 as u8
    } else {
        0
    }
}

/// gguf-py's `np_roundf`, then NumPy's cast to int8, as a byte: `sign(n) * (floor(|n|) +
/// floor(2 * (|n| - floor(|n|))))`. For `|n| < 2^31` the floor is the truncation `t`
/// (exact: `|n| - t` is exact and below 1, and from 2^24 up `n` is an integer); at and above
/// 2^31, and for NaN, the cast gives 0 (for ±inf NumPy's `inf - inf` is NaN: 0 too).
#[inline(always)]
fn roundf_u8(n: f32) -> u8 {
    let a = n.abs();
    let t = a as i32;
    let up = (2.0 * (a - t as f32) >= 1.0) as i32;
    let b = t.wrapping_add(up);
    let r = if n < 0.0 { b.wrapping_neg() } else { b };
    if a < 2_147_483_648.0 {
        r as u8
    } else {
        0
    }
}

/// `np.where(d == 0, 0, 1 / d)`.
#[inline(always)]
fn inv(d: f32) -> f32 {
    if d == 0.0 {
        0.0
    } else {
        1.0 / d
    }
}

#[inline(always)]
fn put_f16(o: &mut [u8], x: f32) {
    o[..2].copy_from_slice(&f32_to_f16(x, NanRule::Keep).to_le_bytes());
}

/// `maxps(a, b)` / `minps(a, b)`: `a` only when strictly greater (smaller).
#[inline(always)]
fn pick(max: bool, a: f32, b: f32) -> f32 {
    if max {
        if a > b {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// NumPy 2.4's `np.max`/`np.min` of 32 values (4-lane baseline build; see [`quantize`]).
#[inline(always)]
fn np_reduce32(x: &[f32; 32], max: bool) -> f32 {
    let mut acc = [x[0]; 4];
    let mut nan = x[0].is_nan();
    for v in 0..7 {
        for l in 0..4 {
            let e = x[1 + 4 * v + l];
            nan |= e.is_nan();
            acc[l] = pick(max, acc[l], e);
        }
    }
    let mut r = if nan {
        f32::from_bits(DEFAULT_NAN)
    } else {
        pick(max, pick(max, acc[0], acc[2]), pick(max, acc[1], acc[3]))
    };
    for &e in &x[29..] {
        if !r.is_nan() {
            r = pick(max, r, e);
        }
    }
    r
}

/// NumPy's `np.max(abs(x))` of `N` values (32 or 256): the order of the reduction only
/// decides which NaN comes out (all values are `>= +0`, so equal values are equal bits).
#[inline(always)]
fn np_absmax<const N: usize>(x: &[f32; N]) -> f32 {
    // The vector part covers elements 0 ..= 4 * ((N - 1) / 4) (28 of 32, 252 of 256).
    let tail = 1 + (N - 1) / 4 * 4;
    let mut m = [0f32; 4];
    let mut nan = false;
    for c in x[..tail - 1].chunks_exact(4) {
        for l in 0..4 {
            let a = c[l].abs();
            nan |= a.is_nan();
            m[l] = if m[l] > a { m[l] } else { a };
        }
    }
    let last = x[tail - 1].abs();
    nan |= last.is_nan();
    if nan {
        return f32::from_bits(DEFAULT_NAN);
    }
    let mut r = m[0].max(m[1]).max(m[2]).max(m[3]).max(last);
    for &e in &x[tail..] {
        let a = e.abs();
        if a.is_nan() {
            return a;
        }
        r = if r > a { r } else { a };
    }
    r
}

/// `abs(x).argmax()`, then `x[i]`: the first NaN, else the first maximum magnitude.
#[inline(always)]
fn np_absargmax32(x: &[f32; 32]) -> f32 {
    let mut amax = 0f32;
    let mut nan = false;
    for &e in x {
        let a = e.abs();
        nan |= a.is_nan();
        amax = if amax > a { amax } else { a };
    }
    for &e in x {
        if (nan && e.is_nan()) || (!nan && e.abs() == amax) {
            return e;
        }
    }
    x[0]
}

/// `d = max / div` with the NaN quieted as x86 does (the sign kept).
#[inline(always)]
fn scale(max: f32, div: f32) -> f32 {
    if max.is_nan() {
        quiet(max)
    } else {
        max / div
    }
}

fn q8_0(x: &[f32; 32], o: &mut [u8; 34]) {
    let amax = np_absmax(x);
    let d = scale(amax, 127.0);
    let id = inv(d);
    put_f16(o, d);
    // Every |x * id| is at most about 127 when the block and its scale are finite (always, for
    // weights): then `roundf_u8` is computed branch-free in f32 lanes, which the compiler
    // vectorizes. Otherwise (NaN, infinities, a scale whose inverse overflows) the general
    // path.
    if amax.is_finite() && id.is_finite() && amax * id < 1_048_576.0 {
        let q: &mut [u8; 32] = arr_mut(&mut o[2..]);
        for (q, &e) in q.iter_mut().zip(x) {
            *q = roundf_u8_small(e * id);
        }
    } else {
        for (q, &e) in o[2..].iter_mut().zip(x) {
            *q = roundf_u8(e * id);
        }
    }
}

/// [`roundf_u8`] for `|n| < 2^22`, with f32 operations only: `floor(|n|)` as the
/// round-to-nearest-even of `|n| + 2^23 - 2^23`, less 1 when that rounded up; the half-up step
/// of `np_roundf`; the sign of `n`; then the low byte of the integer read from the mantissa of
/// `s + 1.5 * 2^23` (exact for integers of magnitude below 2^22, two's complement).
#[inline(always)]
fn roundf_u8_small(n: f32) -> u8 {
    const BIG: f32 = 8_388_608.0; // 2^23
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let a = n.abs();
    let r = (a + BIG) - BIG;
    let fl = if r > a { r - 1.0 } else { r };
    let up = if 2.0 * (a - fl) >= 1.0 { 1.0 } else { 0.0 };
    let b = fl + up;
    let s = f32::from_bits(b.to_bits() | (n.to_bits() & 0x8000_0000));
    (s + MAGIC).to_bits() as u8
}

/// Q4_0 and Q5_0: `d = max / -half`, `q = clip(uint8(trunc(x * id + half + 0.5)), 0, top)`.
#[inline(always)]
fn sym(x: &[f32; 32], half: f32, top: u8) -> (f32, [u8; 32]) {
    let d = scale(np_absargmax32(x), -half);
    let id = inv(d);
    let mut q = [0u8; 32];
    for (q, &e) in q.iter_mut().zip(x) {
        *q = to_u8(e * id + (half + 0.5)).min(top);
    }
    (d, q)
}

/// Q4_1 and Q5_1: `d = (max - min) / top`, `q = clip(uint8(trunc((x - min) * id + 0.5)))`.
#[inline(always)]
fn asym(x: &[f32; 32], top: u8) -> (f32, f32, [u8; 32]) {
    let max = np_reduce32(x, true);
    let min = np_reduce32(x, false);
    let diff = if max.is_nan() {
        quiet(max)
    } else if min.is_nan() {
        quiet(min)
    } else {
        let s = max - min;
        if s.is_nan() {
            f32::from_bits(X86_INDEFINITE)
        } else {
            s
        }
    };
    let d = scale(diff, top as f32);
    let id = inv(d);
    let mut q = [0u8; 32];
    for (q, &e) in q.iter_mut().zip(x) {
        *q = to_u8((e - min) * id + 0.5).min(top);
    }
    (d, min, q)
}

fn q4_0(x: &[f32; 32], o: &mut [u8; 18]) {
    let (d, q) = sym(x, 8.0, 15);
    put_f16(o, d);
    for j in 0..16 {
        o[2 + j] = q[j] | (q[j + 16] << 4);
    }
}

fn q5_0(x: &[f32; 32], o: &mut [u8; 22]) {
    let (d, q) = sym(x, 16.0, 31);
    put_f16(o, d);
    put_q5(&q, &mut o[2..]);
}

fn q4_1(x: &[f32; 32], o: &mut [u8; 20]) {
    let (d, m, q) = asym(x, 15);
    put_f16(o, d);
    put_f16(&mut o[2..], m);
    for j in 0..16 {
        o[4 + j] = q[j] | (q[j + 16] << 4);
    }
}

fn q5_1(x: &[f32; 32], o: &mut [u8; 24]) {
    let (d, m, q) = asym(x, 31);
    put_f16(o, d);
    put_f16(&mut o[2..], m);
    put_q5(&q, &mut o[4..]);
}

/// `qh` (bit j = bit 4 of q[j], little-endian u32) then the 16 low-nibble bytes.
#[inline(always)]
fn put_q5(q: &[u8; 32], o: &mut [u8]) {
    let mut qh = 0u32;
    for (j, &v) in q.iter().enumerate() {
        qh |= ((v >> 4) as u32 & 1) << j;
    }
    o[..4].copy_from_slice(&qh.to_le_bytes());
    for j in 0..16 {
        o[4 + j] = (q[j] & 0x0f) | (q[j + 16] << 4);
    }
}

/// `floor(np.log2(a))` for a finite `a > 0` (see [`quantize`], MXFP4).
fn floor_log2(a: f32) -> i32 {
    let bits = a.to_bits();
    // The binade [2^e, 2^(e+1)) of a, and how many bits below normal precision it has.
    let (e, s) = if bits >= 0x0080_0000 {
        ((bits >> 23) as i32 - 127, 0)
    } else {
        let e = 31 - bits.leading_zeros() as i32 - 149;
        (e, -126 - e)
    };
    // The number of values below 2^(e+1) whose f32 log2 rounds up to e + 1.
    let p = e + 1;
    let j = if p > 0 {
        // log2(a) just below p, in the binade of p - 1.
        if p >= 2 {
            31 - (p - 1).leading_zeros() as i32
        } else {
            -1
        }
    } else if p < 0 {
        // |log2(a)| just above -p, in the binade of -p.
        31 - (-p).leading_zeros() as i32
    } else {
        -1
    };
    // floor(2^j · ln 2), j = 0..7.
    const K: [u32; 8] = [0, 1, 2, 5, 11, 22, 44, 88];
    let k = if j < 0 {
        0
    } else {
        K[(j as usize).min(7)] >> s.clamp(0, 31)
    };
    // Bits of 2^(e+1) minus bits of a: a's distance below it in units in the last place.
    let top = if e + 1 >= -126 {
        ((e + 1 + 127) as u32) << 23
    } else {
        1u32 << (e + 1 + 149)
    };
    if top - bits <= k {
        e + 1
    } else {
        e
    }
}

/// MXFP4 values, doubled (gguf-py `MXFP4.kvalues`).
const KVALUES: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 0.0, -1.0, -2.0, -3.0, -4.0, -6.0, -8.0, -12.0,
];

fn mxfp4(x: &[f32; 32], o: &mut [u8; 17]) {
    // The NaN payload of the max does not matter: `d > 0` is false for it, e = 0.
    let mut amax = 0f32;
    let mut nan = false;
    for &v in x {
        let a = v.abs();
        nan |= a.is_nan();
        amax = if amax > a { amax } else { a };
    }
    let e: u8 = if nan || amax <= 0.0 || amax.is_infinite() {
        0
    } else {
        // floor(log2 d) - 2 + 127, in f32 (exact), then the wrapping uint8 cast.
        (floor_log2(amax) - 2 + 127) as u8
    };
    // e8m0_to_fp32_half(e).
    let d = f32::from_bits(if e < 2 {
        0x0020_0000 << e
    } else {
        ((e as u32) - 1) << 23
    });
    let mut dk = [0f32; 16];
    for (v, k) in dk.iter_mut().zip(KVALUES) {
        *v = d * k;
    }
    // argmin over the 16 errors: the first minimum, or the first NaN. An error is NaN only
    // when x is (d * k - x is inf - inf only for x = ±inf, and then amax = inf, e = 0 and
    // every d * k is finite), and then every error is: index 0, as a strict `<` keeps it.
    let mut idx = [0u8; 32];
    for (xs, is) in x.chunks_exact(8).zip(idx.chunks_exact_mut(8)) {
        let xs: &[f32; 8] = arr(xs);
        let mut best = [0f32; 8];
        let mut bi = [0i32; 8];
        for l in 0..8 {
            best[l] = (dk[0] - xs[l]).abs();
        }
        for (i, &dki) in dk.iter().enumerate().skip(1) {
            for l in 0..8 {
                let err = (dki - xs[l]).abs();
                let take = err < best[l];
                best[l] = if take { err } else { best[l] };
                bi[l] = if take { i as i32 } else { bi[l] };
            }
        }
        for (o, &b) in is.iter_mut().zip(&bi) {
            *o = b as u8;
        }
    }
    o[0] = e;
    for j in 0..16 {
        o[1 + j] = idx[j] | (idx[j + 16] << 4);
    }
}

/// TQ1_0/TQ2_0's ternary digits: `uint8(int8(np_roundf(x * id)) + 1)`.
#[inline(always)]
fn ternary(x: &[f32; 256], id: f32, q: &mut [u8; 256]) {
    for (q, &e) in q.iter_mut().zip(x) {
        *q = roundf_u8(e * id).wrapping_add(1);
    }
}

fn tq1_0(x: &[f32; 256], o: &mut [u8; 54]) {
    let d = np_absmax(x);
    let mut q = [0u8; 256];
    ternary(x, inv(d), &mut q);
    // Base-3 digits, most significant first; the products wrap as uint8, the sums do not
    // (np.sum gives uint64), then `(s * 256 + 242) // 243` in uint16 (wrapping), as uint8.
    let pack = |digits: &mut dyn Iterator<Item = (u8, u8)>| -> u8 {
        let s: u32 = digits.map(|(v, p)| v.wrapping_mul(p) as u32).sum();
        let s = (s as u16).wrapping_mul(256).wrapping_add(242) / 243;
        s as u8
    };
    const POW: [u8; 5] = [81, 27, 9, 3, 1];
    for m in 0..32 {
        o[m] = pack(&mut (0..5).map(|n| (q[n * 32 + m], POW[n])));
    }
    for m in 0..16 {
        o[32 + m] = pack(&mut (0..5).map(|n| (q[160 + n * 16 + m], POW[n])));
    }
    for m in 0..4 {
        o[48 + m] = pack(&mut (0..4).map(|n| (q[240 + n * 4 + m], POW[n])));
    }
    put_f16(&mut o[52..], d);
}

fn tq2_0(x: &[f32; 256], o: &mut [u8; 66]) {
    let d = np_absmax(x);
    let mut q = [0u8; 256];
    ternary(x, inv(d), &mut q);
    for g in 0..2 {
        for m in 0..32 {
            let b = g * 128 + m;
            o[g * 32 + m] = q[b] | (q[b + 32] << 2) | (q[b + 64] << 4) | (q[b + 96] << 6);
        }
    }
    put_f16(&mut o[64..], d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qz(q: Quant, x: &[f32]) -> Vec<u8> {
        let mut out = vec![0u8; x.len() / q.block_len() * q.block_bytes()];
        quantize(q, x, &mut out);
        out
    }

    #[test]
    fn names_and_sizes() {
        for q in Quant::ALL {
            assert_eq!(Quant::from_name(q.name()), Some(q));
        }
        assert_eq!(Quant::from_name("MXFP4"), Some(Quant::Mxfp4));
        assert_eq!(Quant::from_name("Q4_K"), None);
    }

    #[test]
    fn numpy_casts() {
        assert_eq!(to_u8(300.0), 44);
        assert_eq!(to_u8(-3.0), 253);
        assert_eq!(to_u8(2_147_483_520.0), 128);
        assert_eq!(to_u8(2_147_483_648.0), 0);
        assert_eq!(to_u8(f32::NAN), 0);
        assert_eq!(to_u8(f32::NEG_INFINITY), 0);
        assert_eq!(roundf_u8(2.5), 3);
        assert_eq!(roundf_u8(-2.5), 253);
        assert_eq!(roundf_u8(0.49999997), 0);
        assert_eq!(roundf_u8(f32::INFINITY), 0);
    }

    #[test]
    fn log2_floor_near_powers_of_two() {
        // Just below 8 the f32 log2 rounds up to 3; just below 4 and 2 it does not.
        assert_eq!(floor_log2(f32::from_bits(0x40ff_ffff)), 3);
        assert_eq!(floor_log2(f32::from_bits(0x40ff_fffe)), 2);
        assert_eq!(floor_log2(f32::from_bits(0x407f_ffff)), 1);
        assert_eq!(floor_log2(f32::from_bits(0x3fff_ffff)), 0);
        assert_eq!(floor_log2(f32::MAX), 128);
        assert_eq!(floor_log2(f32::from_bits(0x7f7f_ffd4)), 128);
        assert_eq!(floor_log2(f32::from_bits(0x7f7f_ffd3)), 127);
        assert_eq!(floor_log2(f32::from_bits(1)), -149);
        assert_eq!(floor_log2(f32::from_bits(0x007f_ffff)), -126);
        assert_eq!(floor_log2(f32::from_bits(0x007f_ffea)), -126);
        assert_eq!(floor_log2(f32::from_bits(0x007f_ffe9)), -127);
        assert_eq!(floor_log2(1.0), 0);
    }

    #[test]
    fn q8_0_hand_checked() {
        let mut x = [0f32; 32];
        x[0] = 127.0;
        x[1] = -63.5; // a tie: rounds away from zero
        x[2] = 0.5;
        let out = qz(Quant::Q8_0, &x);
        assert_eq!(&out[..5], &[0x00, 0x3c, 127, (-64i8) as u8, 1]);
        assert!(out[5..].iter().all(|&b| b == 0));
        // All zeros: d = 0, id = 0.
        assert_eq!(qz(Quant::Q8_0, &[0.0; 32]), vec![0; 34]);
        // A NaN in the tail (element 31) is returned as it is: abs, payload kept, then
        // quieted by `/ 127`; elsewhere the default NaN.
        let mut x = [1f32; 32];
        x[31] = f32::from_bits(0xffa0_2000);
        assert_eq!(&qz(Quant::Q8_0, &x)[..2], &0x7f01u16.to_le_bytes());
        x[31] = 1.0;
        x[5] = f32::from_bits(0xffa0_2000);
        assert_eq!(&qz(Quant::Q8_0, &x)[..2], &0x7e00u16.to_le_bytes());
    }

    #[test]
    fn q4_0_hand_checked() {
        // The first maximum magnitude wins, with its sign: -4 before 4.
        let mut x = [0f32; 32];
        x[3] = -4.0;
        x[7] = 4.0;
        let out = qz(Quant::Q4_0, &x);
        // d = -4 / -8 = 0.5 (0x3800); id = 2: -4 -> trunc(-8 + 8.5) = 0, 4 -> 16 -> 15, 0 -> 8.
        assert_eq!(&out[..2], &[0x00, 0x38]);
        assert_eq!(out[2 + 3], 0x80);
        assert_eq!(out[2 + 7], 0x8f);
        assert_eq!(out[2], 0x88);
        // All +0: d = +0 / -8 = -0.
        assert_eq!(&qz(Quant::Q4_0, &[0.0; 32])[..3], &[0x00, 0x80, 0x88]);
        let mut z = [0f32; 32];
        z[0] = -0.0;
        assert_eq!(&qz(Quant::Q4_0, &z)[..2], &[0x00, 0x00]);
    }

    #[test]
    fn q4_1_signed_zeros_and_infinities() {
        // max == min == +inf: inf - inf is x86's default NaN (negative).
        let x = [f32::INFINITY; 32];
        let out = qz(Quant::Q4_1, &x);
        assert_eq!(&out[..4], &[0x00, 0xfe, 0x00, 0x7c]);
        // Ties between zeros go to the later operand: all -0 but the last: min is +0.
        let mut x = [-0.0f32; 32];
        x[31] = 0.0;
        let out = qz(Quant::Q4_1, &x);
        assert_eq!(&out[..4], &[0x00, 0x00, 0x00, 0x00]);
        x[31] = -0.0;
        x[29] = 0.0;
        x[30] = 1.0;
        // min: lanes of -0, tail: -0 vs +0 -> +0 (e29), then 1.0 no, then -0 (e31) tie -> -0.
        let out = qz(Quant::Q4_1, &x);
        assert_eq!(&out[2..4], &[0x00, 0x80]);
    }

    #[test]
    fn mxfp4_hand_checked() {
        let mut x = [0f32; 32];
        x[0] = 6.0; // amax 6: e = floor(log2 6) - 2 + 127 = 127, d = 2^-1 * ... = 0.5
        x[1] = -1.0; // -1 / 0.5 = -2 -> index 10
        x[2] = 0.25; // between 0 and 0.5: a tie, the first (0) wins
        let out = qz(Quant::Mxfp4, &x);
        assert_eq!(out[0], 127);
        assert_eq!(out[1], 0x07); // 6 = 0.5 * 12 -> index 7
        assert_eq!(out[2], 0x0a);
        assert_eq!(out[3], 0x00);
        // A NaN anywhere: e = 0; NaN elements get index 0.
        x[9] = f32::NAN;
        assert_eq!(qz(Quant::Mxfp4, &x)[0], 0);
    }

    #[test]
    fn ternary_hand_checked() {
        let mut x = [0f32; 256];
        x[0] = 2.0;
        x[32] = -2.0;
        x[1] = 1.0; // 0.5 rounds away from zero: 1
        let out = qz(Quant::Tq2_0, &x);
        // q = [2, 2, 1, ...] with q[32] = 0: byte 0 = 2 | 0 << 2 | 1 << 4 | 1 << 6.
        assert_eq!(out[0], 0x52);
        assert_eq!(out[1], 0x56);
        assert_eq!(&out[64..], &[0x00, 0x40]);
        let out = qz(Quant::Tq1_0, &x);
        // byte 0: digits (2, 0, 1, 1, 1) = 162 + 0 + 9 + 3 + 1 = 175 -> (175 * 256 + 242) / 243.
        assert_eq!(out[0], 185); // ceil(175 * 256 / 243)
        assert_eq!(&out[52..], &[0x00, 0x40]);
    }
}
