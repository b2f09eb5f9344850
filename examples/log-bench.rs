//! Helpers of `bench/log.sh` (the transparency log benchmark):
//!
//!   cargo run --release --example log-bench -- entries N OUT.txt [START]
//!       N log entries numbered from START (default 0), each a release of model
//!       org/model-(i mod 1000) with one publisher attestation signed by the ed25519 key of seed
//!       0x42 (its public key is written to OUT.txt.pub), one base64 entry per line, for
//!       `weightseal log add --entries`.
//!   cargo run --release --example log-bench -- verify PROOF LOG_VKEY ROUNDS
//!       Verifies the proof ROUNDS times in this process and prints the median microseconds.
//!   cargo run --release --example log-bench -- load ADDR ENTRIES.txt LOG_VKEY CLIENTS IDLE
//!       Submits every entry of ENTRIES.txt to the `log serve` at ADDR (`POST /add`) from
//!       CLIENTS keep-alive connections, each one submission at a time, while IDLE other
//!       connections are held open doing nothing (reopened when the server drops them). Each
//!       answer must be 200 with the entry's proof, which is checked under LOG_VKEY before
//!       the next submission. Prints entries/s, the latency of a submission (p50, p99, max),
//!       of a GET /checkpoint made every 100 ms meanwhile, and checks that the log then holds
//!       exactly the entries acknowledged, each at a distinct index.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

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
                            derivation: None,
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
        Some("load") => load(
            args[2].parse().expect("ADDR"),
            &args[3],
            &args[4],
            args[5].parse().expect("CLIENTS"),
            args[6].parse().expect("IDLE"),
        ),
        _ => {
            eprintln!(
                "usage: log-bench entries N OUT | verify PROOF LOG_VKEY ROUNDS | load ADDR ENTRIES LOG_VKEY CLIENTS IDLE"
            );
            std::process::exit(2);
        }
    }
}

/// One HTTP/1.1 answer on a keep-alive connection: status, whether the server closes the
/// connection after it, body.
fn read_answer(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, bool, Vec<u8>)> {
    let mut status = 0;
    let mut len = 0usize;
    let mut close = false;
    let mut first = true;
    loop {
        let mut l = String::new();
        if r.read_line(&mut l)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = l.trim_end();
        if first {
            status = l
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            first = false;
        } else if l.is_empty() {
            break;
        } else if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("connection") {
                close = v.trim().eq_ignore_ascii_case("close");
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status, close, body))
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let c = TcpStream::connect(addr).expect("connect to the log");
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let r = BufReader::new(c.try_clone().unwrap());
    (c, r)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Holds `n` connections to `addr` open, sending nothing, until `stop`; reopens each one the
/// server closes (its header timeout) and counts them in `reopened`.
fn hold_idle(addr: SocketAddr, n: usize, stop: &AtomicBool, reopened: &AtomicU64, ready: &Barrier) {
    let open = || {
        let c = TcpStream::connect(addr).expect("an idle connection");
        c.set_nonblocking(true).unwrap();
        c
    };
    let mut conns: Vec<TcpStream> = (0..n).map(|_| open()).collect();
    ready.wait();
    while !stop.load(Ordering::Relaxed) {
        for c in conns.iter_mut() {
            let mut b = [0u8; 64];
            let gone = match c.read(&mut b) {
                Ok(_) => true,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            if gone {
                *c = open();
                reopened.fetch_add(1, Ordering::Relaxed);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn load(addr: SocketAddr, entries: &str, vkey: &str, clients: usize, idle: usize) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let entries: Vec<(Vec<u8>, LogEntry)> = std::fs::read_to_string(entries)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let b = b64.decode(l).unwrap();
            let e = LogEntry::decode(&b).unwrap();
            (b, e)
        })
        .collect();
    let n = entries.len();
    let policy = LogPolicy::new(VerifierKey::parse(vkey).unwrap(), vec![], 0).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reopened = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(Barrier::new(2));
    let holder = {
        let (stop, reopened, ready) = (stop.clone(), reopened.clone(), ready.clone());
        std::thread::spawn(move || {
            if idle > 0 {
                hold_idle(addr, idle, &stop, &reopened, &ready)
            } else {
                ready.wait();
            }
        })
    };
    ready.wait();
    // A reader meanwhile: GET /checkpoint every 100 ms on a keep-alive connection.
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut c, mut r) = connect(addr);
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: bench\r\n\r\n")
                    .unwrap();
                let (status, close, _) = read_answer(&mut r).expect("GET /checkpoint answered");
                assert_eq!(status, 200, "GET /checkpoint");
                times.push(t.elapsed().as_secs_f64() * 1e3);
                if close {
                    (c, r) = connect(addr);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            times
        })
    };
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let results: Vec<(Vec<f64>, Vec<u64>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(|| {
                    let (mut c, mut r) = connect(addr);
                    let mut lat = Vec::new();
                    let mut idx = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        let (bytes, e) = &entries[i];
                        let mut req = format!(
                            "POST /add HTTP/1.1\r\nHost: bench\r\nContent-Length: {}\r\n\r\n",
                            bytes.len()
                        )
                        .into_bytes();
                        req.extend_from_slice(bytes);
                        let t = Instant::now();
                        c.write_all(&req).unwrap();
                        let (status, close, body) = read_answer(&mut r).expect("an answer");
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                        assert_eq!(status, 200, "entry {i}: {}", String::from_utf8_lossy(&body));
                        let p = TlogProof::parse(&body).expect("a proof");
                        assert_eq!(p.extra.as_deref(), Some(&bytes[..]), "entry {i}");
                        p.verify(&policy, &e.model, e.manifest)
                            .unwrap_or_else(|err| panic!("entry {i}: {err}"));
                        idx.push(p.index);
                        if close {
                            (c, r) = connect(addr);
                        }
                    }
                    (lat, idx)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let secs = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut gets = reader.join().unwrap();
    holder.join().unwrap();
    let mut lat: Vec<f64> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let mut idx: Vec<u64> = results.into_iter().flat_map(|(_, i)| i).collect();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    gets.sort_by(|a, b| a.partial_cmp(b).unwrap());
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), n, "every entry at its own index");
    // The log holds exactly what was acknowledged.
    let (mut c, mut r) = connect(addr);
    c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: bench\r\n\r\n")
        .unwrap();
    let (_, _, cp) = read_answer(&mut r).unwrap();
    let size: u64 = String::from_utf8_lossy(&cp)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a checkpoint size");
    assert_eq!(size, n as u64, "the checkpoint's size");
    println!(
        "POST /add: {n} entries from {clients} clients in {secs:.2} s = {:.0} entries/s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; every proof checked; checkpoint size {size}",
        n as f64 / secs,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0),
    );
    println!(
        "GET /checkpoint meanwhile: {} requests, p50 {:.1} ms, max {:.1} ms; idle connections held: {idle} (reopened after the server dropped them: {})",
        gets.len(),
        percentile(&gets, 0.5),
        gets.last().copied().unwrap_or(0.0),
        reopened.load(Ordering::Relaxed)
    );
}
