//! Following a log (spec/log.md, "Monitoring"): a publisher watches for releases under their
//! name that they did not make, or two manifests given one name and version (a split view or a
//! stolen key).
//!
//! The monitor keeps, per log, the size it has read and the Merkle *frontier* of that tree (the
//! roots of its perfect subtrees, at most 64 hashes). Each run opens the log's checkpoint as a
//! verifier would (the log's signature and the witness quorum: a monitor is shown no tree that
//! verifiers would refuse, and sees the tree they accept), then reads the new entries one entry
//! bundle at a time, extends the frontier with their leaf hashes and checks each watched entry
//! as it comes. Every [`CHUNK_TILES`] bundles, and where the run stops, it proves that the
//! tree read so far is a prefix of the checkpoint's (a consistency proof from the hash tiles,
//! or the root itself at the checkpoint's size) and only then takes what it read as read:
//! memory is one bundle and the watched entries, whatever size the log claims. The state is
//! written at a proved boundary every [`SAVE_EVERY`] entries while the run has found nothing,
//! and at the end of the run: a crash loses little reading, and never a finding (the state is
//! not written past one until the run returns its report).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tlog_tiles::Hash;

use rayon::prelude::*;

use super::client::RemoteLog;
use super::entry::LogEntry;
use super::{io, LogError, LogPolicy, TILE_WIDTH};
use crate::attest::time::Timestamp;
use crate::attest::Policy;

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

/// Entry bundles read between two proofs that the tree read is a prefix of the checkpoint's.
pub const CHUNK_TILES: u64 = 64;
/// Entries read between two writes of the state while a run has found nothing (a proved
/// chunk boundary; the state is written at the end of every run).
pub const SAVE_EVERY: u64 = 1 << 18;
/// Entries a run reads by default before it stops at a proved tile boundary.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
/// Watched entries and problems a report lists (the rest are counted).
pub const MAX_LISTED: usize = 10_000;

/// What a monitor remembers of one log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorState {
    pub origin: String,
    pub size: u64,
    pub frontier: Frontier,
    /// Per watched model (its folded name), per version stated: the manifest digest logged
    /// first.
    pub seen: BTreeMap<String, BTreeMap<String, String>>,
}

/// One watched entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Watched {
    pub index: u64,
    pub model: String,
    pub manifest: String,
    /// The versions its attestations of role `publisher`, or of a version role of the watched
    /// policy (the versions verifiers read), state: recomputed, not the entry's line.
    pub versions: Vec<u64>,
    /// Whether the watched publisher keys sign it (`None`: none given).
    pub signed_by_given_key: Option<bool>,
}

/// What a problem is about, for alerting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The checkpoint does not open as a verifier requires (log signature, witness quorum).
    Checkpoint,
    /// The log's tree does not extend the one read before, or its tiles are not what it
    /// committed to.
    Fork,
    /// A watched entry not signed as publisher by the watched keys.
    NotSigned,
    /// A watched entry gives a model and version another manifest than an earlier entry.
    RepeatedVersion,
    /// A watched entry's version line is not what its publisher attestations state, or one of
    /// its attestations is not an envelope about it.
    Malformed,
}

/// A problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The entry's index, for a problem about one entry.
    pub index: Option<u64>,
    pub message: String,
}

/// A monitoring run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MonitorReport {
    ok: bool,
    pub origin: String,
    /// The size read before this run.
    pub old_size: u64,
    /// The size read (and proved) after this run.
    pub size: u64,
    /// The size of the log's checkpoint; above `size` when the run stopped at its bound.
    pub checkpoint_size: u64,
    /// The witnesses whose cosignatures of the checkpoint count.
    pub witnesses: Vec<String>,
    /// Entries read that are not weightseal entries, or whose model name no manifest can have
    /// (no release can be proved by them).
    pub foreign: u64,
    /// Watched entries, the first [`MAX_LISTED`].
    pub entries: Vec<Watched>,
    pub entries_not_listed: u64,
    /// Problems, the first [`MAX_LISTED`].
    pub problems: Vec<Problem>,
    pub problems_not_listed: u64,
}

