//! Local verification: re-hash a directory and compare it with a manifest
//! (spec/manifest.md, "Verifying a directory").
//!
//! One pass over the bytes gives, per file, the root and every chunk value, so a modified file
//! is reported with every differing chunk's byte range, not only the first. Files the manifest
//! lists but the directory lacks are `missing`; files the directory has but the manifest does
//! not are `extra` (a failure unless extras are allowed); a file that cannot be read is
//! `unreadable`. The [`Report`] is data: the binary renders it.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::digest::Digest;
use crate::manifest::{hash_path, FileEntry, Manifest, Sha256, Tensors};
use crate::progress::Progress;
use crate::tree::{ChunkSize, FileTree};
use crate::walk::{self, Entry, Symlinks, WalkError};

/// Whether files the manifest does not list make verification fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExtraFiles {
    #[default]
    Reject,
    Allow,
}

/// How to verify a directory.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    pub extra: ExtraFiles,
    pub symlinks: Symlinks,
    /// Files to leave out by identity (the manifest itself when it lives inside the directory
    /// under another name).
    pub exclude: Vec<PathBuf>,
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
    /// for a file of one chunk it is the whole file.
    Modified {
        expected_size: u64,
        found_size: u64,
        expected_blake3: Digest,
        found_blake3: Digest,
        ranges: Vec<ByteRange>,
    },
    /// Listed in the manifest, absent from the directory.
    Missing,
    /// Present in the directory, not listed. `allowed` when extras were allowed.
    Extra { size: Option<u64>, allowed: bool },
    /// Listed, but could not be read (permissions, a refused symlink, a special file…).
    Unreadable { reason: String },
}

impl FileStatus {
    /// Whether this outcome lets the directory verify.
    pub fn passes(&self) -> bool {
        matches!(
            self,
            FileStatus::Ok | FileStatus::Extra { allowed: true, .. }
        )
    }
}

/// One path's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    #[serde(flatten)]
    pub status: FileStatus,
}

/// The outcome of verifying a directory: one entry per path, sorted by path bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub files: Vec<FileReport>,
}

impl Report {
    fn new(files: Vec<FileReport>) -> Report {
        let ok = files.iter().all(|f| f.status.passes());
        Report { ok, files }
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

fn compare(cs: ChunkSize, expected: &FileEntry, found: FileTree) -> FileStatus {
    if found.size == expected.tree.size && found.root == expected.tree.root {
        return FileStatus::Ok;
    }
    FileStatus::Modified {
        expected_size: expected.tree.size,
        found_size: found.size,
        expected_blake3: expected.tree.root,
        found_blake3: found.root,
        ranges: differing_ranges(cs, &expected.tree, &found),
    }
}

/// Verifies the directory `dir` against `manifest`. Fails only when the directory itself
/// cannot be listed; everything else is in the report.
pub fn verify_dir(
    dir: &Path,
    manifest: &Manifest,
    opts: &VerifyOptions,
    progress: &dyn Progress,
) -> Result<Report, WalkError> {
    let entries = walk::walk(dir, opts.symlinks, &opts.exclude)?;
    let cs = manifest.chunk_size();
    enum Job<'a> {
        Hash(&'a FileEntry, PathBuf),
        Done(FileReport),
    }
    let mut jobs: Vec<Job> = Vec::new();
    let mut total = 0u64;
    let expected = manifest.files();
    let (mut i, mut j) = (0usize, 0usize);
    while i < expected.len() || j < entries.len() {
        let order = match (expected.get(i), entries.get(j)) {
            (Some(e), Some(f)) => e.path.as_str().as_bytes().cmp(f.name().as_bytes()),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                jobs.push(Job::Done(FileReport {
                    path: expected[i].path.to_string(),
                    status: FileStatus::Missing,
                }));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let size = match &entries[j] {
                    Entry::File { size, .. } => Some(*size),
                    Entry::Refused { .. } => None,
                };
                jobs.push(Job::Done(FileReport {
                    path: entries[j].name().to_string(),
                    status: FileStatus::Extra {
                        size,
                        allowed: opts.extra == ExtraFiles::Allow,
                    },
                }));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                match &entries[j] {
                    Entry::File { fs_path, size, .. } => {
                        total += size;
                        jobs.push(Job::Hash(&expected[i], fs_path.clone()));
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
    progress.set_total(total);
    let files = jobs
        .into_par_iter()
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
                    Ok(h) => compare(cs, entry, h.tree),
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
        .collect();
    Ok(Report::new(files))
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
