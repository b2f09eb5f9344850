//! Re-hashing only what changed (`weightseal hash DIR --update`): a **stat record**, kept in
//! the user's cache directory (never in the model directory, so a release never carries it),
//! remembers each file's device, inode, size, mtime and ctime (nanoseconds) as they were when
//! the manifest it describes was built. A file whose stat still matches, and whose mtime and
//! ctime are older than the record (the "racy" rule git uses), keeps its manifest entry;
//! everything else is hashed again.
//!
//! A record is used only for the directory it was made for (its canonical path, device and
//! inode), with the same build options, and only when the manifest on disk is the one it
//! describes (its BLAKE3 digest); otherwise the whole directory is hashed.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::build::{finish, hash_open, hashed_entry, open_for_hashing, walk_files};
use super::*;
use crate::progress::Progress;
use crate::walk::Symlinks;

/// The environment variable that names the stat record directory (tests, sandboxes).
pub const CACHE_ENV: &str = "WEIGHTSEAL_CACHE";

/// The largest stat record read (a million files fit).
const MAX_RECORD_LEN: u64 = 256 << 20;

/// Where stat records live: `$WEIGHTSEAL_CACHE`, else `$XDG_CACHE_HOME/weightseal`, else
/// `~/.cache/weightseal`; `None` when none of these is set.
pub fn cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env(CACHE_ENV)
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("weightseal")))
        .or_else(|| env("HOME").map(|p| p.join(".cache").join("weightseal")))
}

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    /// Status change time (set by the kernel on every write, rename or `touch`; no user can
    /// set it back).
    pub ctime: (i64, i64),
}

impl Stat {
    pub fn of(m: &std::fs::Metadata) -> Stat {
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// Whether a file with this stat now may keep the entry recorded with `recorded` in a
    /// record taken at `taken` (seconds, nanoseconds): every field equal, and the file's mtime
    /// and ctime both before the whole second preceding `taken`. A file changed in the same
    /// timestamp tick as the record was taken could change again without its stat showing it
    /// (the racy rule); the second of margin covers file systems that keep whole seconds, or
    /// two (FAT), rather than nanoseconds.
    pub fn unchanged_since(&self, recorded: &Stat, taken: (i64, i64)) -> bool {
        let limit = taken.0 - 1;
        self == recorded && recorded.mtime.0 < limit && recorded.ctime.0 < limit
    }
}

/// The time the file system stamps files with now (`CLOCK_REALTIME_COARSE`: a file written
/// after this call gets an mtime and ctime no earlier).
fn fs_now() -> (i64, i64) {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    (ts.tv_sec, ts.tv_nsec as i64)
}

/// The build options a record was made with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RecordOptions {
    chunk_size: u64,
    sha256: bool,
    tensors: bool,
    name: Option<String>,
    follow_symlinks: bool,
    only: Option<String>,
}

impl RecordOptions {
    fn of(o: &BuildOptions) -> RecordOptions {
        RecordOptions {
            chunk_size: o.chunk_size.get(),
            sha256: o.sha256 == Sha256::Record,
            tensors: o.tensors == Tensors::Record,
            name: o.name.clone(),
            follow_symlinks: o.symlinks == Symlinks::Follow,
            only: o.only.clone(),
        }
    }
}

/// A stat record (JSON, in the cache directory).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    version: u32,
    dir: PathBuf,
    dir_dev: u64,
    dir_ino: u64,
    options: RecordOptions,
    /// The manifest it describes (BLAKE3 of its bytes, hex).
    manifest: String,
    /// The file system clock before any file was looked at.
    taken: (i64, i64),
    files: HashMap<String, Stat>,
}

/// Why the whole directory was hashed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FullReason {
    /// No stat record for this directory.
    NoRecord,
    /// No manifest (or an unreadable one) at the manifest path.
    NoManifest,
    /// The record was made for another directory (same cache key, other path/device/inode).
    OtherDirectory,
    /// The manifest on disk is not the one the record was made for.
    StaleManifest,
    /// The record was made with other build options.
    OtherOptions,
    /// The record could not be read or parsed (the reason).
    BadRecord(String),
}

impl std::fmt::Display for FullReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FullReason::NoRecord => f.write_str("no stat record for this directory"),
            FullReason::NoManifest => f.write_str("no readable manifest to update"),
            FullReason::OtherDirectory => f.write_str("the stat record is for another directory"),
            FullReason::StaleManifest => {
                f.write_str("the manifest on disk is not the one the stat record describes")
            }
            FullReason::OtherOptions => {
                f.write_str("the stat record was made with other build options")
            }
            FullReason::BadRecord(e) => write!(f, "the stat record is unreadable: {e}"),
        }
    }
}