impl MonitorReport {
    /// Whether the run found nothing to look at: the checkpoint opened, the tree read extends
    /// the one read before, and every watched entry is signed and repeats no version.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// Whether the run read up to the checkpoint's size.
    pub fn complete(&self) -> bool {
        self.size == self.checkpoint_size
    }

    fn problem(&mut self, kind: ProblemKind, index: Option<u64>, message: String) {
        self.ok = false;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(Problem {
                kind,
                index,
                message,
            });
        } else {
            self.problems_not_listed += 1;
        }
    }

    /// Records a proved chunk.
    fn add(&mut self, c: Chunk) {
        self.foreign += c.foreign;
        if !c.problems.is_empty() || c.problems_not_listed > 0 {
            self.ok = false;
        }
        self.problems.extend(c.problems);
        self.problems_not_listed += c.problems_not_listed;
        self.entries.extend(c.entries);
        self.entries_not_listed += c.entries_not_listed;
    }
}

/// What the chunk being read adds to the report, kept apart until the chunk is proved. It
/// lists only what the report can still list and counts the rest, so that a chunk of watched
/// entries costs bounded memory whatever they hold.
#[derive(Default)]
struct Chunk {
    foreign: u64,
    entries: Vec<Watched>,
    entries_not_listed: u64,
    problems: Vec<Problem>,
    problems_not_listed: u64,
}

impl Chunk {
    fn problem(&mut self, report: &MonitorReport, p: Problem) {
        if report.problems.len() + self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        } else {
            self.problems_not_listed += 1;
        }
    }

    fn watched(&mut self, report: &MonitorReport, w: Watched) {
        if report.entries.len() + self.entries.len() < MAX_LISTED {
            self.entries.push(w);
        } else {
            self.entries_not_listed += 1;
        }
    }
}

/// What to watch in a log.
pub struct Watch<'a> {
    /// The log's key, witnesses and quorum: what verifiers require of its checkpoints.
    pub log: &'a LogPolicy,
    /// The model names to watch (`org/*`), folded as the trust store folds names.
    pub pattern: &'a str,
    /// The policy every watched entry must meet as publisher (`None`: report entries only).
    pub publishers: Option<&'a Policy>,
    /// Entries read in one run at most (rounded to whole bundles; at least one bundle).
    pub max_entries: u64,
}

/// One entry of a bundle, as read in parallel: its leaf hash and, for a watched weightseal
/// entry, what the run reports about it.
enum Read {
    Foreign,
    Other,
    Watched {
        entry: LogEntry,
        /// The versions stated by its attestations of the version roles.
        versions: Vec<u64>,
        /// The versions stated by its publisher attestations (what its version line says).
        publisher: Vec<u64>,
        /// The first attestation that is not an envelope about it.
        malformed: Option<LogError>,
        signed: Option<bool>,
    },
}

