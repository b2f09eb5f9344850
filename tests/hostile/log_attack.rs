//! The log's monitor, tile reader and entry checks attacked by a hostile log operator, a
//! hostile mirror, a hostile submitter and a thief holding a publisher's key.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use weightseal::attest::PrivateKey;
use weightseal::log::monitor::{monitor, ProblemKind, Watch, DEFAULT_MAX_ENTRIES};
use weightseal::log::store::LogDir;
use weightseal::log::{LogEntry, LogPolicy};
use weightseal::Digest;

use crate::common;

fn entry(i: u64) -> LogEntry {
    LogEntry {
        model: format!("org/m{i}"),
        manifest: Digest([i as u8; 32]),
        version: None,
        attestations: vec![],
    }
}

/// A log at `root` (origin example.test/attack, key seed 7) holding `entries`.
fn log_at(root: &Path, entries: &[LogEntry]) -> LogPolicy {
    let dir = LogDir::new(root);
    let key = Arc::new(PrivateKey::from_seed(&[7; 32]));
    let vkey = dir.init("example.test/attack", key.clone()).unwrap();
    let es: Vec<Vec<u8>> = entries.iter().map(LogEntry::encode).collect();
    if !es.is_empty() {
        dir.add(key, &es, &[]).unwrap();
    }
    LogPolicy::new(vkey, vec![], 0).unwrap()
}

/// A hostile log shows the monitor another tree of the size it has read (entry 3 swapped for
/// another release): with nothing new to read, the monitor still checks the checkpoint's root
/// against the tree it read, reports a fork, and keeps its state.
#[test]
fn a_fork_of_the_size_already_read_is_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("log");
    let honest: Vec<LogEntry> = (0..5).map(entry).collect();
    let policy = log_at(&root, &honest);
    let served = common::server::Server::start(root.clone());
    let state = tmp.path().join("monitor.json");
    let watch = Watch {
        log: &policy,
        pattern: "org/*",
        publishers: None,
        max_entries: DEFAULT_MAX_ENTRIES,
    };
    let r = monitor(&served.base, &watch, &state).unwrap();
    assert!(r.ok() && r.size == 5, "{r:?}");
    let before = fs::read(&state).unwrap();
    let mut forked = honest.clone();
    forked[3] = entry(9);
    fs::remove_dir_all(&root).unwrap();
    assert_eq!(log_at(&root, &forked), policy);
    let r = monitor(&served.base, &watch, &state).unwrap();
    assert!(!r.ok(), "{r:?}");
    assert_eq!(r.problems[0].kind, ProblemKind::Fork, "{r:?}");
    assert_eq!(
        fs::read(&state).unwrap(),
        before,
        "the state was not advanced"
    );
    // The honest tree again: nothing to report.
    fs::remove_dir_all(&root).unwrap();
    log_at(&root, &honest);
    let r = monitor(&served.base, &watch, &state).unwrap();
    assert!(r.ok() && r.size == 5, "{r:?}");
}

/// A log signs a checkpoint of 2^64 - 1 entries: asking its tiles for an inclusion proof is an
/// error, not a panic of `tlog_tiles`' index arithmetic.
#[test]
fn an_inclusion_proof_in_a_huge_tree_does_not_panic() {
    let key = Arc::new(PrivateKey::from_seed(&[7; 32]));
    let signer = weightseal::log::LogSigner::log("example.test/attack", key).unwrap();
    for size in [u64::MAX, 1 << 63, (1 << 63) + 1] {
        let note =
            weightseal::log::store::sign_checkpoint(&signer, size, tlog_tiles::Hash([9; 32]))
                .unwrap()
                .to_bytes();
        let (_, cp) = weightseal::log::store::open_checkpoint(&note, signer.verifier()).unwrap();
        let remote = weightseal::log::client::RemoteLog::new("http://127.0.0.1:9").unwrap();
        for index in [0, size / 2, size - 1] {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                remote.inclusion_proof(&cp, index)
            }));
            match r {
                // No tile can be read (nothing listens there), or tlog_tiles' arithmetic
                // gives up first: either way, a named error.
                Ok(r) => assert!(
                    matches!(
                        r,
                        Err(weightseal::log::LogError::Http(_) | weightseal::log::LogError::Tree(_))
                    ),
                    "{size} {index}: {r:?}"
                ),
                Err(_) => panic!("inclusion_proof panicked at size {size}, index {index}"),
            }
        }
    }
}

/// An attestation line of `key` about `(model, digest)`, of `role`, stating `version`.
fn attestation(
    key: &PrivateKey,
    model: &str,
    digest: Digest,
    role: &str,
    version: Option<u64>,
) -> String {
    use weightseal::attest::statement::{Predicate, Statement};
    let issued =
        weightseal::attest::time::Timestamp(weightseal::attest::time::Timestamp::now().0 - 60);
    let st = Statement::new(
        model,
        digest,
        Predicate {
            role: role.into(),
            signer: "acme".into(),
            issued_at: issued.to_string(),
            expires_at: None,
            version,
            derived_from: vec![],
            annotations: Default::default(),
            derivation: None,
        },
    );
    weightseal::attest::dsse::Envelope::sign(&st.to_bytes(), key).to_line()
}

