//! The transparency log under attack: mutated proofs and checkpoints, oversized inputs, a
//! server whose tiles lie, and a witness fed malformed, foreign, forged and inconsistent
//! checkpoints.

use std::fs;
use std::sync::Arc;

use weightseal::attest::PrivateKey;
use weightseal::log::store::LogDir;
use weightseal::log::witness::Witness;
use weightseal::log::{LogEntry, LogPolicy, TlogProof};
use weightseal::Digest;

fn entry(i: u64) -> LogEntry {
    LogEntry {
        model: format!("org/m{i}"),
        manifest: Digest([i as u8; 32]),
        version: None,
        attestations: vec![],
    }
}

struct Log {
    _tmp: tempfile::TempDir,
    dir: LogDir,
    key: Arc<PrivateKey>,
    policy: LogPolicy,
}

fn log_with(n: u64) -> Log {
    let tmp = tempfile::tempdir().unwrap();
    let dir = LogDir::new(&tmp.path().join("log"));
    let key = Arc::new(PrivateKey::from_seed(&[7; 32]));
    let vkey = dir.init("example.test/hostile", key.clone()).unwrap();
    let es: Vec<Vec<u8>> = (0..n).map(|i| entry(i).encode()).collect();
    dir.add(key.clone(), &es, &[]).unwrap();
    Log {
        _tmp: tmp,
        dir,
        key,
        policy: LogPolicy::new(vkey, vec![], 0).unwrap(),
    }
}

/// Every single-byte change of a valid proof (at 4000 positions and values from a fixed
/// sequence) is refused, and nothing panics.
#[test]
fn mutated_proofs_never_verify_and_never_panic() {
    let l = log_with(300);
    let good = l.dir.proof(137, &entry(137).encode()).unwrap().encode();
    let e = entry(137);
    TlogProof::parse(&good)
        .unwrap()
        .verify(&l.policy, &e.model, e.manifest)
        .unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut m = good.clone();
        let at = (x as usize) % m.len();
        let v = (x >> 32) as u8;
        if m[at] == v {
            continue;
        }
        m[at] = v;
        let r = std::panic::catch_unwind(|| {
            TlogProof::parse(&m).and_then(|p| p.verify(&l.policy, &e.model, e.manifest))
        });
        match r {
            Ok(Ok(_)) => panic!("a proof changed at byte {at} to {v:#04x} verified"),
            Ok(Err(_)) => {}
            Err(_) => panic!("a proof changed at byte {at} panicked"),
        }
    }
    // Truncated anywhere: refused.
    for cut in (0..good.len()).step_by(37) {
        assert!(TlogProof::parse(&good[..cut])
            .and_then(|p| p.verify(&l.policy, &e.model, e.manifest))
            .is_err());
    }
}

#[test]
fn oversized_proofs_checkpoints_and_entries_are_refused_before_parsing() {
    let big = vec![b'A'; 3 << 20];
    let err = TlogProof::parse(&big).unwrap_err().to_string();
    assert!(err.contains("longer than"), "{err}");
    let l = log_with(1);
    let err = weightseal::log::store::open_checkpoint(&big, l.policy.log())
        .unwrap_err()
        .to_string();
    assert!(err.contains("longer than 1 MiB"), "{err}");
    let err = LogEntry::decode(&big).unwrap_err().to_string();
    assert!(err.contains("longer than 65535"), "{err}");
    // An entry too long for an entry bundle is not appended (and nothing else is).
    let huge = LogEntry {
        attestations: vec!["x".repeat(70_000)],
        ..entry(1)
    };
    assert!(l.dir.add(l.key.clone(), &[huge.encode()], &[]).is_err());
    let (_, cp) = l.dir.checkpoint(l.policy.log()).unwrap();
    assert_eq!(cp.size(), 1);
}

/// A log server whose entry bundle does not hold the entries its tree commits to: the
/// monitor reports a fork and keeps its state.
#[test]
fn a_server_that_lies_about_tile_contents_is_caught_by_the_monitor() {
    let l = log_with(3);
    let root = l.dir.root().to_path_buf();
    let server = weightseal::log::serve::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr());
    let (k, r) = (l.key.clone(), root.clone());
    std::thread::spawn(move || {
        let _ = weightseal::log::serve::serve_log(
            server,
            &r,
            k,
            vec![],
            weightseal::log::serve::LogOptions {
                batching: weightseal::log::serve::Batching {
                    every: std::time::Duration::from_millis(10),
                    max: 8,
                },
                ..Default::default()
            },
        );
    });
    let state = root.with_file_name("monitor.json");
    let watch = weightseal::log::monitor::Watch {
        log: &l.policy,
        pattern: "org/*",
        publishers: None,
        max_entries: weightseal::log::monitor::DEFAULT_MAX_ENTRIES,
    };
    let r = weightseal::log::monitor::monitor(&url, &watch, &state).unwrap();
    assert!(r.ok() && r.entries.len() == 3, "{r:?}");
    // Two more entries; then the server's bundle has entry 4 swapped for another release.
    l.dir
        .add(l.key.clone(), &[entry(3).encode(), entry(4).encode()], &[])
        .unwrap();
    let bundle = root.join("tile/entries/000.p/5");
    let b = fs::read(&bundle).unwrap();
    let (good, evil) = (entry(4).encode(), entry(7).encode());
    assert_eq!(good.len(), evil.len());
    let at = b.windows(good.len()).position(|w| w == good).unwrap();
    let mut lied = b.clone();
    lied[at..at + good.len()].copy_from_slice(&evil);
    fs::write(&bundle, &lied).unwrap();
    let before = fs::read(&state).unwrap();
    let r = weightseal::log::monitor::monitor(&url, &watch, &state).unwrap();
    assert!(!r.ok(), "{r:?}");
    assert_eq!(
        r.problems[0].kind,
        weightseal::log::monitor::ProblemKind::Fork
    );
    assert!(r.problems[0].message.contains("a fork"), "{r:?}");
    assert_eq!(
        fs::read(&state).unwrap(),
        before,
        "the state was not advanced"
    );
    // The honest bundle again: the monitor goes on.
    fs::write(&bundle, &b).unwrap();
    let r = weightseal::log::monitor::monitor(&url, &watch, &state).unwrap();
    assert!(r.ok() && r.size == 5, "{r:?}");
}

