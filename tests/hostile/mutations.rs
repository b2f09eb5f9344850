//! Hostile input: thousands of mutations of valid manifests, safetensors and GGUF files, and
//! DSSE envelopes. Every parser must return a value or its error — never panic, never allocate
//! what the input does not hold (a panic or an abort fails this test).

#[path = "../../testvectors/generate.rs"]
#[allow(dead_code)]
mod generate;

use std::io::Write;

use weightseal::attest::bundle;
use weightseal::formats::{self, Format};
use weightseal::manifest::Manifest;
use weightseal::ChunkSize;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// One random mutation: flip bits, overwrite with 0x00/0xff/random, truncate, duplicate a
    /// slice, or insert bytes.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        let mut v = input.to_vec();
        if v.is_empty() {
            return vec![self.next() as u8];
        }
        for _ in 0..1 + self.next() % 4 {
            let i = (self.next() % v.len() as u64) as usize;
            match self.next() % 6 {
                0 => v[i] ^= 1 << (self.next() % 8),
                1 => v[i] = [0x00, 0xff, 0x7f, 0x80, 0x1b, 0x9f][(self.next() % 6) as usize],
                2 => v[i] = self.next() as u8,
                3 => v.truncate(i),
                4 => {
                    let j = (i + (self.next() % 16) as usize).min(v.len());
                    let s = v[i..j].to_vec();
                    v.splice(i..i, s);
                }
                _ => v.insert(i, self.next() as u8),
            }
            if v.is_empty() {
                break;
            }
        }
        v
    }
}

fn manifest_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (name, text) in generate::generate() {
        if !name.starts_with("manifest/ok-") {
            continue;
        }
        let hex = text
            .lines()
            .find_map(|l| l.strip_prefix("manifest: "))
            .unwrap();
        out.push(weightseal::digest::unhex(hex).unwrap());
    }
    out
}

#[test]
fn mutated_manifests_never_panic() {
    let seeds = manifest_seeds();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut accepted = 0;
    for round in 0..6000 {
        let seed = &seeds[round % seeds.len()];
        let m = rng.mutate(seed);
        if let Ok(parsed) = Manifest::decode(&m) {
            // Whatever is accepted is canonical.
            assert_eq!(parsed.encode(), m);
            accepted += 1;
        }
    }
    assert!(accepted < 600, "{accepted} mutations accepted");
}

fn parse(bytes: &[u8], format: Format) -> Result<formats::Layout, formats::FormatError> {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    formats::parse(&f, bytes.len() as u64, format)
}

#[test]
fn mutated_tensor_files_never_panic() {
    let seeds = [
        (generate::st_official(), Format::Safetensors),
        (generate::gguf_good(), Format::Gguf),
    ];
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    for round in 0..3000 {
        let (seed, format) = &seeds[round % 2];
        let m = rng.mutate(seed);
        if let Ok(layout) = parse(&m, *format) {
            // Whatever parses describes ranges inside the file that do not overlap.
            let size = m.len() as u64;
            assert!(layout.header_len <= size);
            let mut last = 0;
            for t in layout.tensors.iter().filter(|t| t.end > t.start) {
                assert!(t.start >= last && t.end <= size, "{t:?}");
                last = t.end;
            }
            // And hashing those ranges works.
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&m).unwrap();
            let mut regions = vec![(0, layout.header_len)];
            regions.extend(layout.tensors.iter().map(|t| (t.start, t.end)));
            weightseal::tree::hash_file_regions(
                &f,
                size,
                ChunkSize::new(16384).unwrap(),
                &regions,
                &weightseal::progress::NoProgress,
            )
            .unwrap();
        }
    }
}

#[test]
fn mutated_envelopes_never_panic_and_never_verify() {
    let key = weightseal::attest::PrivateKey::from_seed(&[9; 32]);
    let env = weightseal::attest::dsse::Envelope::sign(br#"{"_type":"x"}"#, &key);
    let line = env.to_line().into_bytes();
    let mut rng = Rng(0x5555_aaaa_5555_aaaa);
    let trusted = [key.public()];
    for _ in 0..3000 {
        let m = rng.mutate(&line);
        let text = String::from_utf8_lossy(&m);
        for l in bundle::parse(&text) {
            if let Ok(e) = l.envelope {
                if let Ok((payload, _)) = e.verify(&trusted) {
                    // Only a payload that is still the signed one can verify.
                    assert_eq!(payload, br#"{"_type":"x"}"#);
                }
            }
        }
    }
}
