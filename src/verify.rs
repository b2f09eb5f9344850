//! Local verification: re-hash a directory and compare it with a manifest
//! (spec/manifest.md, "Verifying a directory").
//!
//! One pass over the bytes gives, per file, the root and every chunk value, so a modified file
//! is reported with every differing chunk's byte range, not only the first. Files the manifest
//! lists but the directory lacks are `missing`; files the directory has but the manifest does
//! not are `extra` (a failure unless extras are allowed); a file that cannot be read is
//! `unreadable`. The [`Report`] is data: the binary renders it.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::diff::{diff_tensors, TensorDiff};
use crate::digest::Digest;
use crate::formats::MetadataEntry;
use crate::formats::{self, Format};
use crate::index::{self, IndexProblem};
use crate::manifest::{
    hash_path, metadata_set_digest, open_for_hashing, tensor_set_digest, FileEntry, Manifest,
    Sha256, Tensor, TensorFile, Tensors,
};
use crate::progress::Progress;
use crate::tree::{self, Region};
use crate::tree::{ChunkSize, FileTree};
use crate::walk::{self, Entry, Symlinks, WalkError};

/// Whether files the manifest does not list make verification fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExtraFiles {
    #[default]
    Reject,
    Allow,
}

/// What must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every file, byte for byte, at its path (the default).
    #[default]
    Files,
    /// Re-shard tolerant: the directory's tensor set (names, dtypes, shapes, bytes) equals the
    /// manifest's whatever files hold the tensors, and the other files match by path.
    Tensors,
}

/// How to verify a directory.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    pub mode: Mode,
    pub extra: ExtraFiles,
    pub symlinks: Symlinks,
    /// Files to leave out by identity (the manifest itself when it lives inside the directory
    /// under another name).
    pub exclude: Vec<PathBuf>,
    /// A single-file model: only this file of the directory (its name) is listed and judged.
    pub only: Option<String>,
}

/// A half-open byte range `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// The outcome for one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum FileStatus {
    /// Size and root match the manifest.
    Ok,
    /// The bytes differ. `ranges` lists every differing chunk range (adjacent ones merged);
    /// for a file of one chunk it is the whole file. For a tensor file whose tensors the
    /// manifest records, `tensors` names what changed.
    Modified {
        expected_size: u64,
        found_size: u64,
        expected_blake3: Digest,
        found_blake3: Digest,
        ranges: Vec<ByteRange>,
        /// The manifest's chunk size: `ranges` are whole chunks (the last one of a file may be
        /// shorter), so a one-byte change shows as the chunk around it.
        chunk_size: u64,
        /// The tensors (from the manifest) whose bytes overlap `ranges`, in file order; known
        /// even where the tensors were not re-hashed (`verify --url`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        overlapping: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tensors: Option<Box<TensorChanges>>,
    },
    /// The bytes differ from a digest of another algorithm (an OMS signature's SHA-256,
    /// BLAKE2b or BLAKE3), per file or per shard; `ranges` are the differing shards (the
    /// whole file without shards). `expected`/`found` are the file's digests when files are
    /// hashed whole.
    #[serde(rename = "modified-digest")]
    DigestMismatch {
        algorithm: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        expected: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        found: String,
        ranges: Vec<ByteRange>,
    },
    /// Listed in the manifest, absent from the directory.
    Missing,
    /// Present in the directory, not listed. `allowed` when extras were allowed.
    Extra { size: Option<u64>, allowed: bool },
    /// Listed, but could not be read (permissions, a refused symlink, a special file…).
    Unreadable { reason: String },
    /// Re-shard-tolerant mode: a tensor file of the directory, judged by its tensors. `differing`
    /// names its tensors that are not in the manifest's tensor set as they are here.
    #[serde(rename = "tensor-file")]
    TensorFile {
        tensors: usize,
        differing: Vec<String>,
    },
}

