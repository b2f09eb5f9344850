//! Tensor file formats (spec/manifest.md, "Tensor files"): which files hold tensors, and where
//! each tensor's bytes are.
//!
//! A parser reads only a file's header, treats it as hostile (every length is checked against
//! the bytes that exist before anything is allocated, all arithmetic is checked) and returns a
//! [`Layout`]: the header's length and every tensor's name, dtype, shape and absolute byte
//! range. Hashing those ranges is the tree's job (`tree::hash_file_regions`).

pub mod gguf;
pub mod safetensors;

use std::fs::File;
use std::path::Path;

/// A tensor file format weightseal understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Safetensors,
    Gguf,
}

impl Format {
    /// The name used in manifests: `safetensors` or `gguf`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
        }
    }

    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "safetensors" => Some(Format::Safetensors),
            "gguf" => Some(Format::Gguf),
            _ => None,
        }
    }

    /// The format a file claims by its name: `*.safetensors` or `*.gguf`.
    pub fn claimed_by(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "safetensors" => Some(Format::Safetensors),
            "gguf" => Some(Format::Gguf),
            _ => None,
        }
    }
}

/// One tensor as its file's header describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// The format's own type name: `BF16`, `F32`, … (safetensors) or `Q4_K`, `F16`, … (GGUF).
    pub dtype: String,
    /// As the header gives it: outermost dimension first for safetensors; GGUF's `ne` order
    /// (innermost first) for GGUF.
    pub shape: Vec<u64>,
    /// Absolute byte range in the file.
    pub start: u64,
    pub end: u64,
}

/// Where a tensor file's header and tensors are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub format: Format,
    /// The header is bytes `0..header_len` (for GGUF including the padding up to the data
    /// section).
    pub header_len: u64,
    /// Sorted by start offset, then by name bytes.
    pub tensors: Vec<TensorInfo>,
    /// The header's metadata that is content, not layout (spec/manifest.md, "Tensor-file
    /// metadata"): each key with the digest of its value, sorted by key bytes.
    pub metadata: Vec<MetadataEntry>,
    /// A GGUF file's `general.name` (a string of at most 1024 bytes of UTF-8), if it has one.
    pub general_name: Option<String>,
}

/// One metadata key of a tensor file and the digest of its typed value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetadataEntry {
    pub key: String,
    pub digest: crate::Digest,
}

/// GGUF keys that only describe the file's layout (where bytes are), not the model: left out
/// of the metadata so that re-aligned or re-split copies compare equal.
pub const LAYOUT_KEYS: &[&str] = &[
    "general.alignment",
    "split.no",
    "split.count",
    "split.tensors.count",
];

/// Domain prefix of a metadata entry digest.
pub const METADATA_DOMAIN: &[u8] = b"weightseal-metadata-v1\0";

/// Starts the digest of metadata entry `key` whose value has GGUF type `value_type`; the
/// value's bytes as GGUF encodes them follow.
pub fn metadata_hasher(key: &str, value_type: u32) -> blake3::Hasher {
    let mut h = blake3::Hasher::new();
    h.update(METADATA_DOMAIN);
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(&value_type.to_le_bytes());
    h
}

/// The digest of a string-valued metadata entry (a safetensors `__metadata__` value): the same
/// as a GGUF string value (type 8, 8-byte little-endian length, UTF-8 bytes).
pub fn metadata_string_digest(key: &str, value: &str) -> crate::Digest {
    let mut h = metadata_hasher(key, 8);
    h.update(&(value.len() as u64).to_le_bytes());
    h.update(value.as_bytes());
    h.finalize().into()
}

/// Why a file that claims a format could not be parsed as one.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a valid safetensors file: {0}")]
    Safetensors(#[from] safetensors::SafetensorsError),
    #[error("not a valid GGUF file: {0}")]
    Gguf(#[from] gguf::GgufError),
}

impl FormatError {
    /// A stable short code for each kind of rejection.
    pub fn code(&self) -> &'static str {
        match self {
            FormatError::Safetensors(e) => e.code(),
            FormatError::Gguf(e) => e.code(),
        }
    }
}

/// Most tensors read from one file (safetensors entries or GGUF tensor infos): above any real
/// checkpoint shard, and it bounds what a hostile header can make a reader allocate.
pub const MAX_TENSORS: usize = 1 << 18;

/// Parses the header of `file` (of `size` bytes) as `format`.
pub fn parse(file: &File, size: u64, format: Format) -> Result<Layout, FormatError> {
    Ok(match format {
        Format::Safetensors => safetensors::parse(file, size)?,
        Format::Gguf => gguf::parse(file, size)?,
    })
}

/// [`parse`] of a whole file held in memory (tests and fuzzing).
pub fn parse_slice(bytes: &[u8], format: Format) -> Result<Layout, FormatError> {
    Ok(match format {
        Format::Safetensors => safetensors::parse_slice(bytes)?,
        Format::Gguf => gguf::parse_slice(bytes)?,
    })
}

/// [`parse`], refusing a safetensors header longer than `max_header` bytes before reading it
/// (GGUF headers are read in bounded pieces whatever their length).
pub fn parse_limited(
    file: &File,
    size: u64,
    format: Format,
    max_header: u64,
) -> Result<Layout, FormatError> {
    Ok(match format {
        Format::Safetensors => safetensors::parse_limited(file, size, max_header)?,
        Format::Gguf => gguf::parse(file, size)?,
    })
}

/// Sorts tensors by (start, name bytes) and checks that no two overlap. Zero-length tensors may
/// sit anywhere. Returns the names of the first overlapping pair.
pub(crate) fn sort_and_check_overlap(tensors: &mut [TensorInfo]) -> Result<(), (String, String)> {
    tensors.sort_by(|a, b| (a.start, a.name.as_bytes()).cmp(&(b.start, b.name.as_bytes())));
    let mut last: Option<&TensorInfo> = None;
    for t in tensors.iter().filter(|t| t.end > t.start) {
        if let Some(p) = last {
            if t.start < p.end {
                return Err((p.name.clone(), t.name.clone()));
            }
        }
        last = Some(t);
    }
    Ok(())
}
