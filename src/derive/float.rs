//! Floating-point casts between F32, F16 and BF16, bit-exact and total (every input has
//! defined output bytes, NaN payloads and signs included).
//!
//! Finite values and infinities: round to nearest, ties to even; overflow to ±inf; subnormals
//! in and out exact; -0 kept. F16/BF16 → F32 is exact (a NaN keeps its sign and its payload,
//! shifted up, and is not quieted). F16 ↔ BF16 goes through F32: an exact first step, then one
//! rounding. Only NaNs differ between the two [`NanRule`]s.
//!
//! The independent oracles (checked by `tests/derive_oracle.rs`): NumPy's
//! `astype(np.float16)` (its software `npy_floatbits_to_halfbits`), gguf-py's
//! `gguf.quants.BF16.quantize_blocks` (ggml's `ggml_compute_fp32_to_bf16`), and NumPy's
//! `astype(np.float32)` from float16 (`npy_halfbits_to_floatbits`).

/// A floating-point tensor element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Float {
    F32,
    F16,
    Bf16,
}

impl Float {
    /// `"F32"`, `"F16"` or `"BF16"` (the safetensors / GGUF dtype names).
    pub fn from_name(dtype: &str) -> Option<Float> {
        match dtype {
            "F32" => Some(Float::F32),
            "F16" => Some(Float::F16),
            "BF16" => Some(Float::Bf16),
            _ => None,
        }
    }

    /// The dtype name, as [`Float::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Float::F32 => "F32",
            Float::F16 => "F16",
            Float::Bf16 => "BF16",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Float::F32 => 4,
            Float::F16 | Float::Bf16 => 2,
        }
    }
}

/// What a narrowing cast makes of a NaN (finite values and infinities never depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NanRule {
    /// NumPy / gguf-py: the sign and the top of the payload are kept.
    ///
    /// * to F16: NumPy's `astype(np.float16)` (`npy_floatbits_to_halfbits`): sign kept,
    ///   payload `f32 payload >> 13`, and a payload that becomes 0 is set to 1 so the value
    ///   stays a NaN; a signaling NaN is not quieted (`0x7f800001` → `0x7c01`,
    ///   `0x7fa00000` → `0x7d00`).
    /// * to BF16: gguf-py's `BF16.quantize_blocks`, ggml's `ggml_compute_fp32_to_bf16`:
    ///   `((bits & 0xffff0000) | 0x00400000) >> 16`, the sign and the top 7 payload bits kept,
    ///   the quiet bit set.
    #[default]
    Keep,
    /// PyTorch's `Tensor.to()`, from the scalar c10 conversions: to F16
    /// `c10::detail::fp16_ieee_from_fp32_value` gives `0x7E00 | sign`; to BF16
    /// `c10::detail::round_to_nearest_even` gives `0x7FC0` (sign dropped). There is no oracle
    /// for this rule here (torch is not installed); it is implemented from the c10 sources.
    /// (PyTorch's vectorized CPU kernels may use other instructions for NaNs; only NaN
    /// outputs could differ.)
    Canonical,
}

/// F32 → F16 bits, branch-free (so that the chunked loops vectorize).
#[inline(always)]
fn f16_bits(bits: u32, nan: NanRule) -> u16 {
    let sign = (bits >> 16) & 0x8000;
    let a = bits & 0x7fff_ffff;
    // Normal F16 range: rebias the exponent (127 → 15) and round to nearest even on the 13
    // dropped bits; a carry moves into the exponent (and up to 0x7c00, inf) as it should.
    let normal = (a
        .wrapping_add(0x0fff + ((a >> 13) & 1))
        .wrapping_sub(0x3800_0000))
        >> 13;
    // Below 2^-14: adding 0.5 puts the unit in the last place at 2^-24, the F16 subnormal
    // step, so the FPU's round-to-nearest-even rounds exactly once; the integer left in the
    // mantissa is the F16 bit pattern (0x400, the smallest normal, when it rounds up to it).
    let sub = (f32::from_bits(a) + 0.5)
        .to_bits()
        .wrapping_sub(0x3f00_0000);
    let payload = (a & 0x007f_ffff) >> 13;
    let nan_bits = match nan {
        NanRule::Keep => 0x7c00 | payload | (payload == 0) as u32,
        NanRule::Canonical => 0x7e00,
    };
    let mag = if a > 0x7f80_0000 {
        nan_bits
    } else if a >= 0x477f_f000 {
        // 65520 and up (inf included) round to inf.
        0x7c00
    } else if a >= 0x3880_0000 {
        normal
    } else {
        sub
    };
    (sign | mag) as u16
}