impl FileStatus {
    /// Whether this outcome lets the directory verify.
    pub fn passes(&self) -> bool {
        match self {
            FileStatus::Ok | FileStatus::Extra { allowed: true, .. } => true,
            FileStatus::TensorFile { differing, .. } => differing.is_empty(),
            _ => false,
        }
    }
}

/// What differs inside a modified tensor file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TensorChanges {
    /// The header bytes (tensor names, dtypes, shapes, offsets, metadata) differ.
    pub header_changed: bool,
    /// The file no longer parses as its format: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unparsable: Option<String>,
    /// Metadata keys whose values differ from the manifest's (when it records them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata_changed: Vec<String>,
    #[serde(flatten)]
    pub diff: TensorDiff,
}

/// One path's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    #[serde(flatten)]
    pub status: FileStatus,
}

/// Re-shard-tolerant mode: the directory's tensors against the manifest's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorSetReport {
    pub ok: bool,
    pub expected_digest: Digest,
    pub found_digest: Digest,
    /// Tensors found in the directory.
    pub count: usize,
    #[serde(flatten)]
    pub diff: TensorDiff,
    /// The tensors sit in other files, or at other offsets, than the manifest records.
    pub layout_differs: bool,
    pub expected_files: Vec<String>,
    pub found_files: Vec<String>,
    /// The model-wide metadata (spec/manifest.md, "Tensor-file metadata"): part of the
    /// verdict, so that a copy with the same tensors but another chat template or context
    /// length does not pass.
    pub metadata: MetadataReport,
}

/// The directory's tensor-file metadata against the manifest's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetadataReport {
    pub ok: bool,
    /// `None` when the manifest records no metadata (written by an older weightseal): then
    /// the metadata cannot be checked and tensor-level verification fails.
    pub expected_digest: Option<Digest>,
    pub found_digest: Digest,
    /// Keys whose values differ, or that are on one side only.
    pub changed: Vec<String>,
}

/// A sharded-checkpoint index problem, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    pub index: String,
    pub code: &'static str,
    pub problem: String,
}

impl From<IndexProblem> for IndexReport {
    fn from(p: IndexProblem) -> Self {
        IndexReport {
            index: p.index,
            code: p.issue.code(),
            problem: p.issue.to_string(),
        }
    }
}

/// The outcome of verifying a directory: one entry per path, sorted by path bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub files: Vec<FileReport>,
    /// Problems of `*.safetensors.index.json` files against the shards.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<IndexReport>,
    /// Re-shard-tolerant mode only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor_set: Option<TensorSetReport>,
    /// A sampled check (`verify --url --sample`): how many chunks of each file were checked.
    /// A file listed here was not checked whole, whatever its status says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sampled: Vec<SampledFile>,
    /// The exact differing bytes of modified files, when the original was at hand to compare
    /// with (`verify --original`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exact: Vec<ExactBytes>,
}

/// The exact differing bytes of every modified file of `report`, against the original copy of
/// each (`locate` gives (original, found) for a manifest path), read only inside the differing
/// chunk ranges.
pub fn exact_bytes(
    report: &Report,
    locate: &dyn Fn(&str) -> (PathBuf, PathBuf),
) -> std::io::Result<Vec<ExactBytes>> {
    let mut out = Vec::new();
    for f in &report.files {
        if let FileStatus::Modified {
            expected_size,
            found_size,
            ranges,
            ..
        } = &f.status
        {
            let (original, found) = locate(&f.path);
            // A small text file (a config, a tokenizer) also gets a unified diff, as `diff`
            // gives it.
            let (
                crate::diff::Differing {
                    runs, total, bytes, ..
                },
                text_diff,
            ) = crate::diff::compare_files(
                &f.path,
                &original,
                &found,
                Some(ranges),
                *expected_size,
                *found_size,
            )
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "comparing {} with {}: {e}",
                        found.display(),
                        original.display()
                    ),
                )
            })?;
            out.push(ExactBytes {
                path: f.path.clone(),
                runs,
                total,
                bytes,
                text_diff,
            });
        }
    }
    Ok(out)
}

