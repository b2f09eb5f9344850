//! GGUF headers, versions 2 and 3 (spec/manifest.md, "GGUF").
//!
//! Layout (little-endian): magic `GGUF`, `u32` version, `u64` tensor count, `u64` metadata
//! count; metadata key/value pairs (13 value types, arrays nestable); tensor infos (name,
//! `u32` dimension count, `u64` dimensions, `u32` ggml type, `u64` offset); then, at the next
//! multiple of `general.alignment` (default 32), the data section. A tensor's byte length comes
//! from the ggml type table: `ne0 / block_size * type_size * ne1 * ne2 * ...`, with `ne0` a
//! multiple of the block size. Offsets are relative to the data section and must be aligned;
//! tensors must lie within the file and must not overlap.
//!
//! Every count and length is checked against the bytes left in the file before it is used, so
//! a hostile header cannot make the parser allocate or loop beyond the file's size.

use std::fs::File;
use std::io::{BufReader, Read};

use super::{Format, Layout, TensorInfo};

/// Deepest nesting of metadata arrays accepted.
const MAX_ARRAY_DEPTH: usize = 8;
/// Longest key or tensor name read into memory (values are skipped, not read).
const MAX_NAME_LEN: u64 = 1 << 16;
/// Most dimensions a tensor may have (GGML_MAX_DIMS).
const MAX_DIMS: u32 = 4;
const DEFAULT_ALIGNMENT: u64 = 32;

/// The ggml type table: (id, name, block size in elements, bytes per block), as in current
/// ggml (`ggml.c` `type_traits`, gguf-py `GGML_QUANT_SIZES`). Ids 4, 5 and 31-33, 36-38 were
/// removed from ggml and are not accepted.
pub const GGML_TYPES: &[(u32, &str, u64, u64)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
];

/// Looks up a ggml type id: (name, block size, bytes per block).
pub fn ggml_type(id: u32) -> Option<(&'static str, u64, u64)> {
    GGML_TYPES
        .iter()
        .find(|t| t.0 == id)
        .map(|t| (t.1, t.2, t.3))
}

/// Why a GGUF header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    #[error("bad magic {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: Vec<u8> },
    #[error("unsupported GGUF version {0} (versions 2 and 3 are supported)")]
    UnsupportedVersion(u32),
    #[error(
        "the header declares {n} tensors, more than the {} weightseal reads from one file",
        super::MAX_TENSORS
    )]
    TooManyTensors { n: u64 },
    #[error("{what}: a name of {len} bytes, more than the {MAX_NAME_LEN} allowed")]
    NameTooLong { what: String, len: u64 },
    #[error("header ends at byte {at} while reading {what}")]
    Truncated { at: u64, what: String },
    #[error("{what}: count {count} is impossible in the {remaining} bytes left in the file")]
    ImpossibleCount {
        what: String,
        count: u64,
        remaining: u64,
    },
    #[error("{what}: not valid UTF-8")]
    NotUtf8 { what: String },
    #[error("metadata {key:?}: unknown value type {value_type}")]
    BadValueType { key: String, value_type: u32 },
    #[error("metadata {key:?}: arrays nested deeper than {MAX_ARRAY_DEPTH}")]
    TooDeep { key: String },
    #[error("metadata key {key:?} appears twice")]
    DuplicateKey { key: String },
    #[error("general.alignment: {detail}")]
    BadAlignment { detail: String },
    #[error("tensor {name:?}: {n} dimensions, at most {MAX_DIMS} allowed")]
    TooManyDims { name: String, n: u32 },
    #[error("tensor {name:?}: unknown ggml type {type_id}")]
    UnknownType { name: String, type_id: u32 },
    #[error("tensor {name:?}: first dimension {ne0} is not a multiple of the {dtype} block size {block}")]
    BlockMismatch {
        name: String,
        dtype: String,
        ne0: u64,
        block: u64,
    },
    #[error("tensor {name:?}: size overflows")]
    Overflow { name: String },
    #[error("tensor {name:?}: offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        name: String,
        offset: u64,
        alignment: u64,
    },
    #[error("tensor {name:?}: bytes {start}..{end} run past the end of the {size}-byte file")]
    OutOfBounds {
        name: String,
        start: u64,
        end: u64,
        size: u64,
    },
    #[error("tensors {first:?} and {second:?} overlap")]
    Overlap { first: String, second: String },
    #[error("tensor {name:?} is listed twice")]
    DuplicateTensor { name: String },
    #[error("cannot read the header: {0}")]
    Io(String),
}