/// Reads the log at `url` from where `state_path` left off, at most `watch.max_entries`
/// entries, and reports the watched entries and every problem (see [`ProblemKind`]). The state
/// is written after each proved chunk; a run that finds the tree does not extend the one read
/// before keeps the state as it was proved last.
pub fn monitor(url: &str, watch: &Watch<'_>, state_path: &Path) -> Result<MonitorReport, LogError> {
    let remote = RemoteLog::new(url)?;
    let cp_bytes = remote.checkpoint()?;
    let mut state: MonitorState = match crate::fsutil::read_regular(state_path, 1 << 30) {
        Ok(Some(b)) => serde_json::from_slice(&b)
            .map_err(|e| LogError::Usage(format!("state {}: {e}", state_path.display())))?,
        Ok(None) => MonitorState {
            origin: watch.log.log().name.clone(),
            ..Default::default()
        },
        Err(e) => return Err(io(state_path)(e)),
    };
    let mut report = MonitorReport {
        ok: true,
        origin: watch.log.log().name.clone(),
        old_size: state.size,
        size: state.size,
        checkpoint_size: state.size,
        witnesses: Vec::new(),
        foreign: 0,
        entries: Vec::new(),
        entries_not_listed: 0,
        problems: Vec::new(),
        problems_not_listed: 0,
    };
    if state.origin != watch.log.log().name {
        return Err(LogError::Usage(format!(
            "the state {} follows {:?}, not {:?}",
            state_path.display(),
            state.origin,
            watch.log.log().name
        )));
    }
    let (cp, witnesses) = match watch.log.open(&cp_bytes) {
        Ok(x) => x,
        Err(e) => {
            report.problem(
                ProblemKind::Checkpoint,
                None,
                format!("the log's checkpoint is not one a verifier accepts: {e}"),
            );
            return Ok(report);
        }
    };
    report.witnesses = witnesses;
    report.checkpoint_size = cp.size();
    if cp.size() < state.size {
        report.problem(
            ProblemKind::Fork,
            None,
            format!(
                "the log shrank: its checkpoint says {} entries, {} were read before",
                cp.size(),
                state.size
            ),
        );
        return Ok(report);
    }
    // Stop at a whole bundle: the run's bound rounded down, at least one bundle further.
    let bound = state.size.saturating_add(watch.max_entries.max(TILE_WIDTH));
    let target = if bound >= cp.size() {
        cp.size()
    } else {
        (bound / TILE_WIDTH * TILE_WIDTH).max(state.size)
    };
    let folded = crate::path::fold(watch.pattern);
    // The roles whose versions a verifier reads: the publisher's, and the policy's version roles.
    let mut roles = vec!["publisher"];
    if let Some(p) = watch.publishers {
        roles.extend(p.version_roles.iter().map(String::as_str));
    }
    let now = Timestamp::now();
    let mut frontier = state.frontier.hashes()?;
    // Nothing new to read: the checkpoint must still commit to the tree read (a log can show
    // another tree of the same size, one with an entry swapped).
    if cp.size() == state.size && !remote.proves_prefix(&cp, state.size, root(&frontier)) {
        report.problem(
            ProblemKind::Fork,
            None,
            format!(
                "the log's tree of {} entries is not the one read before: a fork",
                cp.size()
            ),
        );
        return Ok(report);
    }
    let mut pos = state.size;
    let mut saved_at = state.size;
    let save = |state: &MonitorState| {
        crate::fsutil::write_atomic(
            state_path,
            &serde_json::to_vec_pretty(state).expect("state serializes"),
            0o600,
        )
        .map_err(io(state_path))
    };
    // What the chunk being read adds; kept apart until the chunk is proved.
    let mut added_seen: Vec<(String, String)> = Vec::new();
    let mut chunk = Chunk::default();
    let mut tiles_read = 0u64;
    let mut buf = Vec::new();
    while pos < target {
        let n = pos / TILE_WIDTH;
        let start = n * TILE_WIDTH;
        let w = (cp.size() - start).min(TILE_WIDTH);
        let end = (start + w).min(target);
        let ranges = match remote.bundle_into(n, w, &mut buf) {
            Ok(b) => b,
            Err(e) => {
                // Without the bundle, nothing past `pos` can be read; what was read and
                // proved is kept.
                report.problem(
                    ProblemKind::Fork,
                    Some(pos),
                    format!("entry bundle {n} cannot be read: {e}"),
                );
                break;
            }
        };
        let from = (pos - start) as usize;
        let to = (end - start) as usize;
        let read: Vec<(Hash, Read)> = ranges[from..to]
            .par_iter()
            .map(|r| {
                let b = &buf[r.clone()];
                let leaf = tlog_tiles::record_hash(b);
                // A verifier proves the entry of a manifest's name: an entry that does not
                // decode, or whose name no manifest can have, proves no release.
                let entry = match LogEntry::decode(b) {
                    Ok(e) if crate::manifest::check_name(&e.model).is_ok() => e,
                    _ => return (leaf, Read::Foreign),
                };
                if !crate::attest::trust::pattern_matches(&folded, &crate::path::fold(&entry.model))
                {
                    return (leaf, Read::Other);
                }
                let (versions, malformed) = entry.versions_stated_by(&roles);
                let (publisher, _) = entry.versions_stated_by(&["publisher"]);
                let signed = watch.publishers.map(|p| {
                    crate::attest::policy::evaluate(
                        p,
                        &entry.model,
                        entry.manifest,
                        &entry.bundle(),
                        now,
                        None,
                    )
                    .ok
                });
                (
                    leaf,
                    Read::Watched {
                        entry,
                        versions,
                        publisher,
                        malformed,
                        signed,
                    },
                )
            })
            .collect();
        for (i, (leaf, r)) in read.into_iter().enumerate() {
            let index = pos + i as u64;
            push(&mut frontier, leaf);
            let (entry, versions, publisher, malformed, signed) = match r {
                Read::Foreign => {
                    chunk.foreign += 1;
                    continue;
                }
                Read::Other => continue,
                Read::Watched {
                    entry,
                    versions,
                    publisher,
                    malformed,
                    signed,
                } => (entry, versions, publisher, malformed, signed),
            };
            let mut problems = Vec::new();
            if signed == Some(false) {
                problems.push(Problem {
                    kind: ProblemKind::NotSigned,
                    index: Some(index),
                    message: format!(
                        "entry {index}: {:?} (manifest {}) is not signed as publisher by the watched keys",
                        entry.model, entry.manifest
                    ),
                });
            }
            // An attestation that is not an envelope about the entry is reported; the versions
            // of the others are still recorded.
            if let Some(e) = malformed {
                problems.push(Problem {
                    kind: ProblemKind::Malformed,
                    index: Some(index),
                    message: format!(
                        "entry {index}: {:?} (manifest {}): {e}",
                        entry.model, entry.manifest
                    ),
                });
            } else if publisher.first().copied() != entry.version {
                problems.push(Problem {
                    kind: ProblemKind::Malformed,
                    index: Some(index),
                    message: format!(
                        "entry {index}: {:?} (manifest {}) has the version line {}, its publisher attestations state {}",
                        entry.model,
                        entry.manifest,
                        show_version(entry.version),
                        if publisher.is_empty() {
                            "none".to_string()
                        } else {
                            publisher.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                        }
                    ),
                });
            }
            // One name to a reader is one name here: folded, as the trust store folds names.
            let model = crate::path::fold(&entry.model);
            let digest = entry.manifest.to_hex();
            // An entry that states no version repeats none.
            for version in versions.iter().map(u64::to_string) {
                let seen = state.seen.entry(model.clone()).or_default();
                match seen.get(&version) {
                    Some(d) if *d != digest => problems.push(Problem {
                        kind: ProblemKind::RepeatedVersion,
                        index: Some(index),
                        message: format!(
                            "entry {index}: {:?} version {version} is logged with manifest {digest}, and before with manifest {d}",
                            entry.model
                        ),
                    }),
                    Some(_) => {}
                    None => {
                        seen.insert(version.clone(), digest.clone());
                        added_seen.push((model.clone(), version));
                    }
                }
            }
            for p in problems {
                chunk.problem(&report, p);
            }
            chunk.watched(
                &report,
                Watched {
                    index,
                    model: entry.model,
                    manifest: digest,
                    versions,
                    signed_by_given_key: signed,
                },
            );
        }
        pos = end;
        tiles_read += 1;
        if !tiles_read.is_multiple_of(CHUNK_TILES) && pos < target {
            continue;
        }
        if !remote.proves_prefix(&cp, pos, root(&frontier)) {
            // Nothing of this chunk is recorded: undo what it added.
            for (model, version) in added_seen.drain(..) {
                if let Some(m) = state.seen.get_mut(&model) {
                    m.remove(&version);
                    if m.is_empty() {
                        state.seen.remove(&model);
                    }
                }
            }
            report.problem(
                ProblemKind::Fork,
                None,
                format!(
                    "the log's tree of {} entries does not extend the {} read before, or its tiles are not the entries it committed to: a fork",
                    cp.size(),
                    state.size
                ),
            );
            break;
        }
        // Proved: record the chunk.
        added_seen.clear();
        report.add(std::mem::take(&mut chunk));
        state.size = pos;
        state.frontier = Frontier::from_hashes(&frontier);
        report.size = pos;
        // While nothing has been found, the state is written every SAVE_EVERY entries, so a
        // crash loses little reading. Once something has, only at the end of the run, just
        // before its report is returned: a crash then never records past a finding that was
        // not reported, and the next run finds it again.
        if report.ok && pos - saved_at >= SAVE_EVERY {
            save(&state)?;
            saved_at = pos;
        }
    }
    if state.size > saved_at {
        save(&state)?;
    }
    Ok(report)
}

fn show_version(v: Option<u64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
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
