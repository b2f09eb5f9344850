//! The manifest: what a model directory contains, as deterministic CBOR (spec/manifest.md).
//!
//! This module owns the [`Manifest`] type, which can only hold a valid manifest (sorted,
//! unique, well-formed paths; chunk lists that match sizes and merge to their roots; tensor and
//! metadata rules), and the tensor-set and metadata-set digests. `codec` holds its one
//! canonical encoding and the strict decoder; `build` builds a manifest by hashing a directory.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;

use crate::cbor::Writer;
use crate::digest::Digest;
use crate::formats::{self, Format, MetadataEntry};
use crate::path::{ModelPath, PathError};
use crate::tree::{self, ChunkSize, ChunkSizeError, FileTree};

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

/// The name rule (spec/manifest.md, "Fields"): what every manifest's model name meets.
pub(crate) fn check_name(name: &str) -> Result<(), ManifestError> {
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

    /// The manifest as JSON (what `weightseal show --json` prints): every file with its size,
    /// BLAKE3, chunk values, SHA-256 and tensors, all digests in lowercase hex.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let m = self;
        let files: Vec<serde_json::Value> = m
            .files()
            .iter()
            .map(|f| {
                let mut o = json!({
                    "path": f.path.as_str(),
                    "size": f.tree.size,
                    "blake3": f.tree.root.to_hex(),
                    "chunks": f.tree.chunks.iter().map(|c| c.to_hex()).collect::<Vec<_>>(),
                });
                if let Some(s) = f.sha256 {
                    o["sha256"] = json!(s.to_hex());
                }
                if let Some(tf) = &f.tensors {
                    o["type"] = json!(tf.format.as_str());
                    o["header"] = json!({"size": tf.header_len, "blake3": tf.header.to_hex()});
                    o["tensors"] = tf
                        .tensors
                        .iter()
                        .map(|t| {
                            json!({
                                "name": t.name,
                                "dtype": t.dtype,
                                "shape": t.shape,
                                "start": t.start,
                                "end": t.end,
                                "blake3": t.digest.to_hex(),
                            })
                        })
                        .collect();
                }
                o
            })
            .collect();
        let mut v = json!({
            "name": m.name(),
            "format": FORMAT_VERSION,
            "chunk_size": m.chunk_size().get(),
            "digest": m.digest().to_hex(),
            "total_size": m.total_size(),
            "files": files,
        });
        if let Some(d) = m.tensor_digest() {
            v["tensor_digest"] = json!(d.to_hex());
            v["tensor_count"] = json!(m.tensors().count());
        }
        v
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
}

mod build;
mod codec;
pub mod update;

pub use build::{build, BuildError, BuildOptions, BuildWarning, Built, Sha256, Tensors};
pub(crate) use build::{hash_path, hash_tensors_only, open_for_hashing};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use crate::walk::Refusal;

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