/// The witness's add-checkpoint decision on hostile requests, one status each.
#[test]
fn a_witness_refuses_what_tlog_witness_says_to_refuse() {
    let l = log_with(5);
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("w.json");
    let w = Witness::open(
        "w.test",
        Arc::new(PrivateKey::from_seed(&[9; 32])),
        vec![l.policy.log().clone()],
        &state,
    )
    .unwrap();
    let cp = l.dir.checkpoint_bytes().unwrap();
    let body = |old: u64, proof: &[&str], cp: &[u8]| {
        let mut b = format!("old {old}\n");
        for p in proof {
            b.push_str(p);
            b.push('\n');
        }
        b.push('\n');
        let mut b = b.into_bytes();
        b.extend_from_slice(cp);
        b
    };
    let now = 1_800_000_000;
    for (what, req, status) in [
        ("no blank line", b"old 0\n".to_vec(), 400),
        (
            "not a size",
            body(0, &[], &cp)
                .iter()
                .map(|&c| if c == b'0' { b'x' } else { c })
                .collect::<Vec<u8>>(),
            400,
        ),
        (
            "leading zero",
            [b"old 00\n\n".to_vec(), cp.clone()].concat(),
            400,
        ),
        (
            "proof from 0",
            body(0, &["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="], &cp),
            400,
        ),
        ("old past the checkpoint", body(6, &[], &cp), 400),
        ("garbage note", body(0, &[], b"not a note"), 400),
        (
            "64 proof lines",
            body(
                1,
                &["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; 64],
                &cp,
            ),
            400,
        ),
    ] {
        let a = w.add_checkpoint(&req, now);
        assert_eq!(
            a.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    // Another log's checkpoint: 404. The right origin signed by another key: 403.
    for (origin, seed, status) in [
        ("example.test/other", 7u8, 404),
        ("example.test/hostile", 8, 403),
    ] {
        let t = tempfile::tempdir().unwrap();
        let d = LogDir::new(t.path());
        d.init(origin, Arc::new(PrivateKey::from_seed(&[seed; 32])))
            .unwrap();
        let a = w.add_checkpoint(&body(0, &[], &d.checkpoint_bytes().unwrap()), now);
        assert_eq!(
            a.status,
            status,
            "{origin}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    // Accepted once; then an old size that is not its own: 409 with its size.
    let a = w.add_checkpoint(&body(0, &[], &cp), now);
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(String::from_utf8_lossy(&a.body).starts_with("\u{2014} w.test "));
    let a = w.add_checkpoint(&body(0, &[], &cp), now);
    assert_eq!(
        (a.status, a.content_type, a.body.as_slice()),
        (409, "text/x.tlog.size", &b"5\n"[..])
    );
    // A fork: the same origin and key, another tree of the same size.
    let tmp2 = tempfile::tempdir().unwrap();
    let fork = LogDir::new(tmp2.path());
    fork.init("example.test/hostile", l.key.clone()).unwrap();
    let es: Vec<Vec<u8>> = (10..15).map(|i| entry(i).encode()).collect();
    fork.add(l.key.clone(), &es, &[]).unwrap();
    let a = w.add_checkpoint(&body(5, &[], &fork.checkpoint_bytes().unwrap()), now);
    assert_eq!(a.status, 409, "{}", String::from_utf8_lossy(&a.body));
    // A larger forked tree with a made-up consistency proof: 422, and the state is unchanged.
    fork.add(l.key.clone(), &[entry(20).encode()], &[]).unwrap();
    let a = w.add_checkpoint(
        &body(
            5,
            &["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="],
            &fork.checkpoint_bytes().unwrap(),
        ),
        now,
    );
    assert_eq!(a.status, 422, "{}", String::from_utf8_lossy(&a.body));
    let st: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    assert_eq!(st["example.test/hostile"]["size"], 5);
}