/// The exact differing bytes of one modified file (see [`crate::diff::differing_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExactBytes {
    pub path: String,
    /// The first runs of differing bytes (at most [`crate::diff::MAX_BYTE_RUNS`]).
    pub runs: Vec<ByteRange>,
    /// How many runs there are in all.
    pub total: u64,
    /// How many bytes differ in all.
    pub bytes: u64,
    /// A unified diff, for a small text file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
}

/// How much of one file a sampled check read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SampledFile {
    pub path: String,
    /// Chunk groups checked.
    pub checked: u64,
    /// Chunk groups in the file.
    pub chunks: u64,
    /// The server ignored `Range` and sent the whole file: every chunk was checked, from one
    /// download of it (not a sample).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub range_ignored: bool,
}

impl Report {
    /// The sampled-check record of `path`, when the check of it was a sample.
    pub fn sampled(&self, path: &str) -> Option<&SampledFile> {
        self.sampled.iter().find(|s| s.path == path)
    }

    pub(crate) fn new(
        mut files: Vec<FileReport>,
        index: Vec<IndexProblem>,
        tensor_set: Option<TensorSetReport>,
    ) -> Report {
        files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        let ok = files.iter().all(|f| f.status.passes())
            && index.is_empty()
            && tensor_set.as_ref().is_none_or(|t| t.ok);
        Report {
            ok,
            files,
            index: index.into_iter().map(IndexReport::from).collect(),
            tensor_set,
            sampled: Vec::new(),
            exact: Vec::new(),
        }
    }
}

/// The differing chunk ranges between what the manifest expects and what was found.
pub fn differing_ranges(cs: ChunkSize, expected: &FileTree, found: &FileTree) -> Vec<ByteRange> {
    let span = expected.size.max(found.size);
    if expected.chunks.is_empty() || found.chunks.is_empty() {
        return if expected == found {
            Vec::new()
        } else {
            vec![ByteRange {
                start: 0,
                end: span,
            }]
        };
    }
    let n = expected.chunks.len().max(found.chunks.len());
    let mut out: Vec<ByteRange> = Vec::new();
    for i in 0..n {
        let same = match (expected.chunks.get(i), found.chunks.get(i)) {
            (Some(a), Some(b)) => {
                a == b
                    && cs.group_range(expected.size, i as u64)
                        == cs.group_range(found.size, i as u64)
            }
            _ => false,
        };
        if same {
            continue;
        }
        let (start, end) = cs.group_range(span, i as u64);
        match out.last_mut() {
            Some(last) if last.end == start => last.end = end,
            _ => out.push(ByteRange { start, end }),
        }
    }
    out
}