impl GgufError {
    pub fn code(&self) -> &'static str {
        use GgufError::*;
        match self {
            BadMagic { .. } => "bad-magic",
            UnsupportedVersion(_) => "unsupported-version",
            TooManyTensors { .. } => "too-many-tensors",
            NameTooLong { .. } => "name-too-long",
            Truncated { .. } => "truncated",
            ImpossibleCount { .. } => "impossible-count",
            NotUtf8 { .. } => "not-utf8",
            BadValueType { .. } => "bad-value-type",
            TooDeep { .. } => "too-deep",
            DuplicateKey { .. } => "duplicate-key",
            BadAlignment { .. } => "bad-alignment",
            TooManyDims { .. } => "too-many-dims",
            UnknownType { .. } => "unknown-type",
            BlockMismatch { .. } => "block-mismatch",
            Overflow { .. } => "overflow",
            Misaligned { .. } => "misaligned",
            OutOfBounds { .. } => "out-of-bounds",
            Overlap { .. } => "overlap",
            DuplicateTensor { .. } => "duplicate-tensor",
            Io(_) => "io",
        }
    }
}

/// Reads a file from offset 0 with positional reads, whatever the file's cursor is.
struct AtReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for AtReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::os::unix::fs::FileExt::read_at(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// A bounded little-endian reader that knows its position and the file size. While `tap` is
/// set, every byte read or skipped also goes into it (a metadata value's digest).
struct Reader<R> {
    inner: R,
    pos: u64,
    size: u64,
    tap: Option<blake3::Hasher>,
}

impl<R: Read> Reader<R> {
    fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn bytes(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), GgufError> {
        if (buf.len() as u64) > self.remaining() {
            return Err(GgufError::Truncated {
                at: self.size,
                what: what(),
            });
        }
        self.inner.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                GgufError::Truncated {
                    at: self.pos,
                    what: what(),
                }
            } else {
                GgufError::Io(e.to_string())
            }
        })?;
        self.pos += buf.len() as u64;
        if let Some(h) = &mut self.tap {
            h.update(buf);
        }
        Ok(())
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        let mut b = [0u8; 4];
        self.bytes(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        let mut b = [0u8; 8];
        self.bytes(&mut b, what)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Skips `n` bytes that must exist.
    fn skip(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<(), GgufError> {
        if n > self.remaining() {
            return Err(GgufError::Truncated {
                at: self.size,
                what: what(),
            });
        }
        let mut src = (&mut self.inner).take(n);
        let copied = match &mut self.tap {
            Some(h) => std::io::copy(&mut src, h),
            None => std::io::copy(&mut src, &mut std::io::sink()),
        }
        .map_err(|e| GgufError::Io(e.to_string()))?;
        if copied != n {
            return Err(GgufError::Truncated {
                at: self.pos + copied,
                what: what(),
            });
        }
        self.pos += n;
        Ok(())
    }

    /// A count of items of at least `min_item` bytes each, checked against the bytes left.
    fn count(&mut self, min_item: u64, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        let count = self.u64(what)?;
        if count.saturating_mul(min_item) > self.remaining() {
            return Err(GgufError::ImpossibleCount {
                what: what(),
                count,
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.count(1, what)?;
        if len > MAX_NAME_LEN {
            return Err(GgufError::NameTooLong { what: what(), len });
        }
        let mut buf = vec![0u8; len as usize];
        self.bytes(&mut buf, what)?;
        String::from_utf8(buf).map_err(|_| GgufError::NotUtf8 { what: what() })
    }

    fn skip_string(&mut self, what: &dyn Fn() -> String) -> Result<(), GgufError> {
        let len = self.count(1, what)?;
        self.skip(len, what)
    }
}

/// Fixed size of a scalar value type, or `None` for string (8) and array (9).
fn scalar_size(t: u32) -> Option<Option<u64>> {
    Some(match t {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        8 | 9 => None,
        _ => return None,
    })
}

/// Smallest encoding of one value of type `t` (used to bound array counts).
fn min_size(t: u32) -> u64 {
    match scalar_size(t) {
        Some(Some(n)) => n,
        _ => 8, // a string or array starts with an 8-byte length
    }
}

/// Reads (and mostly skips) one metadata value of type `t`. Returns the value when it is a
/// `u32` (all this parser needs: `general.alignment`).
fn value<R: Read>(
    r: &mut Reader<R>,
    key: &str,
    t: u32,
    depth: usize,
) -> Result<Option<u64>, GgufError> {
    let what = || format!("metadata {key:?}");
    match scalar_size(t) {
        None => Err(GgufError::BadValueType {
            key: key.to_string(),
            value_type: t,
        }),
        Some(Some(n)) => {
            if t == 4 {
                return Ok(Some(r.u32(&what)? as u64));
            }
            r.skip(n, &what)?;
            Ok(None)
        }
        Some(None) if t == 8 => {
            r.skip_string(&what)?;
            Ok(None)
        }
        Some(None) => {
            if depth >= MAX_ARRAY_DEPTH {
                return Err(GgufError::TooDeep {
                    key: key.to_string(),
                });
            }
            let et = r.u32(&what)?;
            if scalar_size(et).is_none() {
                return Err(GgufError::BadValueType {
                    key: key.to_string(),
                    value_type: et,
                });
            }
            let n = r.count(min_size(et), &what)?;
            match scalar_size(et) {
                Some(Some(sz)) => r.skip(n * sz, &what)?,
                _ => {
                    for _ in 0..n {
                        value(r, key, et, depth + 1)?;
                    }
                }
            }
            Ok(None)
        }
    }
}

/// Reads the string value of `general.name`: kept when it is UTF-8 of at most 1024 bytes,
/// skipped otherwise (it is metadata, never a reason to refuse the file).
fn read_name<R: Read>(r: &mut Reader<R>, key: &str) -> Result<Option<String>, GgufError> {
    let what = || format!("metadata {key:?}");
    let len = r.count(1, &what)?;
    if len > 1024 {
        r.skip(len, &what)?;
        return Ok(None);
    }
    let mut buf = vec![0u8; len as usize];
    r.bytes(&mut buf, &what)?;
    Ok(String::from_utf8(buf).ok())
}

/// Parses the header of a GGUF file of `size` bytes.
pub fn parse(file: &File, size: u64) -> Result<Layout, GgufError> {
    parse_from(
        BufReader::with_capacity(1 << 16, AtReader { file, pos: 0 }),
        size,
    )
}

/// Parses a whole GGUF file held in memory (tests and fuzzing).
pub fn parse_slice(bytes: &[u8]) -> Result<Layout, GgufError> {
    parse_from(bytes, bytes.len() as u64)
}

fn parse_from<R: Read>(inner: R, size: u64) -> Result<Layout, GgufError> {
    let mut r = Reader {
        inner,
        pos: 0,
        size,
        tap: None,
    };
    let mut magic = [0u8; 4];
    r.bytes(&mut magic, &|| "the magic".to_string())?;
    if &magic != b"GGUF" {
        return Err(GgufError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let version = r.u32(&|| "the version".to_string())?;
    if version != 2 && version != 3 {
        return Err(GgufError::UnsupportedVersion(version));
    }
    // Each tensor info takes at least 8 (name length) + 4 + 4 + 8 bytes; each key/value at
    // least 8 (key length) + 4 (type) + 1 (smallest value).
    let tensor_count = r.count(24, &|| "the tensor count".to_string())?;
    if tensor_count > super::MAX_TENSORS as u64 {
        return Err(GgufError::TooManyTensors { n: tensor_count });
    }
    let kv_count = r.count(13, &|| "the metadata count".to_string())?;
    let mut alignment = DEFAULT_ALIGNMENT;
    let mut keys = std::collections::HashSet::new();
    let mut metadata = Vec::new();
    let mut general_name = None;
    for i in 0..kv_count {
        let key = r.string(&|| format!("metadata key {i}"))?;
        let t = r.u32(&|| format!("the type of metadata {key:?}"))?;
        let layout_key = super::LAYOUT_KEYS.contains(&key.as_str());
        if !layout_key {
            r.tap = Some(super::metadata_hasher(&key, t));
        }
        let v = if key == "general.name" && t == 8 {
            read_name(&mut r, &key).map(|n| {
                general_name = n;
                None
            })
        } else {
            value(&mut r, &key, t, 0)
        };
        if let Some(h) = r.tap.take() {
            if v.is_ok() {
                metadata.push(super::MetadataEntry {
                    key: key.clone(),
                    digest: h.finalize().into(),
                });
            }
        }
        let v = v?;
        if key == "general.alignment" {
            let a = match (t, v) {
                (4, Some(a)) => a,
                _ => {
                    return Err(GgufError::BadAlignment {
                        detail: format!("must be a uint32, found value type {t}"),
                    })
                }
            };
            if a == 0 || !a.is_power_of_two() {
                return Err(GgufError::BadAlignment {
                    detail: format!("{a} is not a non-zero power of two"),
                });
            }
            alignment = a;
        }
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey { key });
        }
    }
    let mut infos: Vec<(String, Vec<u64>, u32, u64)> = Vec::with_capacity(tensor_count as usize);
    let mut names = std::collections::HashSet::new();
    for i in 0..tensor_count {
        let name = r.string(&|| format!("the name of tensor {i}"))?;
        let what = || format!("tensor {name:?}");
        let n_dims = r.u32(&what)?;
        if n_dims > MAX_DIMS {
            return Err(GgufError::TooManyDims { name, n: n_dims });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(r.u64(&what)?);
        }
        let type_id = r.u32(&what)?;
        let offset = r.u64(&what)?;
        if !names.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor { name });
        }
        infos.push((name, dims, type_id, offset));
    }
    let data_start =
        r.pos
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| GgufError::BadAlignment {
                detail: "data section start overflows".into(),
            })?;
    let mut tensors = Vec::with_capacity(infos.len());
    for (name, dims, type_id, offset) in infos {
        let Some((dtype, block, type_size)) = ggml_type(type_id) else {
            return Err(GgufError::UnknownType { name, type_id });
        };
        let ne0 = dims.first().copied().unwrap_or(1);
        if ne0 % block != 0 {
            return Err(GgufError::BlockMismatch {
                name,
                dtype: dtype.to_string(),
                ne0,
                block,
            });
        }
        let overflow = || GgufError::Overflow { name: name.clone() };
        // ne[0] / block * type_size * ne[1] * ... * ne[n-1], multiplied from left to right:
        // the first product over 2^64-1 is an overflow, even when a later factor is 0.
        let len = dims
            .iter()
            .skip(1)
            .fold((ne0 / block).checked_mul(type_size), |a, &d| {
                a.and_then(|a| a.checked_mul(d))
            })
            .ok_or_else(overflow)?;
        if offset % alignment != 0 {
            return Err(GgufError::Misaligned {
                name,
                offset,
                alignment,
            });
        }
        let start = data_start.checked_add(offset).ok_or_else(overflow)?;
        let end = start.checked_add(len).ok_or_else(overflow)?;
        if end > size {
            return Err(GgufError::OutOfBounds {
                name,
                start,
                end,
                size,
            });
        }
        tensors.push(TensorInfo {
            name,
            dtype: dtype.to_string(),
            shape: dims,
            start,
            end,
        });
    }
    super::sort_and_check_overlap(&mut tensors)
        .map_err(|(first, second)| GgufError::Overlap { first, second })?;
    metadata.sort();
    Ok(Layout {
        format: Format::Gguf,
        header_len: data_start.min(size),
        tensors,
        metadata,
        general_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-built GGUF v3 file: one `general.alignment` (when given), a string array, and
    /// the given tensors (name, dims, type, offset), then `data_len` bytes of data.
    fn build(
        alignment: Option<u32>,
        tensors: &[(&str, &[u64], u32, u64)],
        data_len: usize,
    ) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend(3u32.to_le_bytes());
        v.extend((tensors.len() as u64).to_le_bytes());
        v.extend((1 + alignment.is_some() as u64).to_le_bytes());
        let s = |v: &mut Vec<u8>, x: &str| {
            v.extend((x.len() as u64).to_le_bytes());
            v.extend(x.as_bytes());
        };
        s(&mut v, "tokenizer.ggml.tokens");
        v.extend(9u32.to_le_bytes());
        v.extend(8u32.to_le_bytes());
        v.extend(2u64.to_le_bytes());
        s(&mut v, "a");
        s(&mut v, "bc");
        if let Some(a) = alignment {
            s(&mut v, "general.alignment");
            v.extend(4u32.to_le_bytes());
            v.extend(a.to_le_bytes());
        }
        for (name, dims, t, off) in tensors {
            s(&mut v, name);
            v.extend((dims.len() as u32).to_le_bytes());
            for d in *dims {
                v.extend(d.to_le_bytes());
            }
            v.extend(t.to_le_bytes());
            v.extend(off.to_le_bytes());
        }
        let a = alignment.unwrap_or(32) as usize;
        while !v.len().is_multiple_of(a) {
            v.push(0);
        }
        v.extend(std::iter::repeat_n(0u8, data_len));
        v
    }

    fn parse_bytes(b: &[u8]) -> Result<Layout, GgufError> {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, b).unwrap();
        parse(&f, b.len() as u64)
    }

    #[test]
    fn parses_quantized_and_plain_tensors() {
        let b = build(None, &[("w", &[64, 2], 2, 0), ("n", &[4], 0, 96)], 112);
        let l = parse_bytes(&b).unwrap();
        let ds = (b.len() - 112) as u64;
        assert_eq!(l.header_len, ds);
        assert_eq!(l.tensors[0].name, "w");
        assert_eq!(l.tensors[0].dtype, "Q4_0");
        // 64/32 blocks * 18 bytes * 2 rows = 72 bytes.
        assert_eq!((l.tensors[0].start, l.tensors[0].end), (ds, ds + 72));
        assert_eq!((l.tensors[1].start, l.tensors[1].end), (ds + 96, ds + 112));
    }

    #[test]
    fn a_tensor_count_over_the_limit_that_the_file_could_hold_is_too_many_tensors() {
        // 262145 tensor infos of 24 bytes fit in the bytes left, so impossible-count passes
        // and too-many-tensors is reported; at 262144 the count is read on.
        let count = |n: u64| {
            let mut v = b"GGUF".to_vec();
            v.extend(3u32.to_le_bytes());
            v.extend(n.to_le_bytes());
            v.extend(0u64.to_le_bytes());
            v.extend(std::iter::repeat_n(
                0u8,
                24 * (super::super::MAX_TENSORS + 1),
            ));
            parse_slice(&v)
        };
        assert_eq!(
            count(super::super::MAX_TENSORS as u64 + 1).unwrap_err(),
            GgufError::TooManyTensors {
                n: super::super::MAX_TENSORS as u64 + 1
            }
        );
        assert_ne!(
            count(super::super::MAX_TENSORS as u64).unwrap_err().code(),
            "too-many-tensors"
        );
    }

    #[test]
    fn each_violation_has_its_error() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"GGML\x03\0\0\0".to_vec(), "bad-magic"),
            (
                [b"GGUF".as_slice(), &1u32.to_le_bytes()].concat(),
                "unsupported-version",
            ),
            (build(None, &[("w", &[32], 2, 0)], 0), "out-of-bounds"),
            (build(None, &[("w", &[33], 2, 0)], 64), "block-mismatch"),
            (build(None, &[("w", &[32], 2, 8)], 64), "misaligned"),
            (build(None, &[("w", &[32], 99, 0)], 64), "unknown-type"),
            (
                build(None, &[("w", &[1, 1, 1, 1, 1], 0, 0)], 64),
                "too-many-dims",
            ),
            (
                build(None, &[("w", &[32], 2, 0), ("w", &[32], 2, 32)], 64),
                "duplicate-tensor",
            ),
            (
                build(None, &[("a", &[16], 0, 0), ("b", &[16], 0, 32)], 128),
                "overlap",
            ),
            (build(Some(24), &[], 0), "bad-alignment"),
            (build(None, &[("w", &[u64::MAX, 2], 0, 0)], 64), "overflow"),
        ];
        for (bytes, code) in cases {
            match parse_bytes(&bytes) {
                Err(e) => assert_eq!(e.code(), code, "{e}"),
                Ok(l) => panic!("expected {code}, parsed {l:?}"),
            }
        }
        // Absurd counts: 2^60 tensors in a tiny file.
        let mut b = build(None, &[], 0);
        b[8..16].copy_from_slice(&(1u64 << 60).to_le_bytes());
        assert_eq!(parse_bytes(&b).unwrap_err().code(), "impossible-count");
        // An array of 2^62 strings.
        let mut b = build(None, &[], 0);
        let at = 24 + 8 + "tokenizer.ggml.tokens".len() + 4 + 4;
        b[at..at + 8].copy_from_slice(&(1u64 << 62).to_le_bytes());
        assert_eq!(parse_bytes(&b).unwrap_err().code(), "impossible-count");
        // A truncated header.
        let b = build(None, &[("w", &[32], 2, 0)], 64);
        let name_at = b
            .windows(9)
            .position(|w| w == [1, 0, 0, 0, 0, 0, 0, 0, b'w'])
            .unwrap();
        let cut = name_at + 9 + 4 + 8 + 2; // in the middle of the ggml type
        match parse_bytes(&b[..cut]).unwrap_err() {
            GgufError::Truncated { what, .. } => assert_eq!(what, "tensor \"w\""),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn type_table_matches_block_math() {
        assert_eq!(ggml_type(12), Some(("Q4_K", 256, 144)));
        assert_eq!(ggml_type(4), None);
        for (id, _, block, size) in GGML_TYPES {
            assert!(*block >= 1 && *size >= 1, "type {id}");
        }
    }
}
