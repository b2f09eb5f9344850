//! Building a manifest by hashing a directory (spec/manifest.md, "Directory walk"): the walk,
//! each file's tree, and, for tensor files, the header, tensors and metadata from the same read.

use std::fs::File;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::digest::Digest;
use crate::formats::{self, Format, FormatError};
use crate::progress::Progress;
use crate::tree::{self, ChunkSize, FileTree};
use crate::walk::{self, Entry, Refusal, Symlinks, WalkError};

use super::*;

/// Whether to record each file's SHA-256 (the Hugging Face LFS oid) beside its BLAKE3 tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sha256 {
    #[default]
    Skip,
    Record,
}

/// How to build a manifest from a directory.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    pub chunk_size: ChunkSize,
    pub sha256: Sha256,
    pub symlinks: Symlinks,
    /// Model name; default: the directory's name.
    pub name: Option<String>,
    /// Files to leave out by identity (e.g. a manifest written inside the directory).
    pub exclude: Vec<PathBuf>,
    /// Record the tensors of safetensors and GGUF files (default) or hash them as plain files.
    pub tensors: Tensors,
    /// A single-file model: only this file of the directory (its name), nothing else.
    pub only: Option<String>,
}

/// Why building a manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error("{name}: {reason}")]
    Refused { name: String, reason: Refusal },
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no model name given and none can be taken from the directory {}", .0.display())]
    NoName(PathBuf),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Opens a file for hashing; with [`Symlinks::Refuse`] a symlink swapped in after the walk is
/// refused by the kernel (`O_NOFOLLOW`). Returns the file and its size.
pub(crate) fn open_for_hashing(path: &Path, symlinks: Symlinks) -> io::Result<(File, u64)> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    // O_NONBLOCK: a named pipe swapped in after the walk is refused below, not waited on.
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if symlinks == Symlinks::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    o.custom_flags(flags);
    let f = o.open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let fl = rustix::fs::fcntl_getfl(&f)?;
    rustix::fs::fcntl_setfl(&f, fl - rustix::fs::OFlags::NONBLOCK)?;
    Ok((f, m.len()))
}

/// Whether to parse tensor files and record their tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Tensors {
    #[default]
    Record,
    Skip,
}

/// A file hashed from disk.
pub(crate) struct Hashed {
    pub tree: FileTree,
    pub sha256: Option<Digest>,
    pub tensors: Option<TensorFile>,
    /// The file claims a tensor format but its header did not parse.
    pub format_error: Option<(Format, FormatError)>,
}

/// Hashes the file's tree, and in the same read its header and every tensor of `layout`.
pub(crate) fn hash_with_layout(
    f: &File,
    size: u64,
    cs: ChunkSize,
    sha256: Sha256,
    layout: Option<&formats::Layout>,
    progress: &dyn Progress,
) -> io::Result<(FileTree, Option<Digest>, Option<TensorFile>)> {
    let mut regions: Vec<tree::Region> = Vec::new();
    if let Some(l) = layout {
        regions.push((0, l.header_len));
        regions.extend(l.tensors.iter().map(|t| (t.start, t.end)));
    }
    let (tree, sha, digests) = match sha256 {
        Sha256::Skip => {
            let (t, d) = tree::hash_file_regions(f, size, cs, &regions, progress)?;
            (t, None, d)
        }
        Sha256::Record => {
            let (t, s, d) = tree::hash_file_with_sha256(f, size, cs, &regions, progress)?;
            (t, Some(s), d)
        }
    };
    let tensors = layout.map(|l| TensorFile {
        format: l.format,
        header_len: l.header_len,
        metadata: Some(l.metadata.clone()),
        header: digests[0],
        tensors: l
            .tensors
            .iter()
            .zip(&digests[1..])
            .map(|(t, d)| Tensor::from_info(t, *d))
            .collect(),
    });
    Ok((tree, sha, tensors))
}