/// Names what changed inside a modified tensor file. When the header bytes are unchanged the
/// layout is the manifest's, and only the tensors overlapping a differing chunk are hashed;
/// otherwise the header is parsed again and every tensor is hashed and compared by name.
fn tensor_changes(
    fs_path: &Path,
    symlinks: Symlinks,
    expected: &FileEntry,
    tf: &TensorFile,
    ranges: &[ByteRange],
    progress: &dyn Progress,
) -> TensorChanges {
    let unparsable = |why: String| TensorChanges {
        header_changed: true,
        unparsable: Some(why),
        metadata_changed: Vec::new(),
        diff: TensorDiff::default(),
    };
    let (f, size) = match open_for_hashing(fs_path, symlinks) {
        Ok(x) => x,
        Err(e) => return unparsable(e.to_string()),
    };
    let overlaps = |s: u64, e: u64| ranges.iter().any(|r| r.start < e.max(s + 1) && s < r.end);
    if size == expected.tree.size && !overlaps(0, tf.header_len) {
        let candidates: Vec<&Tensor> = tf
            .tensors
            .iter()
            .filter(|t| t.end > t.start && overlaps(t.start, t.end))
            .collect();
        let regions: Vec<Region> = candidates.iter().map(|t| (t.start, t.end)).collect();
        return match tree::hash_regions(&f, &regions, progress) {
            Ok(digests) => TensorChanges {
                header_changed: false,
                unparsable: None,
                metadata_changed: Vec::new(),
                diff: TensorDiff {
                    changed: candidates
                        .iter()
                        .zip(&digests)
                        .filter(|(t, d)| t.digest != **d)
                        .map(|(t, _)| t.name.clone())
                        .collect(),
                    same: tf.tensors.len()
                        - candidates
                            .iter()
                            .zip(&digests)
                            .filter(|(t, d)| t.digest != **d)
                            .count(),
                    ..TensorDiff::default()
                },
            },
            Err(e) => unparsable(e.to_string()),
        };
    }
    // The header of a modified file is the modifier's: parse one only up to a bound derived
    // from the header the manifest records, so a huge header cannot exhaust memory.
    let max_header = tf.header_len.saturating_mul(4).max(REPARSE_HEADER_MIN);
    let layout = match formats::parse_limited(&f, size, tf.format, max_header) {
        Ok(l) => l,
        Err(e) => return unparsable(e.to_string()),
    };
    let mut regions: Vec<Region> = vec![(0, layout.header_len)];
    regions.extend(layout.tensors.iter().map(|t| (t.start, t.end)));
    let digests = match tree::hash_regions(&f, &regions, progress) {
        Ok(d) => d,
        Err(e) => return unparsable(e.to_string()),
    };
    let found: Vec<Tensor> = layout
        .tensors
        .iter()
        .zip(&digests[1..])
        .map(|(t, d)| Tensor::from_info(t, *d))
        .collect();
    TensorChanges {
        header_changed: digests[0] != tf.header || layout.header_len != tf.header_len,
        unparsable: None,
        metadata_changed: tf
            .metadata
            .as_ref()
            .map(|m| crate::diff::diff_metadata(m, &layout.metadata))
            .unwrap_or_default(),
        diff: diff_tensors(&tf.tensors, &found),
    }
}

/// A modified tensor file's header is re-parsed when it is at most 4 times the recorded one, or
/// this long.
const REPARSE_HEADER_MIN: u64 = 16 << 20;

fn compare(
    cs: ChunkSize,
    expected: &FileEntry,
    found: FileTree,
    fs_path: &Path,
    symlinks: Symlinks,
    progress: &dyn Progress,
) -> FileStatus {
    if found.size == expected.tree.size && found.root == expected.tree.root {
        return FileStatus::Ok;
    }
    let ranges = differing_ranges(cs, &expected.tree, &found);
    let tensors = expected.tensors.as_ref().map(|tf| {
        Box::new(tensor_changes(
            fs_path, symlinks, expected, tf, &ranges, progress,
        ))
    });
    modified_status(cs, expected, found.size, found.root, ranges, tensors)
}

/// The [`FileStatus::Modified`] of a file whose tree differs from the manifest's `expected`
/// entry in `ranges`.
pub fn modified_status(
    cs: ChunkSize,
    expected: &FileEntry,
    found_size: u64,
    found_blake3: Digest,
    ranges: Vec<ByteRange>,
    tensors: Option<Box<TensorChanges>>,
) -> FileStatus {
    let overlapping = expected
        .tensors
        .as_ref()
        .map(|tf| {
            tf.tensors
                .iter()
                .filter(|t| {
                    t.end > t.start && ranges.iter().any(|r| t.start < r.end && r.start < t.end)
                })
                .map(|t| t.name.clone())
                .collect()
        })
        .unwrap_or_default();
    FileStatus::Modified {
        expected_size: expected.tree.size,
        found_size,
        expected_blake3: expected.tree.root,
        found_blake3,
        ranges,
        chunk_size: cs.get(),
        overlapping,
        tensors,
    }
}

/// Why a directory could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error("the manifest records no tensors (it was made with --no-tensors, or the model has no safetensors or GGUF file), so a tensor-level verification is not possible")]
    NoTensorsInManifest,
}