/// A manifest built with a stat record, and which files were read.
#[derive(Debug)]
pub struct Updated {
    pub built: Built,
    /// Files whose entry was taken from the previous manifest, unread.
    pub reused: Vec<String>,
    /// Files hashed from disk.
    pub hashed: Vec<String>,
    /// Why nothing could be reused, when that is so.
    pub full: Option<FullReason>,
    /// The stat record written for the new manifest.
    pub record: PathBuf,
    /// Why the record could not be written (the manifest is still good; the next update
    /// hashes everything).
    pub record_error: Option<String>,
}

/// The record file of `dir` in `cache`: named by BLAKE3 of the directory's canonical path,
/// device and inode. Fails when `dir` cannot be resolved.
pub fn record_path(dir: &Path, cache: &Path) -> std::io::Result<PathBuf> {
    let (canon, dev, ino) = dir_identity(dir)?;
    Ok(record_file(&canon, dev, ino, cache))
}

fn dir_identity(dir: &Path) -> std::io::Result<(PathBuf, u64, u64)> {
    let canon = dir.canonicalize()?;
    let m = std::fs::metadata(&canon)?;
    Ok((canon, m.dev(), m.ino()))
}

fn record_file(canon: &Path, dev: u64, ino: u64, cache: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut h = blake3::Hasher::new();
    h.update(canon.as_os_str().as_bytes());
    h.update(&[0]);
    h.update(&dev.to_le_bytes());
    h.update(&ino.to_le_bytes());
    cache.join(format!("{}.stat.json", &h.finalize().to_hex()[..32]))
}

/// The previous manifest and record when they may be used for `dir` with `opts`.
fn usable(
    canon: &Path,
    dev: u64,
    ino: u64,
    opts: Option<&BuildOptions>,
    manifest_path: &Path,
    record_path: &Path,
) -> Result<(Manifest, Record), FullReason> {
    let bytes = match crate::fsutil::read_regular(record_path, MAX_RECORD_LEN) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(FullReason::NoRecord),
        Err(e) => return Err(FullReason::BadRecord(e.to_string())),
    };
    let record: Record =
        serde_json::from_slice(&bytes).map_err(|e| FullReason::BadRecord(e.to_string()))?;
    if record.version != 1 {
        return Err(FullReason::BadRecord(format!(
            "version {}, expected 1",
            record.version
        )));
    }
    if record.dir != canon || record.dir_dev != dev || record.dir_ino != ino {
        return Err(FullReason::OtherDirectory);
    }
    if let Some(o) = opts {
        if RecordOptions::of(o) != record.options {
            return Err(FullReason::OtherOptions);
        }
    }
    let m = Manifest::read_file(manifest_path).map_err(|_| FullReason::NoManifest)?;
    if m.digest().to_hex() != record.manifest {
        return Err(FullReason::StaleManifest);
    }
    Ok((m, record))
}

/// Hashes `dir` as [`build`] does, taking the entry of each unchanged file (see
/// [`Stat::unchanged_since`]) from the manifest at `manifest_path` when the stat record in
/// `cache` describes that manifest, this directory and these options; then writes the record
/// of the new manifest. The caller writes the manifest.
pub fn build_update(
    dir: &Path,
    opts: &BuildOptions,
    manifest_path: &Path,
    cache: &Path,
    progress: &dyn Progress,
) -> Result<Updated, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let (canon, dev, ino) = dir_identity(dir).map_err(io(dir))?;
    let rec_path = record_file(&canon, dev, ino, cache);
    let prev = usable(&canon, dev, ino, Some(opts), manifest_path, &rec_path);
    update_with(dir, opts, prev, (canon, dev, ino), rec_path, progress)
}

