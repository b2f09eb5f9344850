//! The manifest: what a model directory contains, as deterministic CBOR (spec/manifest.md).
//!
//! This module owns the [`Manifest`] type (which can only hold a valid manifest: sorted,
//! unique, well-formed paths; chunk lists that match sizes and merge to their roots), its one
//! canonical encoding, the strict decoder (structural pre-check of the raw bytes, conversion
//! with field-level errors, then re-encode-and-compare), and building a manifest by hashing a
//! directory.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::cbor::{self, Item, Seq, Writer};
use rayon::prelude::*;

use crate::digest::Digest;
use crate::formats::{self, Format, FormatError, MetadataEntry};
use crate::path::{ModelPath, PathError};
use crate::progress::Progress;
use crate::tree::{self, ChunkSize, ChunkSizeError, FileTree};
use crate::walk::{self, Entry, Refusal, Symlinks, WalkError};

/// The manifest format version this implementation writes and reads.
pub const FORMAT_VERSION: u64 = 1;
/// Largest manifest accepted, in bytes (a 1 TB model at 4 MiB chunks needs about 9 MB).
pub const MAX_MANIFEST_LEN: u64 = 1 << 30;
/// Longest model name, in bytes.
pub const MAX_NAME_LEN: usize = 1024;
/// Deepest nesting of CBOR items a reader accepts (a valid manifest nests 4 deep).
const MAX_DEPTH: usize = 8;

/// One file of the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub path: ModelPath,
    pub tree: FileTree,
    /// SHA-256 of the file (the Hugging Face LFS oid), when the writer chose to record it.
    pub sha256: Option<Digest>,
    /// The file's tensors, when it is a tensor file and the writer recorded them.
    pub tensors: Option<TensorFile>,
}

/// What a manifest records of a tensor file (spec/manifest.md, "Tensor files").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorFile {
    pub format: Format,
    /// Length of the header: bytes `0..header_len`.
    pub header_len: u64,
    /// BLAKE3 of the header bytes.
    pub header: Digest,
    /// Sorted by start offset, then name bytes; disjoint; inside `header_len..size`.
    pub tensors: Vec<Tensor>,
    /// The header's content metadata (spec/manifest.md, "Tensor-file metadata"), sorted by key
    /// bytes; `None` in manifests written before metadata was recorded.
    pub metadata: Option<Vec<MetadataEntry>>,
}

/// One tensor: what the header says of it, where its bytes are, and their BLAKE3 hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    pub start: u64,
    pub end: u64,
    pub digest: Digest,
}

impl Tensor {
    /// The tensor a header describes, with the digest of its bytes.
    pub fn from_info(info: &formats::TensorInfo, digest: Digest) -> Tensor {
        Tensor {
            name: info.name.clone(),
            dtype: info.dtype.clone(),
            shape: info.shape.clone(),
            start: info.start,
            end: info.end,
            digest,
        }
    }

    /// The tensor-set leaf: `0x00 || CBOR([name, dtype, shape, digest])`, hashed.
    fn leaf_bytes(&self) -> Vec<u8> {
        let mut w = Writer { out: vec![0u8] };
        w.array(4);
        w.text(&self.name);
        w.text(&self.dtype);
        w.array(self.shape.len());
        for &d in &self.shape {
            w.uint(d);
        }
        w.bytes(&self.digest.0);
        w.out
    }
}

/// The tensor-set digest of some tensors, wherever they are stored (spec/manifest.md,
/// "Tensor-set digest"): a Merkle root (RFC 6962 shape, BLAKE3, `0x00` leaf and `0x01` node
/// prefixes) over the tensors sorted by name (then by leaf bytes), each leaf committing to
/// name, dtype, shape and digest. The same tensors split differently into files give the same
/// value.
pub fn tensor_set_digest<'a>(tensors: impl IntoIterator<Item = &'a Tensor>) -> Digest {
    let mut leaves: Vec<(&str, Vec<u8>)> = tensors
        .into_iter()
        .map(|t| (t.name.as_str(), t.leaf_bytes()))
        .collect();
    leaves.sort_by(|a, b| (a.0.as_bytes(), &a.1).cmp(&(b.0.as_bytes(), &b.1)));
    let hashes: Vec<[u8; 32]> = leaves
        .iter()
        .map(|(_, l)| *blake3::hash(l).as_bytes())
        .collect();
    fn mth(h: &[[u8; 32]]) -> [u8; 32] {
        match h.len() {
            0 => *blake3::hash(&[]).as_bytes(),
            1 => h[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                let mut hasher = blake3::Hasher::new();
                hasher.update(&[1]);
                hasher.update(&mth(&h[..k]));
                hasher.update(&mth(&h[k..]));
                *hasher.finalize().as_bytes()
            }
        }
    }
    Digest(mth(&hashes))
}

/// The model-wide metadata digest: the distinct (key, value digest) entries of all tensor
/// files, sorted by key bytes then digest, encoded as a CBOR array of `[key, digest]` arrays
/// after the domain `weightseal-metadata-set-v1\0`, hashed with BLAKE3. Equal for every
/// sharding of the same model whose shards carry the same metadata.
pub fn metadata_set_digest<'a>(entries: impl IntoIterator<Item = &'a MetadataEntry>) -> Digest {
    let mut all: Vec<&MetadataEntry> = entries.into_iter().collect();
    all.sort_by(|a, b| (a.key.as_bytes(), &a.digest.0).cmp(&(b.key.as_bytes(), &b.digest.0)));
    all.dedup();
    let mut w = Writer {
        out: b"weightseal-metadata-set-v1\0".to_vec(),
    };
    w.array(all.len());
    for e in all {
        w.array(2);
        w.text(&e.key);
        w.bytes(&e.digest.0);
    }
    blake3::hash(&w.out).into()
}