/// F32 → BF16 bits, branch-free.
#[inline(always)]
fn bf16_bits(bits: u32, nan: NanRule) -> u16 {
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let nan_bits = match nan {
        NanRule::Keep => ((bits & 0xffff_0000) | 0x0040_0000) >> 16,
        NanRule::Canonical => 0x7fc0,
    };
    if bits & 0x7fff_ffff > 0x7f80_0000 {
        nan_bits as u16
    } else {
        rounded as u16
    }
}

/// F16 bits → F32 bits, exact, branch-free.
#[inline(always)]
fn f16_to_f32_bits(h: u16) -> u32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let exp = h & 0x7c00;
    let mant = h & 0x03ff;
    let normal = ((h & 0x7fff) << 13) + 0x3800_0000;
    let special = 0x7f80_0000 | (mant << 13);
    // mant · 2^-24, exact (mant < 2^10).
    let sub = (mant as f32 * f32::from_bits(0x3380_0000)).to_bits();
    sign | if exp == 0x7c00 {
        special
    } else if exp == 0 {
        sub
    } else {
        normal
    }
}

/// One f32 to F16 bits (see [`cast`]).
pub fn f32_to_f16(x: f32, nan: NanRule) -> u16 {
    f16_bits(x.to_bits(), nan)
}

/// One f32 to BF16 bits (see [`cast`]).
pub fn f32_to_bf16(x: f32, nan: NanRule) -> u16 {
    bf16_bits(x.to_bits(), nan)
}

/// F16 bits to f32, exact.
pub fn f16_to_f32(h: u16) -> f32 {
    f32::from_bits(f16_to_f32_bits(h))
}

/// BF16 bits to f32, exact.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Elements per chunk of the inner loops (fixed so that they unroll and vectorize).
const CHUNK: usize = 16;

/// Applies `f` to every little-endian element of `src` (element size `I`), writing the
/// little-endian results (size `O`) to `out`, in fixed-size chunks.
#[inline(always)]
fn map<const I: usize, const O: usize>(src: &[u8], out: &mut [u8], f: impl Fn(u32) -> u32) {
    let n = (src.len() / I).min(out.len() / O);
    let (src, out) = (&src[..n * I], &mut out[..n * O]);
    let rd = |b: &[u8]| -> u32 {
        let mut w = [0u8; 4];
        w[..I].copy_from_slice(&b[..I]);
        u32::from_le_bytes(w)
    };
    let mut sc = src.chunks_exact(I * CHUNK);
    let mut oc = out.chunks_exact_mut(O * CHUNK);
    for (s, o) in (&mut sc).zip(&mut oc) {
        let mut v = [0u32; CHUNK];
        for (i, x) in v.iter_mut().enumerate() {
            *x = f(rd(&s[i * I..]));
        }
        for (i, x) in v.iter().enumerate() {
            o[i * O..i * O + O].copy_from_slice(&x.to_le_bytes()[..O]);
        }
    }
    for (s, o) in sc
        .remainder()
        .chunks_exact(I)
        .zip(oc.into_remainder().chunks_exact_mut(O))
    {
        o.copy_from_slice(&f(rd(s)).to_le_bytes()[..O]);
    }
}

/// Exact widening of little-endian `from` values to f32 (`src.len() == out.len() *
/// from.size()`; with other lengths, the shorter of the two is converted).
pub fn widen(from: Float, src: &[u8], out: &mut [f32]) {
    let n = (src.len() / from.size()).min(out.len());
    let out = &mut out[..n];
    match from {
        Float::F32 => {
            for (o, s) in out.iter_mut().zip(src.chunks_exact(4)) {
                *o = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            }
        }
        Float::F16 => {
            for (o, s) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = f32::from_bits(f16_to_f32_bits(u16::from_le_bytes([s[0], s[1]])));
            }
        }
        Float::Bf16 => {
            for (o, s) in out.iter_mut().zip(src.chunks_exact(2)) {
                *o = f32::from_bits((u16::from_le_bytes([s[0], s[1]]) as u32) << 16);
            }
        }
    }
}

