//! Single-core throughput of the derive kernels on 256 MiB of random f32:
//! `cargo run --release --example derive-kernels-bench`. Prints GB/s of f32-equivalent
//! input (4 bytes per value) and millions of values per second for each operation.

use std::time::Instant;

use weightseal::derive::float::{cast, Float, NanRule};
use weightseal::derive::quant::{quantize, Quant};

fn main() {
    let n = 64 << 20; // 256 MiB of f32
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let x: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // roughly normal: a sum of uniforms, at a weight-like scale
            let u = |k: u32| ((s >> k) & 0xffff) as f32 / 65536.0 - 0.5;
            (u(0) + u(16) + u(32) + u(48)) * 0.05
        })
        .collect();
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let report = |name: &str, secs: f64| {
        println!(
            "{name:<14} {:6.2} GB/s  {:7.0} M values/s",
            n as f64 * 4.0 / secs / 1e9,
            n as f64 / secs / 1e6
        );
    };
    let best = |f: &mut dyn FnMut()| -> f64 {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut half = vec![0u8; n * 2];
    let mut half2 = vec![0u8; n * 2];
    let mut wide = vec![0u8; n * 4];
    use Float::*;
    for (from, to) in [(F32, F16), (F32, Bf16)] {
        let t = best(&mut || cast(from, to, NanRule::Keep, &bytes, &mut half));
        report(&format!("{}->{}", from.name(), to.name()), t);
    }
    cast(F32, F16, NanRule::Keep, &bytes, &mut half);
    for (from, to) in [(F16, F32), (F16, Bf16), (Bf16, F32), (Bf16, F16)] {
        let out: &mut [u8] = if to == F32 { &mut wide } else { &mut half2 };
        let t = best(&mut || cast(from, to, NanRule::Keep, &half, out));
        report(&format!("{}->{}", from.name(), to.name()), t);
    }
    for q in Quant::ALL {
        let mut out = vec![0u8; n / q.block_len() * q.block_bytes()];
        let t = best(&mut || quantize(q, &x, &mut out));
        report(q.name(), t);
        std::hint::black_box(&out);
    }
}