/// A valid manifest. Construct with [`Manifest::new`], [`Manifest::decode`] or [`build`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    name: String,
    chunk_size: ChunkSize,
    files: Vec<FileEntry>,
    /// Derived: present when any file records tensors.
    tensor_digest: Option<Digest>,
    /// Derived: present when any tensor file records its metadata.
    metadata_digest: Option<Digest>,
}

/// Why a manifest was rejected. Each variant has a stable [`code`](ManifestError::code) used
/// by the test vectors.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("manifest is {len} bytes, more than the {max} allowed")]
    TooLarge { len: u64, max: u64 },
    #[error("manifest is empty")]
    Empty,
    #[error("CBOR item at byte {offset} declares {needed} more bytes but only {available} remain")]
    Truncated {
        offset: usize,
        needed: u64,
        available: usize,
    },
    #[error("malformed CBOR at byte {offset}: {detail}")]
    Malformed { offset: usize, detail: String },
    #[error("CBOR at byte {offset}: {found} is not allowed in a manifest (only unsigned integers, byte strings, text strings, arrays and maps)")]
    UnsupportedItem { offset: usize, found: &'static str },
    #[error("non-canonical CBOR at byte {offset}: {detail}")]
    NonCanonical { offset: usize, detail: String },
    #[error("CBOR nesting deeper than {MAX_DEPTH} at byte {offset}")]
    TooDeep { offset: usize },
    #[error("{count} trailing byte(s) after the manifest at byte {offset}")]
    TrailingBytes { offset: usize, count: usize },
    #[error("field {field}: expected {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("field {field} is missing")]
    MissingField { field: String },
    #[error("unknown field {key:?} in {field}")]
    UnknownField { field: String, key: String },
    #[error("field {field}: keys out of canonical order ({key:?} after {prev:?})")]
    KeyOrder {
        field: String,
        prev: String,
        key: String,
    },
    #[error("unsupported manifest format version {found} (this reader supports {FORMAT_VERSION})")]
    UnsupportedVersion { found: u64 },
    #[error("chunk_size: {0}")]
    ChunkSize(#[from] ChunkSizeError),
    #[error("name {name:?}: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("files[{index}].path {path:?}: {reason}")]
    BadPath {
        index: usize,
        path: String,
        reason: PathError,
    },
    #[error("files[{index}].path {path:?} sorts before the previous path {prev:?}: files must be sorted by the UTF-8 bytes of their path")]
    UnsortedPaths {
        index: usize,
        prev: String,
        path: String,
    },
    #[error("files[{index}].path {path:?} is listed twice")]
    DuplicatePath { index: usize, path: String },
    #[error("{path:?} is a file, but {child:?} needs it to be a directory")]
    PathConflict { path: String, child: String },
    #[error("{path:?} and {other:?} are the same file on a case-insensitive or normalising file system (macOS, Windows)")]
    PathCollision { path: String, other: String },
    #[error("{field}: expected a {expected}-byte digest, found {found} bytes")]
    DigestLength {
        field: String,
        expected: usize,
        found: usize,
    },
    #[error("{path}: a file of {size} bytes at chunk size {chunk_size} needs {expected} chunk value(s), found {found}")]
    ChunkCount {
        path: String,
        size: u64,
        chunk_size: u64,
        expected: u64,
        found: u64,
    },
    #[error("{path}: unknown tensor file type {found:?} (expected \"safetensors\" or \"gguf\")")]
    FileType { path: String, found: String },
    #[error("{path}: {field} is present without the other tensor fields (type, header, tensors go together)")]
    PartialTensorFields { path: String, field: &'static str },
    #[error("{path}: tensor {name:?}: {detail}")]
    BadTensor {
        path: String,
        name: String,
        detail: String,
    },
    #[error("tensor_digest is {found}, but the files' tensors give {computed}")]
    TensorDigestMismatch { found: Digest, computed: Digest },
    #[error("metadata_digest is {found}, but the files' metadata give {computed}")]
    MetadataDigestMismatch { found: Digest, computed: Digest },
    #[error("metadata_digest is missing although tensor files record metadata")]
    MetadataDigestMissing,
    #[error("metadata_digest is present although no tensor file records metadata")]
    MetadataDigestUnexpected,
    #[error("{field}: key {key:?} does not sort after {prev:?}: metadata keys must be unique and sorted by their UTF-8 bytes")]
    MetadataOrder {
        field: String,
        prev: String,
        key: String,
    },
    #[error("tensor_digest is missing although files record tensors")]
    TensorDigestMissing,
    #[error("tensor_digest is present although no file records tensors")]
    TensorDigestUnexpected,
    #[error("{path}: chunk values merge to {merged}, but blake3 says {root}")]
    ChunkRootMismatch {
        path: String,
        root: Digest,
        merged: Digest,
    },
}

impl ManifestError {
    /// A stable short code for each kind of rejection (the `error:` line of test vectors).
    pub fn code(&self) -> &'static str {
        use ManifestError::*;
        match self {
            Io { .. } => "io",
            TooLarge { .. } => "too-large",
            Empty => "empty",
            Truncated { .. } => "truncated",
            Malformed { .. } => "malformed-cbor",
            UnsupportedItem { .. } => "unsupported-item",
            NonCanonical { .. } => "non-canonical",
            TooDeep { .. } => "too-deep",
            TrailingBytes { .. } => "trailing-bytes",
            WrongType { .. } => "wrong-type",
            MissingField { .. } => "missing-field",
            UnknownField { .. } => "unknown-field",
            KeyOrder { .. } => "key-order",
            UnsupportedVersion { .. } => "unsupported-version",
            ChunkSize(_) => "bad-chunk-size",
            BadName { .. } => "bad-name",
            BadPath { .. } => "bad-path",
            UnsortedPaths { .. } => "unsorted-paths",
            DuplicatePath { .. } => "duplicate-path",
            PathConflict { .. } => "path-conflict",
            PathCollision { .. } => "path-collision",
            DigestLength { .. } => "digest-length",
            ChunkCount { .. } => "chunk-count",
            ChunkRootMismatch { .. } => "chunk-root-mismatch",
            FileType { .. } => "file-type",
            PartialTensorFields { .. } => "partial-tensor-fields",
            BadTensor { .. } => "bad-tensor",
            TensorDigestMismatch { .. } => "tensor-digest-mismatch",
            TensorDigestMissing => "missing-field",
            TensorDigestUnexpected => "unexpected-tensor-digest",
            MetadataDigestMismatch { .. } => "metadata-digest-mismatch",
            MetadataDigestMissing => "missing-field",
            MetadataDigestUnexpected => "unexpected-metadata-digest",
            MetadataOrder { .. } => "metadata-order",
        }
    }
}

/// The rules for a file's tensor fields: header inside the file; tensors sorted by (start,
/// name), inside `header_len..size`, disjoint, with unique names and non-empty dtypes.
fn check_tensor_file(f: &FileEntry, tf: &TensorFile) -> Result<(), ManifestError> {
    let path = f.path.to_string();
    let bad = |name: &str, detail: String| ManifestError::BadTensor {
        path: path.clone(),
        name: name.to_string(),
        detail,
    };
    if tf.header_len > f.tree.size {
        return Err(bad(
            "",
            format!(
                "header length {} exceeds the file size {}",
                tf.header_len, f.tree.size
            ),
        ));
    }
    let mut names = HashSet::with_capacity(tf.tensors.len());
    let mut prev: Option<&Tensor> = None;
    let mut last_end = tf.header_len;
    for t in &tf.tensors {
        if !names.insert(t.name.as_str()) {
            return Err(bad(&t.name, "listed twice in this file".into()));
        }
        if t.dtype.is_empty() {
            return Err(bad(&t.name, "empty dtype".into()));
        }
        if t.start > t.end || t.start < tf.header_len || t.end > f.tree.size {
            return Err(bad(
                &t.name,
                format!(
                    "byte range {}..{} is not inside {}..{}",
                    t.start, t.end, tf.header_len, f.tree.size
                ),
            ));
        }
        if let Some(p) = prev {
            if (p.start, p.name.as_bytes()) >= (t.start, t.name.as_bytes()) {
                return Err(bad(
                    &t.name,
                    format!(
                        "listed after {:?}: tensors must be sorted by start offset, then name",
                        p.name
                    ),
                ));
            }
        }
        if t.end > t.start {
            if t.start < last_end {
                return Err(bad(
                    &t.name,
                    format!(
                        "bytes {}..{} overlap the previous tensor, which ends at {last_end}",
                        t.start, t.end
                    ),
                ));
            }
            last_end = t.end;
        }
        prev = Some(t);
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ManifestError> {
    let reason = if name.is_empty() {
        "must not be empty"
    } else if name.len() > MAX_NAME_LEN {
        "longer than 1024 bytes"
    } else if name.chars().any(char::is_control) {
        "contains a control character"
    } else if name.chars().any(crate::path::is_format_char) {
        "contains a Unicode format character (bidirectional override, zero-width or similar)"
    } else {
        return Ok(());
    };
    Err(ManifestError::BadName {
        name: name.chars().take(80).collect(),
        reason,
    })
}

impl Manifest {
    /// Checks every manifest rule except encoding: name, sorted unique paths, no path that is
    /// both a file and a directory, chunk lists of the right length that merge to the root.
    pub fn new(
        name: String,
        chunk_size: ChunkSize,
        files: Vec<FileEntry>,
    ) -> Result<Manifest, ManifestError> {
        check_name(&name)?;
        let cs = chunk_size.get();
        let mut seen: HashSet<&str> = HashSet::with_capacity(files.len());
        for (index, f) in files.iter().enumerate() {
            if index > 0 {
                let prev = files[index - 1].path.as_str();
                let path = f.path.as_str();
                match prev.as_bytes().cmp(path.as_bytes()) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => {
                        return Err(ManifestError::DuplicatePath {
                            index,
                            path: path.to_string(),
                        })
                    }
                    std::cmp::Ordering::Greater => {
                        return Err(ManifestError::UnsortedPaths {
                            index,
                            prev: prev.to_string(),
                            path: path.to_string(),
                        })
                    }
                }
            }
            seen.insert(f.path.as_str());
            let t = &f.tree;
            let expected = if t.size <= cs {
                0
            } else {
                chunk_size.group_count(t.size)
            };
            if t.chunks.len() as u64 != expected {
                return Err(ManifestError::ChunkCount {
                    path: f.path.to_string(),
                    size: t.size,
                    chunk_size: cs,
                    expected,
                    found: t.chunks.len() as u64,
                });
            }
            if let Some(merged) = tree::root_from_chunks(&t.chunks) {
                if merged != t.root {
                    return Err(ManifestError::ChunkRootMismatch {
                        path: f.path.to_string(),
                        root: t.root,
                        merged,
                    });
                }
            }
        }
        for f in &files {
            if let Some(parent) = f.path.parents().find(|p| seen.contains(p)) {
                return Err(ManifestError::PathConflict {
                    path: parent.to_string(),
                    child: f.path.to_string(),
                });
            }
        }
        // The same checks on folded paths: two files that one case-insensitive, normalising
        // file system would store as one, or a file that another's folded parent would be.
        let mut folded: HashMap<String, &str> = HashMap::new();
        for f in &files {
            if let Some(other) = folded.insert(crate::path::fold(f.path.as_str()), f.path.as_str())
            {
                return Err(ManifestError::PathCollision {
                    path: other.to_string(),
                    other: f.path.to_string(),
                });
            }
        }
        for f in &files {
            if let Some(file) = f
                .path
                .parents()
                .find_map(|p| folded.get(&crate::path::fold(p)))
            {
                return Err(ManifestError::PathCollision {
                    path: file.to_string(),
                    other: f.path.to_string(),
                });
            }
        }
        for f in &files {
            if let Some(tf) = &f.tensors {
                check_tensor_file(f, tf)?;
            }
        }
        let tensor_files: Vec<&TensorFile> =
            files.iter().filter_map(|f| f.tensors.as_ref()).collect();
        let tensor_digest = if tensor_files.is_empty() {
            None
        } else {
            Some(tensor_set_digest(
                tensor_files.iter().flat_map(|t| &t.tensors),
            ))
        };
        let recorded: Vec<&Vec<MetadataEntry>> = tensor_files
            .iter()
            .filter_map(|t| t.metadata.as_ref())
            .collect();
        let metadata_digest = if recorded.is_empty() {
            None
        } else {
            Some(metadata_set_digest(recorded.into_iter().flatten()))
        };
        Ok(Manifest {
            name,
            chunk_size,
            files,
            tensor_digest,
            metadata_digest,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tensor-set digest over every recorded tensor of every file, when any file records
    /// tensors.
    pub fn tensor_digest(&self) -> Option<Digest> {
        self.tensor_digest
    }

    /// The model-wide metadata digest ([`metadata_set_digest`]), when any tensor file records
    /// its metadata.
    pub fn metadata_digest(&self) -> Option<Digest> {
        self.metadata_digest
    }

    /// Every recorded tensor with the path of its file.
    pub fn tensors(&self) -> impl Iterator<Item = (&ModelPath, &Tensor)> {
        self.files
            .iter()
            .filter_map(|f| f.tensors.as_ref().map(|t| (&f.path, t)))
            .flat_map(|(p, t)| t.tensors.iter().map(move |x| (p, x)))
    }

    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// Files, sorted by the UTF-8 bytes of their path.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The file at `path`, if listed.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.path.as_str().as_bytes().cmp(path.as_bytes()))
            .ok()
            .map(|i| &self.files[i])
    }

    /// Total bytes of all files.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.tree.size).sum()
    }

    /// The one canonical encoding (spec/manifest.md, "Encoding").
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.map(
            4 + usize::from(self.tensor_digest.is_some())
                + usize::from(self.metadata_digest.is_some()),
        );
        w.text("name");
        w.text(&self.name);
        w.text("files");
        w.array(self.files.len());
        for f in &self.files {
            let tf = f.tensors.as_ref();
            let pairs = 3
                + usize::from(!f.tree.chunks.is_empty())
                + usize::from(f.sha256.is_some())
                + if tf.is_some() { 3 } else { 0 }
                + usize::from(tf.is_some_and(|t| t.metadata.is_some()));
            w.map(pairs);
            w.text("path");
            w.text(f.path.as_str());
            w.text("size");
            w.uint(f.tree.size);
            if let Some(tf) = tf {
                w.text("type");
                w.text(tf.format.as_str());
            }
            w.text("blake3");
            w.bytes(&f.tree.root.0);
            if !f.tree.chunks.is_empty() {
                w.text("chunks");
                w.array(f.tree.chunks.len());
                for c in &f.tree.chunks {
                    w.bytes(&c.0);
                }
            }
            if let Some(tf) = tf {
                w.text("header");
                w.array(2);
                w.uint(tf.header_len);
                w.bytes(&tf.header.0);
            }
            if let Some(sha) = &f.sha256 {
                w.text("sha256");
                w.bytes(&sha.0);
            }
            if let Some(tf) = tf {
                w.text("tensors");
                w.array(tf.tensors.len());
                for t in &tf.tensors {
                    w.array(6);
                    w.text(&t.name);
                    w.text(&t.dtype);
                    w.array(t.shape.len());
                    for &d in &t.shape {
                        w.uint(d);
                    }
                    w.uint(t.start);
                    w.uint(t.end);
                    w.bytes(&t.digest.0);
                }
                if let Some(md) = &tf.metadata {
                    w.text("metadata");
                    w.array(md.len());
                    for e in md {
                        w.array(2);
                        w.text(&e.key);
                        w.bytes(&e.digest.0);
                    }
                }
            }
        }
        w.text("format");
        w.uint(FORMAT_VERSION);
        w.text("chunk_size");
        w.uint(self.chunk_size.get());
        if let Some(d) = &self.tensor_digest {
            w.text("tensor_digest");
            w.bytes(&d.0);
        }
        if let Some(d) = &self.metadata_digest {
            w.text("metadata_digest");
            w.bytes(&d.0);
        }
        w.out
    }

    /// The manifest digest: BLAKE3 of the canonical encoding. The model's identity.
    pub fn digest(&self) -> Digest {
        blake3::hash(&self.encode()).into()
    }

    /// Decodes and validates a manifest, accepting only its one canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if bytes.len() as u64 > MAX_MANIFEST_LEN {
            return Err(ManifestError::TooLarge {
                len: bytes.len() as u64,
                max: MAX_MANIFEST_LEN,
            });
        }
        precheck(bytes)?;
        // Typed, lazily: no value tree is built, and the first item of a wrong type ends the
        // decoding before anything is allocated for the rest.
        let (value, _) = cbor::read_item(bytes, 0).map_err(malformed)?;
        let m = from_value(value)?;
        let again = m.encode();
        if again != bytes {
            let offset = again
                .iter()
                .zip(bytes)
                .position(|(a, b)| a != b)
                .unwrap_or(again.len().min(bytes.len()));
            return Err(ManifestError::NonCanonical {
                offset,
                detail: "the bytes differ from the canonical re-encoding of the same manifest"
                    .into(),
            });
        }
        Ok(m)
    }

    /// Reads and decodes a manifest file, refusing files larger than [`MAX_MANIFEST_LEN`]
    /// before reading them.
    pub fn read_file(path: &Path) -> Result<Manifest, ManifestError> {
        let io_err = |source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = File::open(path).map_err(io_err)?;
        let len = f.metadata().map_err(io_err)?.len();
        if len > MAX_MANIFEST_LEN {
            return Err(ManifestError::TooLarge {
                len,
                max: MAX_MANIFEST_LEN,
            });
        }
        let mut bytes = Vec::with_capacity(len as usize);
        f.take(MAX_MANIFEST_LEN + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        Manifest::decode(&bytes)
    }
}

/// Walks the raw bytes once before any decoding: every head uses the shortest form and a
/// definite length, only the allowed major types appear, text is UTF-8, no declared length
/// exceeds the bytes that remain (so nothing is allocated for a length that is not there),
/// nesting is bounded, and exactly one item fills the input.
fn precheck(b: &[u8]) -> Result<(), ManifestError> {
    if b.is_empty() {
        return Err(ManifestError::Empty);
    }
    // Number of items still expected at each open nesting level.
    let mut pending: Vec<u64> = vec![1];
    let mut pos = 0usize;
    while let Some(top) = pending.last_mut() {
        if *top == 0 {
            pending.pop();
            continue;
        }
        *top -= 1;
        let start = pos;
        let (major, arg) = read_head(b, &mut pos)?;
        let remaining = b.len() - pos;
        match major {
            0 => {}
            2 | 3 => {
                if arg > remaining as u64 {
                    return Err(ManifestError::Truncated {
                        offset: start,
                        needed: arg,
                        available: remaining,
                    });
                }
                let end = pos + arg as usize;
                if major == 3 && std::str::from_utf8(&b[pos..end]).is_err() {
                    return Err(ManifestError::Malformed {
                        offset: start,
                        detail: "text string is not valid UTF-8".into(),
                    });
                }
                pos = end;
            }
            4 | 5 => {
                let items = if major == 5 {
                    arg.checked_mul(2)
                } else {
                    Some(arg)
                };
                match items {
                    Some(n) if n <= remaining as u64 => {
                        if pending.len() >= MAX_DEPTH {
                            return Err(ManifestError::TooDeep { offset: start });
                        }
                        pending.push(n);
                    }
                    _ => {
                        return Err(ManifestError::Truncated {
                            offset: start,
                            needed: arg,
                            available: remaining,
                        })
                    }
                }
            }
            1 => {
                return Err(ManifestError::UnsupportedItem {
                    offset: start,
                    found: "a negative integer",
                })
            }
            6 => {
                return Err(ManifestError::UnsupportedItem {
                    offset: start,
                    found: "a tag",
                })
            }
            _ => unreachable!("read_head rejects major type 7"),
        }
    }
    if pos != b.len() {
        return Err(ManifestError::TrailingBytes {
            offset: pos,
            count: b.len() - pos,
        });
    }
    Ok(())
}

/// Reads one CBOR head at `*pos`: (major type, argument). Rejects indefinite lengths,
/// reserved additional information, non-shortest arguments and major type 7.
fn read_head(b: &[u8], pos: &mut usize) -> Result<(u8, u64), ManifestError> {
    let start = *pos;
    let first = *b.get(start).ok_or(ManifestError::Truncated {
        offset: start,
        needed: 1,
        available: 0,
    })?;
    let major = first >> 5;
    let ai = first & 0x1f;
    if major == 7 {
        let found = match ai {
            20 | 21 => "a boolean",
            22 => "null",
            23 => "undefined",
            25..=27 => "a floating-point number",
            31 => "a break code",
            _ => "a simple value",
        };
        return Err(ManifestError::UnsupportedItem {
            offset: start,
            found,
        });
    }
    let width = match ai {
        0..=23 => {
            *pos += 1;
            return Ok((major, ai as u64));
        }
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => {
            return Err(ManifestError::NonCanonical {
                offset: start,
                detail: "indefinite-length item".into(),
            })
        }
        _ => {
            return Err(ManifestError::Malformed {
                offset: start,
                detail: format!("reserved additional information {ai}"),
            })
        }
    };
    let avail = b.len() - start - 1;
    if avail < width {
        return Err(ManifestError::Truncated {
            offset: start,
            needed: width as u64,
            available: avail,
        });
    }
    let arg = b[start + 1..start + 1 + width]
        .iter()
        .fold(0u64, |acc, &x| (acc << 8) | x as u64);
    let shortest = match width {
        1 => arg >= 24,
        2 => arg > 0xff,
        4 => arg > 0xffff,
        _ => arg > 0xffff_ffff,
    };
    if !shortest {
        return Err(ManifestError::NonCanonical {
            offset: start,
            detail: format!("argument {arg} is not encoded in its shortest form"),
        });
    }
    *pos = start + 1 + width;
    Ok((major, arg))
}

fn kind(v: &Item) -> &'static str {
    v.kind()
}