/// Casts little-endian `from` values to little-endian `to` values: round to nearest, ties to
/// even; overflow to ±inf; subnormals exact; -0 kept; NaNs per `nan` (see [`NanRule`]).
/// F16 ↔ BF16 goes through F32 (exact, then one rounding). `from == to` is a copy.
/// `src.len() / from.size() == out.len() / to.size()`; with other lengths, the shorter of
/// the two is converted and the rest of `out` is left as it was.
pub fn cast(from: Float, to: Float, nan: NanRule, src: &[u8], out: &mut [u8]) {
    match (from, to) {
        (a, b) if a == b => {
            let n = src.len().min(out.len()) / a.size() * a.size();
            out[..n].copy_from_slice(&src[..n]);
        }
        (Float::F32, Float::F16) => match nan {
            NanRule::Keep => map::<4, 2>(src, out, |b| f16_bits(b, NanRule::Keep) as u32),
            NanRule::Canonical => map::<4, 2>(src, out, |b| f16_bits(b, NanRule::Canonical) as u32),
        },
        (Float::F32, Float::Bf16) => match nan {
            NanRule::Keep => map::<4, 2>(src, out, |b| bf16_bits(b, NanRule::Keep) as u32),
            NanRule::Canonical => {
                map::<4, 2>(src, out, |b| bf16_bits(b, NanRule::Canonical) as u32)
            }
        },
        (Float::F16, Float::F32) => map::<2, 4>(src, out, |h| f16_to_f32_bits(h as u16)),
        (Float::Bf16, Float::F32) => map::<2, 4>(src, out, |h| h << 16),
        (Float::F16, Float::Bf16) => match nan {
            NanRule::Keep => map::<2, 2>(src, out, |h| {
                bf16_bits(f16_to_f32_bits(h as u16), NanRule::Keep) as u32
            }),
            NanRule::Canonical => map::<2, 2>(src, out, |h| {
                bf16_bits(f16_to_f32_bits(h as u16), NanRule::Canonical) as u32
            }),
        },
        (Float::Bf16, Float::F16) => match nan {
            NanRule::Keep => map::<2, 2>(src, out, |h| f16_bits(h << 16, NanRule::Keep) as u32),
            NanRule::Canonical => {
                map::<2, 2>(src, out, |h| f16_bits(h << 16, NanRule::Canonical) as u32)
            }
        },
        // Equal pairs are handled above.
        (Float::F32, Float::F32) | (Float::F16, Float::F16) | (Float::Bf16, Float::Bf16) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(x: u32, nan: NanRule) -> u16 {
        f32_to_f16(f32::from_bits(x), nan)
    }
    fn b(x: u32, nan: NanRule) -> u16 {
        f32_to_bf16(f32::from_bits(x), nan)
    }

    #[test]
    fn f16_rounding_overflow_subnormals() {
        let k = NanRule::Keep;
        assert_eq!(h(0x3f80_0000, k), 0x3c00); // 1.0
        assert_eq!(h(0xbf80_0000, k), 0xbc00); // -1.0
        assert_eq!(h(0x8000_0000, k), 0x8000); // -0
        assert_eq!(h(0x477f_e000, k), 0x7bff); // 65504
        assert_eq!(h(0x477f_efff, k), 0x7bff); // just below 65520
        assert_eq!(h(0x477f_f000, k), 0x7c00); // 65520 -> inf
        assert_eq!(h(0xff80_0000, k), 0xfc00); // -inf
        assert_eq!(h(0x7f7f_ffff, k), 0x7c00); // f32 max -> inf
                                               // Ties: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 (even: down), 1 + 3·2^-11 up.
        assert_eq!(h(0x3f80_1000, k), 0x3c00);
        assert_eq!(h(0x3f80_3000, k), 0x3c02);
        assert_eq!(h(0x3f80_1001, k), 0x3c01);
        // Subnormals: 2^-24 is 0x0001; 2^-25 is a tie with 0 (even: 0); 3·2^-26 rounds up.
        assert_eq!(h(0x3380_0000, k), 0x0001);
        assert_eq!(h(0x3300_0000, k), 0x0000);
        assert_eq!(h(0x3340_0000, k), 0x0001);
        assert_eq!(h(0xb3c0_0000, k), 0x8002); // -1.5·2^-24: tie, to even (2)
        assert_eq!(h(0x387f_ffff, k), 0x0400); // just below 2^-14 rounds up to it
        assert_eq!(h(0x0000_0001, k), 0x0000); // f32 subnormal
    }

    #[test]
    fn nan_rules() {
        let (k, c) = (NanRule::Keep, NanRule::Canonical);
        assert_eq!(h(0x7f80_0001, k), 0x7c01);
        assert_eq!(h(0xff80_0001, k), 0xfc01);
        assert_eq!(h(0x7fa0_0000, k), 0x7d00);
        assert_eq!(h(0x7fc0_0000, k), 0x7e00);
        assert_eq!(h(0xffff_ffff, k), 0xffff);
        assert_eq!(h(0xffa0_0000, c), 0xfe00);
        assert_eq!(h(0x7f80_0001, c), 0x7e00);
        assert_eq!(b(0x7f80_0001, k), 0x7fc0);
        assert_eq!(b(0xffa1_2345, k), 0xffe1);
        assert_eq!(b(0xffa1_2345, c), 0x7fc0);
        assert_eq!(b(0x7fff_ffff, k), 0x7fff);
    }

    #[test]
    fn bf16_rounding() {
        let k = NanRule::Keep;
        assert_eq!(b(0x3f80_8000, k), 0x3f80); // tie, even: down
        assert_eq!(b(0x3f81_8000, k), 0x3f82); // tie, odd: up
        assert_eq!(b(0x3f80_8001, k), 0x3f81);
        assert_eq!(b(0x7f7f_ffff, k), 0x7f80); // overflow to inf
        assert_eq!(b(0x8000_0001, k), 0x8000); // tiny subnormal to -0
        assert_eq!(b(0x0000_8001, k), 0x0001); // subnormal rounds up
    }

    #[test]
    fn widen_is_exact_and_keeps_nans() {
        assert_eq!(f16_to_f32(0x0001).to_bits(), 0x3380_0000);
        assert_eq!(f16_to_f32(0x83ff).to_bits(), 0xb87f_c000);
        assert_eq!(f16_to_f32(0x7c01).to_bits(), 0x7f80_2000);
        assert_eq!(f16_to_f32(0xfd00).to_bits(), 0xffa0_0000);
        assert_eq!(f16_to_f32(0x7bff).to_bits(), 0x477f_e000);
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        // Every F16 value survives the round trip (NaNs with the Keep rule included).
        for x in 0..=u16::MAX {
            assert_eq!(f32_to_f16(f16_to_f32(x), NanRule::Keep), x, "{x:#06x}");
        }
        let src = [0x01u8, 0x7c, 0x00, 0x80];
        let mut out = [0f32; 2];
        widen(Float::F16, &src, &mut out);
        assert_eq!(out[0].to_bits(), 0x7f80_2000);
        assert_eq!(out[1].to_bits(), 0x8000_0000);
    }

    #[test]
    fn cast_pairs() {
        // F16 -> BF16 rounds once: 0x3c01 (1 + 2^-10) -> 1.0 in BF16; a NaN is quieted.
        let mut out = [0u8; 4];
        cast(
            Float::F16,
            Float::Bf16,
            NanRule::Keep,
            &[0x01, 0x3c, 0x01, 0x7c],
            &mut out,
        );
        assert_eq!(out, [0x80, 0x3f, 0xc0, 0x7f]);
        // BF16 -> F16: 2^16 overflows, the smallest BF16 subnormal underflows to 0.
        cast(
            Float::Bf16,
            Float::F16,
            NanRule::Keep,
            &[0x80, 0x47, 0x01, 0x80],
            &mut out,
        );
        assert_eq!(out, [0x00, 0x7c, 0x00, 0x80]);
        // A long run goes through the chunked loop and the remainder alike.
        let src: Vec<u8> = (0..37u32)
            .flat_map(|i| (0x3f80_0000 + i * 0x1000).to_le_bytes())
            .collect();
        let mut out = vec![0u8; 74];
        cast(Float::F32, Float::F16, NanRule::Keep, &src, &mut out);
        for i in 0..37 {
            let want = f32_to_f16(f32::from_bits(0x3f80_0000 + i * 0x1000), NanRule::Keep);
            assert_eq!(
                u16::from_le_bytes([out[2 * i as usize], out[2 * i as usize + 1]]),
                want
            );
        }
        let mut same = vec![0u8; 74];
        cast(Float::F16, Float::F16, NanRule::Keep, &out, &mut same);
        assert_eq!(same, out);
        assert_eq!(Float::from_name("BF16"), Some(Float::Bf16));
        assert_eq!(Float::Bf16.name(), "BF16");
        assert_eq!(Float::from_name("bf16"), None);
    }
}