/// Hashes one file on disk: its tree, its SHA-256 when asked, and when it is a tensor file
/// (by its name) and tensors are wanted, its header and tensors, all in one read.
pub(crate) fn hash_path(
    path: &Path,
    symlinks: Symlinks,
    cs: ChunkSize,
    sha256: Sha256,
    tensors: Tensors,
    progress: &dyn Progress,
) -> io::Result<Hashed> {
    let (f, size) = open_for_hashing(path, symlinks)?;
    hash_open(&f, size, path, cs, sha256, tensors, progress)
}

/// [`hash_path`] on a file already opened with [`open_for_hashing`] (`path` names it, for its
/// format).
pub(crate) fn hash_open(
    f: &File,
    size: u64,
    path: &Path,
    cs: ChunkSize,
    sha256: Sha256,
    tensors: Tensors,
    progress: &dyn Progress,
) -> io::Result<Hashed> {
    let claimed = match tensors {
        Tensors::Record => Format::claimed_by(path),
        Tensors::Skip => None,
    };
    let (layout, format_error) = match claimed.map(|fmt| (fmt, formats::parse(f, size, fmt))) {
        None => (None, None),
        Some((_, Ok(l))) => (Some(l), None),
        Some((fmt, Err(e))) => (None, Some((fmt, e))),
    };
    let (tree, sha256, tensors) = hash_with_layout(f, size, cs, sha256, layout.as_ref(), progress)?;
    Ok(Hashed {
        tree,
        sha256,
        tensors,
        format_error,
    })
}

/// The tensors of one tensor file on disk (by its name) and nothing else: its header and each
/// tensor hashed in one read of those bytes, with no file tree (tensor-level verification
/// needs only these). `Ok(None)` for a file not named like a tensor file; `Err` with the
/// reason when it does not parse.
pub(crate) fn hash_tensors_only(
    path: &Path,
    symlinks: Symlinks,
    progress: &dyn Progress,
) -> io::Result<Result<Option<TensorFile>, FormatError>> {
    let (f, size) = open_for_hashing(path, symlinks)?;
    let Some(fmt) = Format::claimed_by(path) else {
        return Ok(Ok(None));
    };
    let layout = match formats::parse(&f, size, fmt) {
        Ok(l) => l,
        Err(e) => return Ok(Err(e)),
    };
    let mut regions: Vec<tree::Region> = vec![(0, layout.header_len)];
    regions.extend(layout.tensors.iter().map(|t| (t.start, t.end)));
    let digests = tree::hash_regions(&f, &regions, progress)?;
    Ok(Ok(Some(TensorFile {
        format: layout.format,
        header_len: layout.header_len,
        metadata: Some(layout.metadata.clone()),
        header: digests[0],
        tensors: layout
            .tensors
            .iter()
            .zip(&digests[1..])
            .map(|(t, d)| Tensor::from_info(t, *d))
            .collect(),
    })))
}