/// Pairs manifest files with directory entries by path and hashes the pairs in parallel.
fn compare_files(
    expected: &[&FileEntry],
    entries: &[&Entry],
    cs: ChunkSize,
    opts: &VerifyOptions,
    progress: &dyn Progress,
) -> Vec<FileReport> {
    enum Job<'a> {
        Hash(&'a FileEntry, PathBuf),
        Done(FileReport),
    }
    let mut jobs: Vec<Job> = Vec::new();
    let (mut i, mut j) = (0usize, 0usize);
    while i < expected.len() || j < entries.len() {
        let order = match (expected.get(i), entries.get(j)) {
            (Some(e), Some(f)) => e.path.as_str().as_bytes().cmp(f.name().as_bytes()),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                jobs.push(Job::Done(FileReport {
                    path: expected[i].path.to_string(),
                    status: FileStatus::Missing,
                }));
                i += 1;
            }
            Ordering::Greater => {
                let status = match entries[j] {
                    Entry::File { size, .. } => FileStatus::Extra {
                        size: Some(*size),
                        allowed: opts.extra == ExtraFiles::Allow,
                    },
                    // A nested `.git` or a leftover scratch directory is never an extra file
                    // one may allow: it is named, and it fails.
                    Entry::Refused { reason, .. } if reason.is_reserved() => {
                        FileStatus::Unreadable {
                            reason: format!("refused: {reason}"),
                        }
                    }
                    Entry::Refused { .. } => FileStatus::Extra {
                        size: None,
                        allowed: opts.extra == ExtraFiles::Allow,
                    },
                };
                jobs.push(Job::Done(FileReport {
                    path: entries[j].name().to_string(),
                    status,
                }));
                j += 1;
            }
            Ordering::Equal => {
                match entries[j] {
                    Entry::File { fs_path, .. } => {
                        jobs.push(Job::Hash(expected[i], fs_path.clone()))
                    }
                    Entry::Refused { reason, .. } => jobs.push(Job::Done(FileReport {
                        path: expected[i].path.to_string(),
                        status: FileStatus::Unreadable {
                            reason: reason.to_string(),
                        },
                    })),
                }
                i += 1;
                j += 1;
            }
        }
    }
    jobs.into_par_iter()
        .map(|job| match job {
            Job::Done(r) => r,
            Job::Hash(entry, fs_path) => {
                let status = match hash_path(
                    &fs_path,
                    opts.symlinks,
                    cs,
                    Sha256::Skip,
                    Tensors::Skip,
                    progress,
                ) {
                    Ok(h) => compare(cs, entry, h.tree, &fs_path, opts.symlinks, progress),
                    Err(e) => FileStatus::Unreadable {
                        reason: e.to_string(),
                    },
                };
                FileReport {
                    path: entry.path.to_string(),
                    status,
                }
            }
        })
        .collect()
}

fn file_size(e: &Entry) -> u64 {
    match e {
        Entry::File { size, .. } => *size,
        Entry::Refused { .. } => 0,
    }
}

/// Verifies the directory `dir` against `manifest`. Fails only when the directory itself
/// cannot be listed (or, in tensor mode, when the manifest records no tensors); everything
/// else is in the report.
pub fn verify_dir(
    dir: &Path,
    manifest: &Manifest,
    opts: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let entries = walk::walk_only(dir, opts.symlinks, &opts.exclude, opts.only.as_deref())?;
    let cs = manifest.chunk_size();
    match opts.mode {
        Mode::Files => {
            let listed: std::collections::HashSet<&str> =
                manifest.files().iter().map(|f| f.path.as_str()).collect();
            progress.set_total(
                entries
                    .iter()
                    .filter(|e| listed.contains(e.name()))
                    .map(file_size)
                    .sum(),
            );
            let expected: Vec<&FileEntry> = manifest.files().iter().collect();
            let entries: Vec<&Entry> = entries.iter().collect();
            let files = compare_files(&expected, &entries, cs, opts, progress);
            let index = if manifest.tensor_digest().is_some() {
                index::check_dir(dir, manifest, opts.symlinks)
            } else {
                Vec::new()
            };
            Ok(Report::new(files, index, None))
        }
        Mode::Tensors => verify_tensors(dir, manifest, &entries, opts, progress),
    }
}