/// An item the structural pass accepted but that does not read back (never expected).
fn malformed(offset: usize) -> ManifestError {
    ManifestError::Malformed {
        offset,
        detail: "item does not match its head".into(),
    }
}

/// The items of an array, lazily, each checked as it is read.
fn each<'a>(seq: Seq<'a>) -> impl Iterator<Item = Result<Item<'a>, ManifestError>> {
    seq.items(false).map(|r| r.map_err(malformed))
}

/// Takes the fields of a map whose keys must be a subsequence of `keys` (in that, canonical,
/// order). Returns the values by position in `keys`.
fn fields<'a>(
    v: Item<'a>,
    field: &str,
    keys: &[&str],
) -> Result<Vec<Option<Item<'a>>>, ManifestError> {
    let entries = match v {
        Item::Map(m) => m,
        other => {
            return Err(ManifestError::WrongType {
                field: field.to_string(),
                expected: "a map",
                found: kind(&other),
            })
        }
    };
    let mut out: Vec<Option<Item>> = vec![None; keys.len()];
    let mut last: Option<usize> = None;
    let mut items = entries.items(true);
    while let Some(k) = items.next() {
        let k = k.map_err(malformed)?;
        let val = items
            .next()
            .ok_or_else(|| malformed(0))?
            .map_err(malformed)?;
        let key = match k {
            Item::Text(t) => t,
            other => {
                return Err(ManifestError::WrongType {
                    field: format!("{field} key"),
                    expected: "a text string",
                    found: kind(&other),
                })
            }
        };
        let Some(i) = keys.iter().position(|k| *k == key) else {
            return Err(ManifestError::UnknownField {
                field: field.to_string(),
                key: key.chars().take(200).collect(),
            });
        };
        if let Some(l) = last {
            if i <= l {
                return Err(ManifestError::KeyOrder {
                    field: field.to_string(),
                    prev: keys[l].to_string(),
                    key: key.to_string(),
                });
            }
        }
        last = Some(i);
        out[i] = Some(val);
    }
    Ok(out)
}

