//! Following a log (spec/log.md, "Monitoring"): a publisher watches for releases under their
//! name that they did not make, or two manifests given one name and version (a split view or a
//! stolen key).
//!
//! The monitor keeps, per log, the size it has read and the Merkle *frontier* of that tree (the
//! roots of its perfect subtrees, at most 64 hashes). Each run reads the new entries from the
//! entry bundles, extends the frontier with their leaf hashes and requires the resulting root
//! to be the signed checkpoint's: the new tree extends the old one (append-only), and the
//! entries read are the ones the log committed to. State is written only after that check.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tlog_tiles::Hash;

use super::client::RemoteLog;
use super::entry::LogEntry;
use super::keys::VerifierKey;
use super::store::open_checkpoint;
use super::{io, LogError};
use crate::attest::time::Timestamp;
use crate::attest::{Policy, PublicKey};

/// The roots of the perfect subtrees of a tree, left to right, by height.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontier(Vec<(u8, String)>);

impl Frontier {
    fn hashes(&self) -> Result<Vec<(u8, Hash)>, LogError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.0
            .iter()
            .map(|(h, s)| {
                let raw = b64
                    .decode(s)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| LogError::Tree("the monitor's state is damaged".into()))?;
                Ok((*h, Hash(raw)))
            })
            .collect()
    }

    fn from_hashes(v: &[(u8, Hash)]) -> Frontier {
        let b64 = base64::engine::general_purpose::STANDARD;
        Frontier(v.iter().map(|(h, x)| (*h, b64.encode(x.0))).collect())
    }
}

/// Appends leaf hash `leaf` to the frontier `f`.
pub fn push(f: &mut Vec<(u8, Hash)>, leaf: Hash) {
    f.push((0, leaf));
    while f.len() >= 2 && f[f.len() - 1].0 == f[f.len() - 2].0 {
        let (h, right) = f.pop().expect("two");
        let (_, left) = f.pop().expect("two");
        f.push((h + 1, tlog_tiles::node_hash(left, right)));
    }
}

/// The RFC 6962 root of the tree whose frontier is `f`.
pub fn root(f: &[(u8, Hash)]) -> Hash {
    let mut it = f.iter().rev();
    let Some((_, mut r)) = it.next().copied() else {
        return tlog_tiles::EMPTY_HASH;
    };
    for (_, left) in it {
        r = tlog_tiles::node_hash(*left, r);
    }
    r
}

/// What a monitor remembers of one log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    pub origin: String,
    pub size: u64,
    pub frontier: Frontier,
    /// Per watched model (its folded name), per version: the manifest digest logged first.
    pub seen: BTreeMap<String, BTreeMap<String, String>>,
}

/// One watched entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Watched {
    pub index: u64,
    pub model: String,
    pub manifest: String,
    pub version: Option<u64>,
    /// Whether one of the given keys signed it as its publisher (`None`: no key given).
    pub signed_by_given_key: Option<bool>,
}

/// A monitoring run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonitorReport {
    pub ok: bool,
    pub origin: String,
    pub old_size: u64,
    pub size: u64,
    pub entries: Vec<Watched>,
    pub problems: Vec<String>,
}