/// Whether a file takes part in the tensor layout (so it may differ in a re-sharded copy).
fn is_layout_file(path: &str) -> bool {
    index::is_index(path) || Format::claimed_by(Path::new(path)).is_some()
}

/// Re-shard-tolerant verification: the directory's tensor set against the manifest's, whatever
/// the files; the other files by path, as usual.
fn verify_tensors(
    dir: &Path,
    manifest: &Manifest,
    entries: &[Entry],
    opts: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Report, VerifyError> {
    let expected_digest = manifest
        .tensor_digest()
        .ok_or(VerifyError::NoTensorsInManifest)?;
    let cs = manifest.chunk_size();
    // A file the manifest records without tensors (named like a tensor file, but hashed as a
    // plain file) is checked byte for byte like any other plain file, in every mode.
    let in_layout = |f: &FileEntry| f.tensors.is_some() || index::is_index(f.path.as_str());
    let m_other: Vec<&FileEntry> = manifest.files().iter().filter(|f| !in_layout(f)).collect();
    let plain: std::collections::HashSet<&str> = m_other.iter().map(|f| f.path.as_str()).collect();
    let (d_layout, d_other): (Vec<&Entry>, Vec<&Entry>) = entries
        .iter()
        .partition(|e| is_layout_file(e.name()) && !plain.contains(e.name()));
    progress.set_total(entries.iter().map(file_size).sum());
    let mut files = compare_files(&m_other, &d_other, cs, opts, progress);
    // Hash every tensor file of the directory with its tensors.
    let hashed: Vec<(String, Result<Option<TensorFile>, String>)> = d_layout
        .par_iter()
        .filter(|e| !index::is_index(e.name()))
        .map(|e| {
            let r = match e {
                // One read of the header and tensor bytes, no file tree: the tensor set, the
                // headers' metadata and the layout are all this mode judges these files by.
                Entry::File { fs_path, .. } => {
                    match crate::manifest::hash_tensors_only(fs_path, opts.symlinks, progress) {
                        Ok(Ok(tf)) => Ok(tf),
                        Ok(Err(err)) => Err(err.to_string()),
                        Err(err) => Err(err.to_string()),
                    }
                }
                Entry::Refused { reason, .. } => Err(reason.to_string()),
            };
            (e.name().to_string(), r)
        })
        .collect();
    let expected: Vec<&Tensor> = manifest.tensors().map(|t| t.1).collect();
    let mut found: Vec<&Tensor> = Vec::new();
    let mut found_files: Vec<(String, &TensorFile)> = Vec::new();
    for (path, r) in &hashed {
        match r {
            Ok(Some(tf)) => {
                found.extend(&tf.tensors);
                found_files.push((path.clone(), tf));
            }
            // Named like a tensor file, holds no tensors, and the manifest does not list it:
            // an extra file, never passed over.
            Ok(None) => files.push(FileReport {
                path: path.clone(),
                status: FileStatus::Extra {
                    size: d_layout
                        .iter()
                        .find(|e| e.name() == path)
                        .map(|e| file_size(e)),
                    allowed: opts.extra == ExtraFiles::Allow,
                },
            }),
            Err(reason) => files.push(FileReport {
                path: path.clone(),
                status: FileStatus::Unreadable {
                    reason: reason.clone(),
                },
            }),
        }
    }
    let diff = diff_tensors(expected.iter().copied(), found.iter().copied());
    let bad: std::collections::HashSet<&str> = diff.differing_names().into_iter().collect();
    for (path, tf) in &found_files {
        files.push(FileReport {
            path: path.clone(),
            status: FileStatus::TensorFile {
                tensors: tf.tensors.len(),
                differing: tf
                    .tensors
                    .iter()
                    .filter(|t| bad.contains(t.name.as_str()))
                    .map(|t| t.name.clone())
                    .collect(),
            },
        });
    }
    let layout = |v: Vec<(String, String, u64, u64)>| {
        let mut v = v;
        v.sort();
        v
    };
    let expected_layout = layout(
        manifest
            .tensors()
            .map(|(p, t)| (p.to_string(), t.name.clone(), t.start, t.end))
            .collect(),
    );
    let found_layout = layout(
        found_files
            .iter()
            .flat_map(|(p, tf)| {
                tf.tensors
                    .iter()
                    .map(move |t| (p.clone(), t.name.clone(), t.start, t.end))
            })
            .collect(),
    );
    let found_digest = tensor_set_digest(found.iter().copied());
    let found_meta: Vec<&MetadataEntry> = found_files
        .iter()
        .filter_map(|(_, tf)| tf.metadata.as_ref())
        .flatten()
        .collect();
    let expected_meta: Option<Vec<&MetadataEntry>> = manifest
        .files()
        .iter()
        .filter_map(|f| f.tensors.as_ref())
        .map(|tf| tf.metadata.as_ref())
        .collect::<Option<Vec<_>>>()
        .map(|v| v.into_iter().flatten().collect());
    let metadata = {
        let found_digest = metadata_set_digest(found_meta.iter().copied());
        let changed = match &expected_meta {
            Some(e) => crate::diff::diff_metadata(e.iter().copied(), found_meta.iter().copied()),
            None => Vec::new(),
        };
        MetadataReport {
            ok: manifest.metadata_digest() == Some(found_digest) && changed.is_empty(),
            expected_digest: manifest.metadata_digest(),
            found_digest,
            changed,
        }
    };
    let tensor_set = TensorSetReport {
        ok: diff.is_empty() && found_digest == expected_digest && metadata.ok,
        metadata,
        expected_digest,
        found_digest,
        count: found.len(),
        layout_differs: expected_layout != found_layout,
        expected_files: manifest
            .files()
            .iter()
            .filter(|f| f.tensors.is_some())
            .map(|f| f.path.to_string())
            .collect(),
        found_files: found_files.iter().map(|f| f.0.clone()).collect(),
        diff,
    };
    // Index files are checked against the directory's own tensor layout.
    let mut view: index::FileTensors = HashMap::new();
    for e in entries {
        view.insert(e.name(), None);
    }
    for (p, tf) in &found_files {
        view.insert(
            p.as_str(),
            Some(tf.tensors.iter().map(|t| t.name.as_str()).collect()),
        );
    }
    let index_problems = index::check_files(dir, &view, opts.symlinks);
    Ok(Report::new(files, index_problems, Some(tensor_set)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::hash_bytes;

    #[test]
    fn ranges_name_each_differing_chunk() {
        let cs = ChunkSize::new(16384).unwrap();
        let a: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        b[20000] ^= 1;
        b[90000] ^= 1;
        let r = differing_ranges(cs, &hash_bytes(&a, cs), &hash_bytes(&b, cs));
        assert_eq!(
            r,
            vec![
                ByteRange {
                    start: 16384,
                    end: 32768
                },
                ByteRange {
                    start: 81920,
                    end: 98304
                }
            ]
        );
        b[30000] ^= 1;
        b[40000] ^= 1;
        let r = differing_ranges(cs, &hash_bytes(&a, cs), &hash_bytes(&b, cs));
        assert_eq!(
            r,
            vec![
                ByteRange {
                    start: 16384,
                    end: 49152
                },
                ByteRange {
                    start: 81920,
                    end: 98304
                }
            ]
        );
        // Truncation: the shortened last chunk and everything after differ.
        let r = differing_ranges(cs, &hash_bytes(&a, cs), &hash_bytes(&a[..50000], cs));
        assert_eq!(
            r,
            vec![ByteRange {
                start: 49152,
                end: 100_000
            }]
        );
        // One-chunk files: the whole file.
        let r = differing_ranges(cs, &hash_bytes(b"abc", cs), &hash_bytes(b"abd", cs));
        assert_eq!(r, vec![ByteRange { start: 0, end: 3 }]);
    }
}