fn required<'a>(v: Option<Item<'a>>, field: &str) -> Result<Item<'a>, ManifestError> {
    v.ok_or_else(|| ManifestError::MissingField {
        field: field.to_string(),
    })
}

fn as_u64(v: Item, field: &str) -> Result<u64, ManifestError> {
    match v {
        Item::Uint(i) => Ok(i),
        other => Err(ManifestError::WrongType {
            field: field.to_string(),
            expected: "an unsigned integer",
            found: kind(&other),
        }),
    }
}

fn as_text(v: Item, field: &str) -> Result<String, ManifestError> {
    match v {
        Item::Text(t) => Ok(t.to_string()),
        other => Err(ManifestError::WrongType {
            field: field.to_string(),
            expected: "a text string",
            found: kind(&other),
        }),
    }
}

fn as_digest(v: Item, field: &str) -> Result<Digest, ManifestError> {
    match v {
        Item::Bytes(b) => {
            let found = b.len();
            b.try_into()
                .map(Digest)
                .map_err(|_| ManifestError::DigestLength {
                    field: field.to_string(),
                    expected: 32,
                    found,
                })
        }
        other => Err(ManifestError::WrongType {
            field: field.to_string(),
            expected: "a 32-byte byte string",
            found: kind(&other),
        }),
    }
}