/// Something worth telling the publisher that does not stop the manifest from being built.
#[derive(Debug, thiserror::Error)]
pub enum BuildWarning {
    /// The file is named like a tensor file but is not a valid one: it is hashed as a plain
    /// file, with no tensors.
    #[error("{path}: named like a {} file, hashed as a plain file: {error}", format.as_str())]
    NotParsed {
        path: String,
        format: Format,
        error: FormatError,
    },
    /// A sharded checkpoint's index does not match its shards.
    #[error(transparent)]
    Index(#[from] crate::index::IndexProblem),
}

/// A manifest and what the publisher should know about it.
#[derive(Debug)]
pub struct Built {
    pub manifest: Manifest,
    pub warnings: Vec<BuildWarning>,
}

/// Hashes every file of `dir` into a manifest. Fails on the first file that cannot be part of
/// one (a refused entry or an I/O error), naming it.
pub fn build(
    dir: &Path,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<Built, BuildError> {
    let (name, files) = walk_files(dir, opts)?;
    progress.set_total(files.iter().map(|f| f.2).sum());
    let hashed: Vec<(FileEntry, Option<BuildWarning>)> = files
        .into_par_iter()
        .map(|(path, fs_path, _)| {
            let h = hash_path(
                &fs_path,
                opts.symlinks,
                opts.chunk_size,
                opts.sha256,
                opts.tensors,
                progress,
            )
            .map_err(|source| BuildError::Io {
                path: fs_path,
                source,
            })?;
            Ok(hashed_entry(path, h))
        })
        .collect::<Result<_, BuildError>>()?;
    let (entries, warnings): (Vec<FileEntry>, Vec<Option<BuildWarning>>) =
        hashed.into_iter().unzip();
    finish(
        dir,
        opts,
        name,
        entries,
        warnings.into_iter().flatten().collect(),
    )
}

/// A file of the walk: its manifest path, its path on disk and its size.
pub(crate) type Walked = (ModelPath, PathBuf, u64);

/// The default name of a single-file GGUF model: its `general.name`, when that is a valid
/// model name (spec/manifest.md, "Fields") with no white space at either end. `None` for any
/// other file, a GGUF without one, or one whose header does not parse (the file name is then
/// the default).
pub fn gguf_name(path: &Path, size: u64) -> Option<String> {
    if !path.to_str()?.ends_with(".gguf") {
        return None;
    }
    let (file, _) = crate::fsutil::open_regular(path).ok()?;
    let name = formats::gguf::parse(&file, size).ok()?.general_name?;
    (name.trim() == name && check_name(&name).is_ok()).then_some(name)
}

/// The model name and the files of `dir` to hash, as [`build`] takes them.
pub(crate) fn walk_files(
    dir: &Path,
    opts: &BuildOptions,
) -> Result<(String, Vec<Walked>), BuildError> {
    let entries = walk::walk_only(dir, opts.symlinks, &opts.exclude, opts.only.as_deref())?;
    let name = match (&opts.name, &opts.only) {
        (Some(n), _) => n.clone(),
        (None, Some(file)) => entries
            .iter()
            .find_map(|e| match e {
                Entry::File { fs_path, size, .. } => gguf_name(fs_path, *size),
                _ => None,
            })
            .unwrap_or_else(|| file.clone()),
        (None, None) => dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| BuildError::NoName(dir.to_path_buf()))?,
    };
    check_name(&name)?;
    let mut files = Vec::with_capacity(entries.len());
    for e in entries {
        match e {
            Entry::File {
                path,
                fs_path,
                size,
            } => files.push((path, fs_path, size)),
            Entry::Refused { name, reason, .. } => {
                return Err(BuildError::Refused { name, reason })
            }
        }
    }
    Ok((name, files))
}

/// The manifest entry of a hashed file, and the warning its format gave.
pub(crate) fn hashed_entry(path: ModelPath, h: Hashed) -> (FileEntry, Option<BuildWarning>) {
    let warning = h
        .format_error
        .map(|(format, error)| BuildWarning::NotParsed {
            path: path.to_string(),
            format,
            error,
        });
    (
        FileEntry {
            path,
            tree: h.tree,
            sha256: h.sha256,
            tensors: h.tensors,
        },
        warning,
    )
}

/// The manifest of `entries`, with the index check of a directory whose tensors are recorded.
pub(crate) fn finish(
    dir: &Path,
    opts: &BuildOptions,
    name: String,
    entries: Vec<FileEntry>,
    mut warnings: Vec<BuildWarning>,
) -> Result<Built, BuildError> {
    let manifest = Manifest::new(name, opts.chunk_size, entries)?;
    if opts.tensors == Tensors::Record {
        warnings.extend(
            crate::index::check_dir(dir, &manifest, opts.symlinks)
                .into_iter()
                .map(BuildWarning::Index),
        );
    }
    Ok(Built { manifest, warnings })
}