/// What `log monitor` reports of a log at `root` that a hostile operator filled with `entries`
/// (its own checks bypassed), watched with `policy`.
fn monitored(
    root: &Path,
    entries: &[LogEntry],
    policy: &weightseal::attest::Policy,
) -> weightseal::log::monitor::MonitorReport {
    let log = log_at(root, entries);
    let served = common::server::Server::start(root.to_path_buf());
    let watch = Watch {
        log: &log,
        pattern: "org/*",
        publishers: Some(policy),
        max_entries: DEFAULT_MAX_ENTRIES,
    };
    monitor(&served.base, &watch, &root.with_file_name("monitor.json")).unwrap()
}

/// A thief holding a key of the policy's version role (`version_roles = ["release"]`, so
/// verifiers read a release's version from its `release` attestations) logs another manifest
/// as version 3 in a `release` attestation. The monitor, given that policy, recomputes the
/// versions verifiers read and reports the repeated version.
#[test]
fn a_version_stated_by_the_policys_version_role_is_watched() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = PrivateKey::from_seed(&[1; 32]);
    let mut policy =
        weightseal::attest::Policy::publisher_keys(vec![("acme".into(), acme.public())]);
    policy.keys[0].roles.insert("release".into());
    policy.version_roles = ["release".to_string()].into();
    let release = |d: u8| {
        let digest = Digest([d; 32]);
        LogEntry {
            model: "org/m".into(),
            manifest: digest,
            version: None,
            attestations: vec![
                attestation(&acme, "org/m", digest, "publisher", None),
                attestation(&acme, "org/m", digest, "release", Some(3)),
            ],
        }
    };
    let (a, b) = (release(1), release(2));
    for e in [&a, &b] {
        // What the log admits, and the version a verifier reads: 3.
        e.check_consistent().unwrap();
        let r = weightseal::attest::policy::evaluate(
            &policy,
            &e.model,
            e.manifest,
            &e.bundle(),
            weightseal::attest::time::Timestamp::now(),
            None,
        );
        assert!(r.ok && r.version == Some(3), "{r:?}");
    }
    let r = monitored(&tmp.path().join("log"), &[a, b], &policy);
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == ProblemKind::RepeatedVersion && p.index == Some(1)),
        "{r:?}"
    );
    assert_eq!(r.entries[1].versions, vec![3], "{r:?}");
}

/// A hostile log appends a thief's entry whose publisher attestation (by the stolen key)
/// states version 3, beside an attestation that is not an envelope: the monitor reports it
/// malformed, and still records version 3 from the attestation that is one, so the
/// publisher's own version 3 logged later is reported as a repeat.
#[test]
fn a_malformed_attestation_does_not_hide_the_versions_of_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let acme = PrivateKey::from_seed(&[1; 32]);
    let policy = weightseal::attest::Policy::publisher_keys(vec![("acme".into(), acme.public())]);
    let (evil, good) = (Digest([1; 32]), Digest([2; 32]));
    let thief = LogEntry {
        model: "org/m".into(),
        manifest: evil,
        version: None,
        attestations: vec![
            "{\"not\":\"an envelope\"}".into(),
            attestation(&acme, "org/m", evil, "publisher", Some(3)),
        ],
    };
    let publisher = LogEntry {
        model: "org/m".into(),
        manifest: good,
        version: Some(3),
        attestations: vec![attestation(&acme, "org/m", good, "publisher", Some(3))],
    };
    let r = monitored(&tmp.path().join("log"), &[thief, publisher], &policy);
    assert!(!r.ok(), "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == ProblemKind::Malformed && p.index == Some(0)),
        "{r:?}"
    );
    assert_eq!(r.entries[0].versions, vec![3], "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.kind == ProblemKind::RepeatedVersion && p.index == Some(1)),
        "{r:?}"
    );
}

/// Serves `body(path)` over HTTP/1.1 on 127.0.0.1 (one thread per connection); returns its URL.
fn serve(body: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let body = body.clone();
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let b = body(line.split_whitespace().nth(1).unwrap_or("/"));
                let _ = conn.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    )
                    .as_bytes(),
                );
                let _ = conn.write_all(&b);
            });
        }
    });
    url
}

/// The entry of a release of `name` (manifest `i`), with `n` publisher attestations by a key
/// nobody trusts, stating versions 1 to `n`.
fn entry_of_name(name: &str, i: u32, n: u64) -> Vec<u8> {
    let evil = PrivateKey::from_seed(&[66; 32]);
    let digest = Digest(*blake3::hash(&i.to_le_bytes()).as_bytes());
    LogEntry {
        model: name.into(),
        manifest: digest,
        version: if n > 0 { Some(1) } else { None },
        attestations: (1..=n)
            .map(|v| attestation(&evil, name, digest, "publisher", Some(v)))
            .collect(),
    }
    .encode()
}