fn from_value(v: Item) -> Result<Manifest, ManifestError> {
    let mut top = fields(
        v,
        "manifest",
        &[
            "name",
            "files",
            "format",
            "chunk_size",
            "tensor_digest",
            "metadata_digest",
        ],
    )?
    .into_iter();
    let (name, files, format, chunk_size, tensor_digest, metadata_digest) = (
        top.next().flatten(),
        top.next().flatten(),
        top.next().flatten(),
        top.next().flatten(),
        top.next().flatten(),
        top.next().flatten(),
    );
    let format = as_u64(required(format, "format")?, "format")?;
    if format != FORMAT_VERSION {
        return Err(ManifestError::UnsupportedVersion { found: format });
    }
    let name = as_text(required(name, "name")?, "name")?;
    let chunk_size = ChunkSize::new(as_u64(required(chunk_size, "chunk_size")?, "chunk_size")?)?;
    let files = match required(files, "files")? {
        Item::Array(a) => a,
        other => {
            return Err(ManifestError::WrongType {
                field: "files".into(),
                expected: "an array",
                found: kind(&other),
            })
        }
    };
    // Grown as entries are accepted, never sized by the count the input declares.
    let mut out = Vec::new();
    for (index, f) in each(files).enumerate() {
        let f = f?;
        let field = format!("files[{index}]");
        let mut it = fields(
            f,
            &field,
            &[
                "path", "size", "type", "blake3", "chunks", "header", "sha256", "tensors",
                "metadata",
            ],
        )?
        .into_iter();
        let mut next = || it.next().flatten();
        let (path, size, ftype, root, chunks, header, sha256, tensors, metadata) = (
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
        );
        let path_field = format!("{field}.path");
        let path_text = as_text(required(path, &path_field)?, &path_field)?;
        let path = ModelPath::new(&path_text).map_err(|reason| ManifestError::BadPath {
            index,
            path: path_text.clone(),
            reason,
        })?;
        let size = as_u64(
            required(size, &format!("{field}.size"))?,
            &format!("{field}.size"),
        )?;
        let root = as_digest(
            required(root, &format!("{field}.blake3"))?,
            &format!("{field}.blake3"),
        )?;
        let chunks = match chunks {
            None => Vec::new(),
            Some(Item::Array(a)) => each(a)
                .enumerate()
                .map(|(i, c)| as_digest(c?, &format!("{field}.chunks[{i}]")))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(ManifestError::WrongType {
                    field: format!("{field}.chunks"),
                    expected: "an array",
                    found: kind(&other),
                })
            }
        };
        let sha256 = sha256
            .map(|v| as_digest(v, &format!("{field}.sha256")))
            .transpose()?;
        let tensors = match (ftype, header, tensors) {
            (None, None, None) => {
                if metadata.is_some() {
                    return Err(ManifestError::PartialTensorFields {
                        path: path.to_string(),
                        field: "type",
                    });
                }
                None
            }
            (Some(t), Some(h), Some(ts)) => {
                let mut tf = tensor_file_from_value(&field, &path, t, h, ts)?;
                tf.metadata = metadata
                    .map(|m| metadata_from_value(&field, m))
                    .transpose()?;
                Some(tf)
            }
            (t, h, _) => {
                let missing = if t.is_none() {
                    "type"
                } else if h.is_none() {
                    "header"
                } else {
                    "tensors"
                };
                return Err(ManifestError::PartialTensorFields {
                    path: path.to_string(),
                    field: missing,
                });
            }
        };
        out.push(FileEntry {
            path,
            tree: FileTree { size, root, chunks },
            sha256,
            tensors,
        });
    }
    let m = Manifest::new(name, chunk_size, out)?;
    match (tensor_digest, m.tensor_digest) {
        (None, None) => {}
        (Some(v), Some(computed)) => {
            let found = as_digest(v, "tensor_digest")?;
            if found != computed {
                return Err(ManifestError::TensorDigestMismatch { found, computed });
            }
        }
        (None, Some(_)) => return Err(ManifestError::TensorDigestMissing),
        (Some(_), None) => return Err(ManifestError::TensorDigestUnexpected),
    }
    match (metadata_digest, m.metadata_digest) {
        (None, None) => {}
        (Some(v), Some(computed)) => {
            let found = as_digest(v, "metadata_digest")?;
            if found != computed {
                return Err(ManifestError::MetadataDigestMismatch { found, computed });
            }
        }
        (None, Some(_)) => return Err(ManifestError::MetadataDigestMissing),
        (Some(_), None) => return Err(ManifestError::MetadataDigestUnexpected),
    }
    Ok(m)
}

