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
                Ok(r) => assert!(r.is_err(), "{size} {index}"),
                Err(_) => panic!("inclusion_proof panicked at size {size}, index {index}"),
            }
        }
    }
}