/// A hostile submitter fills the log with entries under the watched pattern whose model names
/// are 8 KiB long (`POST /add` takes them: no manifest can have such a name, so no release can
/// be proved by them). The monitor keeps no such entry while it reads a chunk: they are
/// counted as entries that prove nothing, and its peak memory stays small. (A hostile log
/// serves the same 2 MiB bundle for a tree of 2^32 entries, so the chunk's proof fails.)
#[test]
fn entries_with_names_no_manifest_can_have_do_not_fill_the_monitors_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Arc::new(PrivateKey::from_seed(&[5; 32]));
    let signer = weightseal::log::LogSigner::log("example.test/huge", key).unwrap();
    let vkey = signer.verifier().to_string();
    let note = weightseal::log::store::sign_checkpoint(&signer, 1 << 32, tlog_tiles::Hash([9; 32]))
        .unwrap()
        .to_bytes();
    let mut bundle = Vec::new();
    for i in 0..256u32 {
        let e = entry_of_name(&format!("org/{}", "x".repeat(8000)), i, 0);
        bundle.extend_from_slice(&(e.len() as u16).to_be_bytes());
        bundle.extend_from_slice(&e);
    }
    let url = serve(move |path| {
        if path == "/checkpoint" {
            note.clone()
        } else if path.starts_with("/tile/entries/") {
            bundle.clone()
        } else {
            vec![7u8; 256 * 32]
        }
    });
    let pem = tmp.path().join("acme.pub");
    fs::write(&pem, PrivateKey::from_seed(&[1; 32]).public().to_pem()).unwrap();
    let state = tmp.path().join("monitor.json");
    let (code, out, peak_mib) = common::run_measured(&[
        "log",
        "monitor",
        &url,
        "--log-key",
        &vkey,
        "--model",
        "org/*",
        "--key",
        common::fixture::s(&pem),
        "--state",
        common::fixture::s(&state),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["problems"][0]["kind"], "fork", "{j}");
    eprintln!("the monitor's peak RSS against 8 KiB names: {peak_mib:.1} MiB");
    assert!(peak_mib < 64.0, "peak RSS {peak_mib:.1} MiB");
    assert!(!state.exists());
}

/// A hostile submitter logs, under the watched pattern, releases of 1000-byte names (valid
/// ones), each stating versions 1 and 2 with another manifest, signed by no watched key: every
/// entry is a watched entry with three problems. The monitor lists what its report can list
/// and counts the rest while it reads a chunk, so its peak memory stays small.
#[test]
fn a_chunk_of_watched_entries_with_many_problems_stays_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let key = Arc::new(PrivateKey::from_seed(&[5; 32]));
    let signer = weightseal::log::LogSigner::log("example.test/huge", key).unwrap();
    let vkey = signer.verifier().to_string();
    let note = weightseal::log::store::sign_checkpoint(&signer, 1 << 32, tlog_tiles::Hash([9; 32]))
        .unwrap()
        .to_bytes();
    let name = format!("org/{}", "y".repeat(996));
    let mut bundle = Vec::new();
    for i in 0..256u32 {
        let e = entry_of_name(&name, i, 2);
        assert!(e.len() < 8192);
        bundle.extend_from_slice(&(e.len() as u16).to_be_bytes());
        bundle.extend_from_slice(&e);
    }
    let url = serve(move |path| {
        if path == "/checkpoint" {
            note.clone()
        } else if path.starts_with("/tile/entries/") {
            bundle.clone()
        } else {
            vec![7u8; 256 * 32]
        }
    });
    let pem = tmp.path().join("acme.pub");
    fs::write(&pem, PrivateKey::from_seed(&[1; 32]).public().to_pem()).unwrap();
    let state = tmp.path().join("monitor.json");
    let (code, out, peak_mib) = common::run_measured(&[
        "log",
        "monitor",
        &url,
        "--log-key",
        &vkey,
        "--model",
        "org/*",
        "--key",
        common::fixture::s(&pem),
        "--state",
        common::fixture::s(&state),
        "--json",
    ]);
    assert_eq!(code, 1, "{out}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["problems"][0]["kind"], "fork", "{j}");
    eprintln!("the monitor's peak RSS against a chunk of watched entries: {peak_mib:.1} MiB");
    // Most of it is the report's 10,000 listed entries and problems and their JSON (about 60
    // MiB; without the bound, 150 MiB here, and 16 MiB bundles multiply it by 8).
    assert!(peak_mib < 100.0, "peak RSS {peak_mib:.1} MiB");
    assert!(!state.exists());
}