/// Reads the log at `url` (checkpoint signed by `log`) from where `state_path` left off, and
/// reports the entries whose model name matches `pattern` (folded as the trust store folds
/// names); a problem when one is not signed as publisher by one of `keys` (when given), when
/// two entries give one model and version different manifests, or when the log's new tree
/// does not extend the one read before.
pub fn monitor(
    url: &str,
    log: &VerifierKey,
    pattern: &str,
    keys: &[PublicKey],
    state_path: &Path,
) -> Result<MonitorReport, LogError> {
    let remote = RemoteLog::new(url)?;
    let (_, cp) = open_checkpoint(&remote.checkpoint()?, log)?;
    let mut state: MonitorState = match std::fs::read(state_path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| LogError::Usage(format!("state {}: {e}", state_path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => MonitorState {
            origin: cp.origin().to_string(),
            ..Default::default()
        },
        Err(e) => return Err(io(state_path)(e)),
    };
    let mut report = MonitorReport {
        ok: true,
        origin: cp.origin().to_string(),
        old_size: state.size,
        size: cp.size(),
        entries: Vec::new(),
        problems: Vec::new(),
    };
    if state.origin != cp.origin() {
        return Err(LogError::Usage(format!(
            "the state {} follows {:?}, not {:?}",
            state_path.display(),
            state.origin,
            cp.origin()
        )));
    }
    if cp.size() < state.size {
        report.problems.push(format!(
            "the log shrank: its checkpoint says {} entries, {} were read before",
            cp.size(),
            state.size
        ));
        report.ok = false;
        return Ok(report);
    }
    let entries = remote.entries(state.size, cp.size())?;
    let mut frontier = state.frontier.hashes()?;
    let mut decoded = Vec::with_capacity(entries.len());
    for e in &entries {
        push(&mut frontier, tlog_tiles::record_hash(e));
        decoded.push(LogEntry::decode(e));
    }
    if root(&frontier) != *cp.hash() {
        report.problems.push(format!(
            "the log's tree of {} entries does not extend the {} read before (or its tiles are not the entries it committed to): a fork",
            cp.size(),
            state.size
        ));
        report.ok = false;
        return Ok(report);
    }
    let policy = (!keys.is_empty()).then(|| {
        Policy::publisher_keys(
            keys.iter()
                .map(|k| (k.id().to_string(), k.clone()))
                .collect(),
        )
    });
    let now = Timestamp::now();
    let folded = crate::path::fold(pattern);
    for (i, d) in decoded.into_iter().enumerate() {
        let index = state.size + i as u64;
        let e = match d {
            Ok(e) => e,
            Err(err) => {
                report.problems.push(format!("entry {index}: {err}"));
                continue;
            }
        };
        if !crate::attest::trust::pattern_matches(&folded, &crate::path::fold(&e.model)) {
            continue;
        }
        let signed = policy.as_ref().map(|p| {
            crate::attest::policy::evaluate(p, &e.model, e.manifest, &e.bundle(), now, None).ok
        });
        if signed == Some(false) {
            report.problems.push(format!(
                "entry {index}: {:?} (manifest {}) is not signed as publisher by any key given",
                e.model, e.manifest
            ));
        }
        let version = e
            .version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none".into());
        // One name to a reader is one name here: folded, as the trust store folds names.
        let seen = state.seen.entry(crate::path::fold(&e.model)).or_default();
        match seen.get(&version) {
            Some(d) if *d != e.manifest.to_hex() => report.problems.push(format!(
                "entry {index}: {:?} version {version} is logged with manifest {}, and before with manifest {d}",
                e.model, e.manifest
            )),
            Some(_) => {}
            None => {
                seen.insert(version, e.manifest.to_hex());
            }
        }
        report.entries.push(Watched {
            index,
            model: e.model,
            manifest: e.manifest.to_hex(),
            version: e.version,
            signed_by_given_key: signed,
        });
    }
    state.size = cp.size();
    state.frontier = Frontier::from_hashes(&frontier);
    crate::fsutil::write_atomic(
        state_path,
        &serde_json::to_vec_pretty(&state).expect("state serializes"),
        0o600,
    )
    .map_err(io(state_path))?;
    report.ok = report.problems.is_empty();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontier_gives_the_rfc6962_root() {
        struct Mem(Vec<Hash>);
        impl tlog_tiles::HashReader for Mem {
            fn read_hashes(&self, idx: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
                Ok(idx.iter().map(|&i| self.0[i as usize]).collect())
            }
        }
        let mut stored = Mem(Vec::new());
        let mut f = Vec::new();
        for n in 0..300u64 {
            let data = n.to_be_bytes();
            let new = tlog_tiles::stored_hashes(n, &data, &stored).unwrap();
            stored.0.extend(new);
            push(&mut f, tlog_tiles::record_hash(&data));
            assert_eq!(
                root(&f),
                tlog_tiles::tree_hash(n + 1, &stored).unwrap(),
                "{n}"
            );
        }
    }
}