/// `metadata`: `[[key, digest], …]`, keys strictly increasing by bytes.
fn metadata_from_value(field: &str, v: Item) -> Result<Vec<MetadataEntry>, ManifestError> {
    let mf = format!("{field}.metadata");
    let mut out: Vec<MetadataEntry> = Vec::new();
    for (i, e) in each(as_array(v, &mf)?).enumerate() {
        let ef = format!("{mf}[{i}]");
        let mut pair = as_tuple(e?, &ef, 2, "an array [key, digest]")?.into_iter();
        let key = as_text(pair.next().expect("two items"), &format!("{ef}[0]"))?;
        let digest = as_digest(pair.next().expect("two items"), &format!("{ef}[1]"))?;
        if let Some(prev) = out.last() {
            if prev.key.as_bytes() >= key.as_bytes() {
                return Err(ManifestError::MetadataOrder {
                    field: ef,
                    prev: prev.key.chars().take(200).collect(),
                    key: key.chars().take(200).collect(),
                });
            }
        }
        out.push(MetadataEntry { key, digest });
    }
    Ok(out)
}

fn as_array<'a>(v: Item<'a>, field: &str) -> Result<Seq<'a>, ManifestError> {
    match v {
        Item::Array(a) => Ok(a),
        other => Err(ManifestError::WrongType {
            field: field.to_string(),
            expected: "an array",
            found: kind(&other),
        }),
    }
}