fn update_with(
    dir: &Path,
    opts: &BuildOptions,
    prev: Result<(Manifest, Record), FullReason>,
    (canon, dev, ino): (PathBuf, u64, u64),
    rec_path: PathBuf,
    progress: &dyn Progress,
) -> Result<Updated, BuildError> {
    // Before any file is looked at: whatever changes after this is newer than the record.
    let taken = fs_now();
    let (name, files) = walk_files(dir, opts)?;
    let (prev, full) = match prev {
        Ok(p) => (Some(p), None),
        Err(r) => (None, Some(r)),
    };
    // Open and stat every file; keep the entries of unchanged ones.
    let opened = files
        .into_par_iter()
        .map(|(path, fs_path, _)| {
            let (f, size) =
                open_for_hashing(&fs_path, opts.symlinks).map_err(|source| BuildError::Io {
                    path: fs_path.clone(),
                    source,
                })?;
            let stat = Stat::of(&f.metadata().map_err(|source| BuildError::Io {
                path: fs_path.clone(),
                source,
            })?);
            let kept = prev.as_ref().and_then(|(m, r)| {
                let recorded = r.files.get(path.as_str())?;
                let e = m.file(path.as_str())?;
                (stat.unchanged_since(recorded, r.taken) && e.tree.size == size).then(|| e.clone())
            });
            Ok((path, fs_path, f, size, stat, kept))
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    progress.set_total(opened.iter().filter(|o| o.5.is_none()).map(|o| o.3).sum());
    let done = opened
        .into_par_iter()
        .map(|(path, fs_path, f, size, stat, kept)| match kept {
            Some(e) => Ok((e, None, stat, true)),
            None => {
                let h = hash_open(
                    &f,
                    size,
                    &fs_path,
                    opts.chunk_size,
                    opts.sha256,
                    opts.tensors,
                    progress,
                )
                .map_err(|source| BuildError::Io {
                    path: fs_path,
                    source,
                })?;
                let (e, w) = hashed_entry(path, h);
                Ok((e, w, stat, false))
            }
        })
        .collect::<Result<Vec<_>, BuildError>>()?;
    let (mut reused, mut hashed) = (Vec::new(), Vec::new());
    let mut stats = HashMap::with_capacity(done.len());
    let mut entries = Vec::with_capacity(done.len());
    let mut warnings = Vec::new();
    for (e, w, stat, was_reused) in done {
        let p = e.path.to_string();
        if was_reused {
            reused.push(p.clone());
        } else {
            hashed.push(p.clone());
        }
        stats.insert(p, stat);
        entries.push(e);
        warnings.extend(w);
    }
    reused.sort();
    hashed.sort();
    let built = finish(dir, opts, name, entries, warnings)?;
    let record = Record {
        version: 1,
        dir: canon,
        dir_dev: dev,
        dir_ino: ino,
        options: RecordOptions::of(opts),
        manifest: built.manifest.digest().to_hex(),
        taken,
        files: stats,
    };
    let record_error = write_record(&rec_path, &record).err();
    Ok(Updated {
        built,
        reused,
        hashed,
        full,
        record: rec_path,
        record_error,
    })
}

fn write_record(path: &Path, r: &Record) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail)?;
    let bytes = serde_json::to_vec(r).map_err(|e| e.to_string())?;
    crate::fsutil::write_atomic(path, &bytes, 0o600).map_err(fail)
}

/// Checks that `stored` (read from `manifest_path`) still describes `dir` with the stat
/// record in `cache`, re-reading only the files whose stat changed, exactly as
/// [`build_update`] with the options the record was made with. `None` when there is no
/// usable record (none, another directory, a manifest it was not made for, or another
/// symlink policy or single file than `symlinks` and `only`): check the directory some
/// other way. `Some(updated)`: the directory's manifest now (compare it with `stored`); the
/// record is refreshed.
pub fn check_with_record(
    dir: &Path,
    symlinks: Symlinks,
    only: Option<&str>,
    exclude: &[PathBuf],
    manifest_path: &Path,
    cache: &Path,
    progress: &dyn Progress,
) -> Result<Option<Updated>, BuildError> {
    let Ok((canon, dev, ino)) = dir_identity(dir) else {
        return Ok(None);
    };
    let rec_path = record_file(&canon, dev, ino, cache);
    let Ok((m, record)) = usable(&canon, dev, ino, None, manifest_path, &rec_path) else {
        return Ok(None);
    };
    let o = &record.options;
    if o.follow_symlinks != (symlinks == Symlinks::Follow) || o.only.as_deref() != only {
        return Ok(None);
    }
    let Ok(chunk_size) = crate::tree::ChunkSize::new(o.chunk_size) else {
        return Ok(None);
    };
    let opts = BuildOptions {
        chunk_size,
        sha256: if o.sha256 {
            Sha256::Record
        } else {
            Sha256::Skip
        },
        symlinks,
        name: o.name.clone(),
        exclude: exclude.to_vec(),
        tensors: if o.tensors {
            Tensors::Record
        } else {
            Tensors::Skip
        },
        only: o.only.clone(),
    };
    update_with(
        dir,
        &opts,
        Ok((m, record)),
        (canon, dev, ino),
        rec_path,
        progress,
    )
    .map(Some)
}
