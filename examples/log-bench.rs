//! Helpers of `bench/log.sh` (the transparency log benchmark):
//!
//!   cargo run --release --example log-bench -- entries N OUT.txt [START]
//!       N log entries numbered from START (default 0), each a release of model
//!       org/model-(i mod 1000) with one publisher attestation signed by the ed25519 key of seed
//!       0x42 (its public key is written to OUT.txt.pub), one base64 entry per line, for
//!       `weightseal log add --entries`.
//!   cargo run --release --example log-bench -- verify PROOF LOG_VKEY ROUNDS
//!       Verifies the proof ROUNDS times in this process and prints the median microseconds.

use std::io::Write as _;

use base64::Engine as _;
use rayon::prelude::*;
use weightseal::attest::dsse::Envelope;
use weightseal::attest::statement::{Predicate, Statement};
use weightseal::attest::PrivateKey;
use weightseal::log::{LogEntry, LogPolicy, TlogProof, VerifierKey};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("entries") => {
            let n: u64 = args[2].parse().expect("N");
            let out = &args[3];
            // Entries START..START+N (batches of a large log made one at a time).
            let first: u64 = args.get(4).map_or(0, |a| a.parse().expect("START"));
            let key = PrivateKey::from_seed(&[0x42; 32]);
            std::fs::write(format!("{out}.pub"), key.public().to_pem()).unwrap();
            let b64 = base64::engine::general_purpose::STANDARD;
            let lines: Vec<String> = (first..first + n)
                .into_par_iter()
                .map(|i| {
                    let name = format!("org/model-{}", i % 1000);
                    let digest = weightseal::Digest(*blake3::hash(&i.to_le_bytes()).as_bytes());
                    let st = Statement::new(
                        &name,
                        digest,
                        Predicate {
                            role: "publisher".into(),
                            signer: "bench".into(),
                            issued_at: "2026-11-30T00:00:00Z".into(),
                            expires_at: None,
                            version: Some(i),
                            derived_from: vec![],
                            annotations: Default::default(),
                        },
                    );
                    let env = Envelope::sign(&st.to_bytes(), &key);
                    let e = LogEntry {
                        model: name,
                        manifest: digest,
                        version: Some(i),
                        attestations: vec![env.to_line()],
                    };
                    b64.encode(e.encode())
                })
                .collect();
            let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
            for l in lines {
                writeln!(f, "{l}").unwrap();
            }
        }
        Some("verify") => {
            let proof = TlogProof::parse(&std::fs::read(&args[2]).unwrap()).unwrap();
            let policy = LogPolicy::new(VerifierKey::parse(&args[3]).unwrap(), vec![], 0).unwrap();
            let rounds: usize = args[4].parse().unwrap();
            let entry = LogEntry::decode(proof.extra.as_deref().unwrap()).unwrap();
            let mut times = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = std::time::Instant::now();
                let p = TlogProof::parse(&proof.encode()).unwrap();
                p.verify(&policy, &entry.model, entry.manifest).unwrap();
                times.push(t.elapsed().as_secs_f64() * 1e6);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("{:.1}", times[times.len() / 2]);
        }
        _ => {
            eprintln!("usage: log-bench entries N OUT | verify PROOF LOG_VKEY ROUNDS");
            std::process::exit(2);
        }
    }
}
