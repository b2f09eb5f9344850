//! The property each fuzz target checks, shared by the fuzz targets (`fuzz_targets/*.rs`) and
//! by `tests/hostile/fuzz_regressions.rs`, which replays the committed seeds and every
//! regression input on each `cargo test`. A function returns normally or panics.
#![allow(dead_code)]

use std::path::Path;

use weightseal::attest::policy::{evaluate, Policy};
use weightseal::attest::statement::Statement;
use weightseal::attest::time::Timestamp;
use weightseal::attest::{bundle, PrivateKey};
use weightseal::fetch::{content_range_matches, stream_groups};
use weightseal::formats::{self, Format, Layout};
use weightseal::{ChunkSize, Digest, Manifest};

/// Manifest decoding: whatever decodes is its own canonical encoding and decodes again to the
/// same manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(m) = Manifest::decode(data) {
        let again = m.encode();
        assert_eq!(
            again, data,
            "an accepted manifest is its canonical encoding"
        );
        let m2 = Manifest::decode(&again).expect("the re-encoding decodes");
        assert_eq!(m, m2);
    }
}

fn layout_in_bounds(l: &Layout, size: u64) {
    assert!(l.header_len <= size);
    let mut last_end = l.header_len;
    for t in l.tensors.iter().filter(|t| t.end > t.start) {
        assert!(
            t.start >= last_end && t.end <= size,
            "tensor {:?} out of order or bounds",
            t.name
        );
        last_end = t.end;
    }
    assert!(l.metadata.windows(2).all(|w| w[0].key < w[1].key));
}

/// safetensors: an accepted layout lies inside the file, sorted and disjoint.
pub fn safetensors(data: &[u8]) {
    if let Ok(l) = formats::parse_slice(data, Format::Safetensors) {
        layout_in_bounds(&l, data.len() as u64);
    }
}

/// GGUF: the same.
pub fn gguf(data: &[u8]) {
    if let Ok(l) = formats::parse_slice(data, Format::Gguf) {
        layout_in_bounds(&l, data.len() as u64);
    }
}

/// Bundles, envelopes, statements and policy evaluation: only the fixed key's own
/// signatures verify (the fuzzer cannot forge ed25519).
pub fn envelope(data: &[u8]) {
    let _ = Statement::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = bundle::parse(text);
    let key = PrivateKey::from_seed(&[7; 32]).public();
    for l in &lines {
        if let Ok(env) = &l.envelope {
            if let Ok((payload, ids)) = env.verify(std::slice::from_ref(&key)) {
                assert_eq!(ids, vec![key.id().to_string()]);
                let _ = Statement::parse(&payload);
            }
        }
    }
    let policy = Policy::publisher_keys(vec![("k".into(), key)]);
    let _ = evaluate(
        &policy,
        "org/model",
        Digest([1; 32]),
        &lines,
        Timestamp(1_800_000_000),
        None,
    );
}

/// Trust policies: an accepted policy has a role and only thresholds of at least 1.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Relative key paths resolve under a directory that does not exist.
    let base = Path::new("/nonexistent/weightseal-fuzz");
    if let Ok(p) = Policy::parse(text, Path::new("fuzz.toml"), base) {
        assert!(!p.thresholds.is_empty());
        assert!(p.thresholds.values().all(|&t| t >= 1));
    }
}

/// HTTP response checks. Input: first (u32 LE), span (u16 LE), size (u32 LE, mod 2^16),
/// chunk-size selector (u8), header length (u8), the Content-Range value, then the body.
pub fn response(data: &[u8]) {
    if data.len() < 12 {
        return;
    }
    let first = u32::from_le_bytes(data[0..4].try_into().unwrap()) as u64;
    let last = first + u16::from_le_bytes(data[4..6].try_into().unwrap()) as u64;
    let size = u32::from_le_bytes(data[6..10].try_into().unwrap()) as u64 % (1 << 16);
    let cs = ChunkSize::new(1 << (14 + data[10] % 4)).unwrap();
    let split = (data[11] as usize).min(data.len() - 12);
    let header = String::from_utf8_lossy(&data[12..12 + split]);
    let body = &data[12 + split..];
    if content_range_matches(&header, first, last, size) {
        assert!(header.starts_with(&format!("bytes {first}-{last}/")));
        assert!(header.ends_with(&format!("/{size}")) || header.ends_with("/*"));
    }
    let mut got = Vec::new();
    let mut next = 0u64;
    let r = stream_groups("u", body, size, cs, |i, g| {
        assert_eq!(i, next);
        next += 1;
        got.extend_from_slice(g);
        Ok(())
    });
    if r.is_ok() {
        assert_eq!(body.len() as u64, size);
        assert_eq!(got, body);
    }
}

/// The transparency log's parsers: an accepted entry or proof is its one encoding; a proof
/// never verifies for a release it does not name; checkpoints, entry bundles and verifier keys
/// parse or fail, never panic.
pub fn tlog(data: &[u8]) {
    use weightseal::log::{LogEntry, LogPolicy, TlogProof, VerifierKey};
    if let Ok(e) = LogEntry::decode(data) {
        assert_eq!(e.encode(), data, "an accepted entry is its one encoding");
    }
    let key = std::sync::Arc::new(PrivateKey::from_seed(&[0x10; 32]));
    let signer = weightseal::log::keys::LogSigner::log("example.test/log", key).expect("a signer");
    let policy = LogPolicy::new(signer.verifier().clone(), vec![], 0).unwrap();
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.encode(), data, "an accepted proof is its one encoding");
        if let Ok(r) = p.verify(&policy, "org/model-3", Digest([0; 32])) {
            panic!("a proof verified for a release it does not hold: {r:?}");
        }
    }
    let _ = weightseal::log::store::open_checkpoint(data, policy.log());
    let _ = weightseal::log::store::split_bundle(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = VerifierKey::parse(s);
    }
}