/// An array of exactly `n` items.
fn as_tuple<'a>(
    v: Item<'a>,
    field: &str,
    n: u64,
    expected: &'static str,
) -> Result<Vec<Item<'a>>, ManifestError> {
    let a = as_array(v, field)?;
    if a.len() != n {
        return Err(ManifestError::WrongType {
            field: field.to_string(),
            expected,
            found: "an array of another length",
        });
    }
    each(a).collect()
}

fn tensor_file_from_value(
    field: &str,
    path: &ModelPath,
    ftype: Item,
    header: Item,
    tensors: Item,
) -> Result<TensorFile, ManifestError> {
    let tname = as_text(ftype, &format!("{field}.type"))?;
    let format = Format::from_name(&tname).ok_or_else(|| ManifestError::FileType {
        path: path.to_string(),
        found: tname.clone(),
    })?;
    let hf = format!("{field}.header");
    let mut h = as_tuple(header, &hf, 2, "an array [length, digest]")?.into_iter();
    let header_len = as_u64(h.next().expect("two items"), &format!("{hf}[0]"))?;
    let header = as_digest(h.next().expect("two items"), &format!("{hf}[1]"))?;
    let list = as_array(tensors, &format!("{field}.tensors"))?;
    let mut out = Vec::new();
    for (i, t) in each(list).enumerate() {
        let t = t?;
        let tf = format!("{field}.tensors[{i}]");
        let mut it = as_tuple(
            t,
            &tf,
            6,
            "an array [name, dtype, shape, start, end, blake3]",
        )?
        .into_iter();
        let mut next = || it.next().expect("six items");
        let name = as_text(next(), &format!("{tf}[0]"))?;
        let dtype = as_text(next(), &format!("{tf}[1]"))?;
        let shape = each(as_array(next(), &format!("{tf}[2]"))?)
            .enumerate()
            .map(|(j, d)| as_u64(d?, &format!("{tf}[2][{j}]")))
            .collect::<Result<_, _>>()?;
        let start = as_u64(next(), &format!("{tf}[3]"))?;
        let end = as_u64(next(), &format!("{tf}[4]"))?;
        let digest = as_digest(next(), &format!("{tf}[5]"))?;
        out.push(Tensor {
            name,
            dtype,
            shape,
            start,
            end,
            digest,
        });
    }
    Ok(TensorFile {
        format,
        header_len,
        header,
        tensors: out,
        metadata: None,
    })
}

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
    let claimed = match tensors {
        Tensors::Record => Format::claimed_by(path),
        Tensors::Skip => None,
    };
    let (layout, format_error) = match claimed.map(|fmt| (fmt, formats::parse(&f, size, fmt))) {
        None => (None, None),
        Some((_, Ok(l))) => (Some(l), None),
        Some((fmt, Err(e))) => (None, Some((fmt, e))),
    };
    let (tree, sha256, tensors) =
        hash_with_layout(&f, size, cs, sha256, layout.as_ref(), progress)?;
    Ok(Hashed {
        tree,
        sha256,
        tensors,
        format_error,
    })
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
    let entries = walk::walk(dir, opts.symlinks, &opts.exclude)?;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => dir
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
            let warning = h
                .format_error
                .map(|(format, error)| BuildWarning::NotParsed {
                    path: path.to_string(),
                    format,
                    error,
                });
            Ok((
                FileEntry {
                    path,
                    tree: h.tree,
                    sha256: h.sha256,
                    tensors: h.tensors,
                },
                warning,
            ))
        })
        .collect::<Result<_, BuildError>>()?;
    let (entries, warnings): (Vec<FileEntry>, Vec<Option<BuildWarning>>) =
        hashed.into_iter().unzip();
    let manifest = Manifest::new(name, opts.chunk_size, entries)?;
    let mut warnings: Vec<BuildWarning> = warnings.into_iter().flatten().collect();
    if opts.tensors == Tensors::Record {
        warnings.extend(
            crate::index::check_dir(dir, &manifest)
                .into_iter()
                .map(BuildWarning::Index),
        );
    }
    Ok(Built { manifest, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    fn sample() -> Manifest {
        let cs = ChunkSize::new(16384).unwrap();
        let data: Vec<u8> = (0..40000u32).map(|i| (i % 251) as u8).collect();
        let files = vec![
            FileEntry {
                path: ModelPath::new("a/config.json").unwrap(),
                tree: tree::hash_bytes(b"{}", cs),
                sha256: None,
                tensors: None,
            },
            FileEntry {
                path: ModelPath::new("model.safetensors").unwrap(),
                tree: tree::hash_bytes(&data, cs),
                sha256: Some(Digest([7; 32])),
                tensors: None,
            },
        ];
        Manifest::new("demo".into(), cs, files).unwrap()
    }

    #[test]
    fn round_trip_is_byte_exact() {
        let m = sample();
        let b = m.encode();
        assert_eq!(Manifest::decode(&b).unwrap(), m);
        assert_eq!(m.digest(), Digest::from(blake3::hash(&b)));
    }

    #[test]
    fn rejects_trailing_bytes_and_bombs() {
        let mut b = sample().encode();
        b.push(0);
        let e = Manifest::decode(&b).unwrap_err();
        assert!(
            matches!(e, ManifestError::TrailingBytes { count: 1, .. }),
            "{e}"
        );
        // A map claiming 2^32 entries in 9 bytes.
        let e = Manifest::decode(&[0xbb, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap_err();
        assert!(
            matches!(
                e,
                ManifestError::Truncated {
                    needed: 4294967296,
                    ..
                }
            ),
            "{e}"
        );
        // A byte string claiming 2^60 bytes.
        let e = Manifest::decode(&[0x5b, 0x10, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
        assert!(
            matches!(
                e,
                ManifestError::Truncated {
                    needed: 0x1000_0000_0000_0000,
                    ..
                }
            ),
            "{e}"
        );
        // Deep nesting.
        let e = Manifest::decode(&[0x81; 64]).unwrap_err();
        assert!(matches!(e, ManifestError::TooDeep { .. }), "{e}");
    }

    #[test]
    fn build_hashes_a_directory() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/x.bin"), vec![3u8; 50000]).unwrap();
        std::fs::write(d.path().join("config.json"), b"{}").unwrap();
        let opts = BuildOptions {
            chunk_size: ChunkSize::new(16384).unwrap(),
            sha256: Sha256::Record,
            name: Some("m".into()),
            ..Default::default()
        };
        let m = build(d.path(), &opts, &NoProgress).unwrap().manifest;
        assert_eq!(m.files().len(), 2);
        assert_eq!(m.files()[1].path.as_str(), "sub/x.bin");
        assert_eq!(m.files()[1].tree.chunks.len(), 4);
        assert_eq!(
            m.files()[1].tree.root,
            Digest::from(blake3::hash(&[3u8; 50000]))
        );
        use sha2::Digest as _;
        assert_eq!(
            m.files()[0].sha256.unwrap().0,
            <[u8; 32]>::from(sha2::Sha256::digest(b"{}"))
        );
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn build_refuses_symlinks_by_name() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("l")).unwrap();
        let opts = BuildOptions {
            name: Some("m".into()),
            ..Default::default()
        };
        match build(d.path(), &opts, &NoProgress) {
            Err(BuildError::Refused {
                name,
                reason: Refusal::Symlink,
            }) => assert_eq!(name, "l"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn new_rejects_path_conflicts() {
        let cs = ChunkSize::new(16384).unwrap();
        let t = tree::hash_bytes(b"x", cs);
        let files = ["a", "a/b"]
            .iter()
            .map(|p| FileEntry {
                path: ModelPath::new(p).unwrap(),
                tree: t.clone(),
                sha256: None,
                tensors: None,
            })
            .collect();
        let e = Manifest::new("m".into(), cs, files).unwrap_err();
        assert!(
            matches!(&e, ManifestError::PathConflict { path, child } if path == "a" && child == "a/b"),
            "{e}"
        );
    }
}
