//! safetensors headers (spec/manifest.md, "safetensors").
//!
//! Layout: an 8-byte little-endian header length `N`, `N` bytes of JSON (an object starting with
//! `{`), then the data region. Each tensor's `data_offsets` `[begin, end]` are relative to the
//! data region, so its absolute range is `8 + N + begin .. 8 + N + end`. The rules enforced
//! are the official validator's: `N <= 100_000_000` and within the file; tensors sorted by
//! offset tile the data region exactly (no hole, no overlap, ending at the end of the file);
//! `end - begin == numel * bits / 8` with checked arithmetic and whole bytes; no duplicate
//! names; known dtypes; `__metadata__` a map of strings.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{Format, Layout, TensorInfo};

/// The official limit on the header length.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// Why a safetensors header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SafetensorsError {
    #[error("file is {size} bytes, too short for the 8-byte header length")]
    TooSmall { size: u64 },
    #[error("header length {n} exceeds the limit of {limit} bytes")]
    HeaderTooLarge { n: u64, limit: u64 },
    #[error("header length {n} runs past the end of the {size}-byte file")]
    HeaderPastEnd { n: u64, size: u64 },
    #[error("header is not valid UTF-8 (at header byte {at})")]
    NotUtf8 { at: usize },
    #[error("header must start with '{{', found byte 0x{found:02x}")]
    BadStart { found: u8 },
    #[error("header is not valid JSON: {0}")]
    Json(String),
    #[error("tensor {name:?} is listed twice")]
    DuplicateTensor { name: String },
    #[error("the header lists {n} tensors, more than the {max} weightseal reads from one file", max = super::MAX_TENSORS)]
    TooManyTensors { n: usize },
    #[error("tensor {name:?}: {detail}")]
    BadTensor { name: String, detail: String },
    #[error("tensor {name:?}: unknown dtype {dtype:?}")]
    UnknownDtype { name: String, dtype: String },
    #[error("tensor {name:?}: element count or byte length overflows")]
    Overflow { name: String },
    #[error("tensor {name:?}: {elements} elements of {bits}-bit {dtype} are not a whole number of bytes")]
    PartialByte {
        name: String,
        elements: u64,
        bits: u64,
        dtype: String,
    },
    #[error("tensor {name:?}: data_offsets span {found} bytes, but shape {shape:?} of {dtype} needs {expected}")]
    WrongLength {
        name: String,
        dtype: String,
        shape: Vec<u64>,
        expected: u64,
        found: u64,
    },
    #[error("tensor {name:?}: data_offsets [{begin}, {end}] end before they begin")]
    Reversed { name: String, begin: u64, end: u64 },
    #[error("hole in the data region: tensor {name:?} begins at {begin}, but the previous tensor ends at {expected}")]
    Hole {
        name: String,
        begin: u64,
        expected: u64,
    },
    #[error("tensors {previous:?} and {name:?} overlap: {name:?} begins at {begin}, before {previous:?} ends at {expected}")]
    Overlap {
        previous: String,
        name: String,
        begin: u64,
        expected: u64,
    },
    #[error("the tensors end at data offset {end}, but the data region is {len} bytes")]
    DataLength { end: u64, len: u64 },
    #[error("__metadata__: {0}")]
    Metadata(String),
    #[error("cannot read the header: {0}")]
    Io(String),
}

impl SafetensorsError {
    pub fn code(&self) -> &'static str {
        use SafetensorsError::*;
        match self {
            TooSmall { .. } => "too-small",
            HeaderTooLarge { .. } => "header-too-large",
            HeaderPastEnd { .. } => "header-past-end",
            NotUtf8 { .. } => "not-utf8",
            BadStart { .. } => "bad-start",
            Json(_) => "json",
            DuplicateTensor { .. } => "duplicate-tensor",
            BadTensor { .. } => "bad-tensor",
            UnknownDtype { .. } => "unknown-dtype",
            Overflow { .. } => "overflow",
            PartialByte { .. } => "partial-byte",
            WrongLength { .. } => "wrong-length",
            Reversed { .. } => "reversed-offsets",
            Hole { .. } => "hole",
            Overlap { .. } => "overlap",
            DataLength { .. } => "data-length",
            Metadata(_) => "metadata",
            TooManyTensors { .. } => "too-many-tensors",
            Io(_) => "io",
        }
    }
}

/// Bits per element of each dtype the official implementation knows.
pub fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "F64" | "I64" | "U64" => 64,
        _ => return None,
    })
}

/// One top-level entry of the header, typed as it is read: no JSON value tree is built, so
/// memory follows what the header holds, not a multiple of it.
enum Entry {
    Metadata(Result<Vec<(String, String)>, String>),
    Tensor(Result<RawTensor, String>),
}

/// A tensor entry as the header states it.
struct RawTensor {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// Accepts any JSON value; keeps its entries when it is an object of strings with distinct
/// keys, or why it is not.
struct MetadataCheck(Result<Vec<(String, String)>, String>);

impl<'de> Deserialize<'de> for MetadataCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetadataCheck;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<MetadataCheck, A::Error> {
                let mut entries: Vec<(String, String)> = Vec::new();
                let mut why: Option<String> = None;
                while let Some(k) = m.next_key::<String>()? {
                    match m.next_value::<Loose>()? {
                        Loose::Str(v) => entries.push((k, v)),
                        _ => {
                            why.get_or_insert_with(|| {
                                format!(
                                    "must be an object of string values ({k:?} is not a string)"
                                )
                            });
                        }
                    }
                }
                if let Some(w) = why {
                    return Ok(MetadataCheck(Err(w)));
                }
                entries.sort();
                if let Some(d) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
                    return Ok(MetadataCheck(Err(format!(
                        "key {:?} is listed twice",
                        d[0].0
                    ))));
                }
                Ok(MetadataCheck(Ok(entries)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<MetadataCheck, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_str<E>(self, _: &str) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_u64<E>(self, _: u64) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_i64<E>(self, _: i64) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_f64<E>(self, _: f64) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_bool<E>(self, _: bool) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
            fn visit_unit<E>(self) -> Result<MetadataCheck, E> {
                Ok(MetadataCheck(Err(
                    "must be an object of string values".into()
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value, kept only as far as the header's rules need it: a string, a non-negative
/// integer (2^64-1 at most, no fraction or exponent), an array of those integers, or something
/// else (skipped without being kept). Every value is read whole, so a value of the wrong type
/// is a rule-5 error about that value, never a JSON error about what follows it.
enum Loose {
    Str(String),
    Uint(u64),
    Uints(Vec<u64>),
    Other,
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Str(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Loose, A::Error> {
                while m
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Loose::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Loose, A::Error> {
                let mut all = Some(Vec::new());
                while let Some(e) = s.next_element::<Loose>()? {
                    match (e, all.as_mut()) {
                        (Loose::Uint(n), Some(v)) => v.push(n),
                        _ => all = None,
                    }
                }
                Ok(all.map_or(Loose::Other, Loose::Uints))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::Uint(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_unit<E>(self) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A tensor entry, or why it is not one (kept to report it with the tensor's name).
struct TensorOrWhy(Result<RawTensor, String>);

impl<'de> Deserialize<'de> for TensorOrWhy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TensorOrWhy;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<TensorOrWhy, A::Error> {
                let (mut dtype, mut shape, mut offs) = (None, None, None);
                let mut why: Option<String> = None;
                // Each member's value must be valid wherever it appears; when one is given
                // twice, the last counts.
                while let Some(k) = m.next_key::<String>()? {
                    match k.as_str() {
                        "dtype" => match m.next_value::<Loose>()? {
                            Loose::Str(v) => dtype = Some(v),
                            _ => why = why.or(Some("dtype must be a string".into())),
                        },
                        "shape" => match m.next_value::<Loose>()? {
                            Loose::Uints(v) => shape = Some(v),
                            _ => {
                                why = why.or(Some(
                                    "shape must be an array of non-negative integers".into(),
                                ))
                            }
                        },
                        "data_offsets" => match m.next_value::<Loose>()? {
                            Loose::Uints(v) if v.len() == 2 => offs = Some((v[0], v[1])),
                            _ => {
                                why = why.or(Some(
                                    "data_offsets must be two non-negative integers".into(),
                                ))
                            }
                        },
                        _ => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                if let Some(w) = why {
                    return Ok(TensorOrWhy(Err(w)));
                }
                Ok(TensorOrWhy(match (dtype, shape, offs) {
                    (None, _, _) => Err("dtype must be a string".into()),
                    (_, None, _) => Err("shape must be an array of non-negative integers".into()),
                    (_, _, None) => Err("data_offsets must be two non-negative integers".into()),
                    (Some(dtype), Some(shape), Some(data_offsets)) => Ok(RawTensor {
                        dtype,
                        shape,
                        data_offsets,
                    }),
                }))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<TensorOrWhy, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_str<E>(self, _: &str) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_u64<E>(self, _: u64) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_f64<E>(self, _: f64) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
            fn visit_unit<E>(self) -> Result<TensorOrWhy, E> {
                Ok(TensorOrWhy(Err("expected an object".into())))
            }
        }
        d.deserialize_any(V)
    }
}

/// The header's top-level entries in file order, keeping duplicates so they can be refused;
/// at most [`super::MAX_TENSORS`] tensors, else how many the header lists.
struct Entries(Result<Vec<(String, Entry)>, usize>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                // The whole object is read (so that a JSON error anywhere in the header
                // comes first), but no more than MAX_TENSORS tensors are kept.
                let (mut out, mut tensors) = (Vec::new(), 0usize);
                while let Some(k) = m.next_key::<String>()? {
                    if k != "__metadata__" {
                        tensors = tensors.saturating_add(1);
                    }
                    if tensors > super::MAX_TENSORS {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                    let e = if k == "__metadata__" {
                        Entry::Metadata(m.next_value::<MetadataCheck>()?.0)
                    } else {
                        Entry::Tensor(m.next_value::<TensorOrWhy>()?.0)
                    };
                    out.push((k, e));
                }
                if tensors > super::MAX_TENSORS {
                    return Ok(Entries(Err(tensors)));
                }
                Ok(Entries(Ok(out)))
            }
        }
        d.deserialize_map(V)
    }
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> Result<(), SafetensorsError> {
    file.read_exact_at(buf, offset)
        .map_err(|e| SafetensorsError::Io(e.to_string()))
}

/// Parses the header of a safetensors file of `size` bytes.
pub fn parse(file: &File, size: u64) -> Result<Layout, SafetensorsError> {
    parse_limited(file, size, MAX_HEADER_LEN)
}

/// [`parse`], refusing a header longer than `limit` (at most [`MAX_HEADER_LEN`]) before
/// reading it.
pub fn parse_limited(file: &File, size: u64, limit: u64) -> Result<Layout, SafetensorsError> {
    let limit = limit.min(MAX_HEADER_LEN);
    if size < 8 {
        return Err(SafetensorsError::TooSmall { size });
    }
    let mut n8 = [0u8; 8];
    read_at(file, &mut n8, 0)?;
    let n = u64::from_le_bytes(n8);
    if n > limit {
        return Err(SafetensorsError::HeaderTooLarge { n, limit });
    }
    if n > size - 8 {
        return Err(SafetensorsError::HeaderPastEnd { n, size });
    }
    let mut header = vec![0u8; n as usize];
    read_at(file, &mut header, 8)?;
    parse_header(&header, size)
}

/// Parses a whole safetensors file held in memory (tests and fuzzing).
pub fn parse_slice(bytes: &[u8]) -> Result<Layout, SafetensorsError> {
    let size = bytes.len() as u64;
    if size < 8 {
        return Err(SafetensorsError::TooSmall { size });
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER_LEN {
        return Err(SafetensorsError::HeaderTooLarge {
            n,
            limit: MAX_HEADER_LEN,
        });
    }
    if n > size - 8 {
        return Err(SafetensorsError::HeaderPastEnd { n, size });
    }
    parse_header(&bytes[8..8 + n as usize], size)
}

/// How deep the header's arrays and objects may nest (the top-level object is depth 1).
pub const MAX_DEPTH: usize = 64;

/// Where the header's arrays and objects first nest deeper than [`MAX_DEPTH`], outside strings.
/// (Invalid JSON may pass; the parser refuses it next.)
fn too_deep(header: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, &b) in header.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Parses header bytes (the `N` bytes after the length) of a file of `size` bytes.
pub fn parse_header(header: &[u8], size: u64) -> Result<Layout, SafetensorsError> {
    let n = header.len() as u64;
    let text = std::str::from_utf8(header).map_err(|e| SafetensorsError::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    match header.first() {
        Some(b'{') => {}
        Some(&found) => return Err(SafetensorsError::BadStart { found }),
        None => return Err(SafetensorsError::Json("empty header".into())),
    }
    if let Some(at) = too_deep(header) {
        return Err(SafetensorsError::Json(format!(
            "arrays and objects nest deeper than {MAX_DEPTH} at header byte {at}"
        )));
    }
    let entries = serde_json::from_str::<Entries>(text)
        .map_err(|e| SafetensorsError::Json(e.to_string()))?
        .0
        .map_err(|n| SafetensorsError::TooManyTensors { n })?;
    let data_start = 8 + n;
    let data_len = size - data_start;
    let mut seen = std::collections::HashSet::new();
    let mut metadata = Vec::new();
    let mut tensors: Vec<(u64, u64, TensorInfo)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(SafetensorsError::DuplicateTensor { name });
        }
        let raw = match value {
            Entry::Metadata(entries) => {
                metadata = entries
                    .map_err(SafetensorsError::Metadata)?
                    .iter()
                    .map(|(k, v)| super::MetadataEntry {
                        key: k.clone(),
                        digest: super::metadata_string_digest(k, v),
                    })
                    .collect();
                continue;
            }
            Entry::Tensor(Ok(t)) => t,
            Entry::Tensor(Err(detail)) => {
                return Err(SafetensorsError::BadTensor { name, detail });
            }
        };
        let RawTensor {
            dtype,
            shape,
            data_offsets: (begin, end),
        } = raw;
        let bits = dtype_bits(&dtype).ok_or_else(|| SafetensorsError::UnknownDtype {
            name: name.clone(),
            dtype: dtype.clone(),
        })?;
        let overflow = || SafetensorsError::Overflow { name: name.clone() };
        let elements = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let total_bits = elements.checked_mul(bits).ok_or_else(overflow)?;
        if total_bits % 8 != 0 {
            return Err(SafetensorsError::PartialByte {
                name,
                elements,
                bits,
                dtype,
            });
        }
        if end < begin {
            return Err(SafetensorsError::Reversed { name, begin, end });
        }
        if end - begin != total_bits / 8 {
            return Err(SafetensorsError::WrongLength {
                name,
                dtype,
                shape,
                expected: total_bits / 8,
                found: end - begin,
            });
        }
        let start = data_start.checked_add(begin).ok_or_else(overflow)?;
        let abs_end = data_start.checked_add(end).ok_or_else(overflow)?;
        tensors.push((
            begin,
            end,
            TensorInfo {
                name,
                dtype,
                shape,
                start,
                end: abs_end,
            },
        ));
    }
    tensors.sort_by(|a, b| (a.0, a.1, a.2.name.as_bytes()).cmp(&(b.0, b.1, b.2.name.as_bytes())));
    let mut expected = 0u64;
    let mut previous = String::new();
    for (begin, end, t) in &tensors {
        if *begin > expected {
            return Err(SafetensorsError::Hole {
                name: t.name.clone(),
                begin: *begin,
                expected,
            });
        }
        if *begin < expected {
            return Err(SafetensorsError::Overlap {
                previous,
                name: t.name.clone(),
                begin: *begin,
                expected,
            });
        }
        expected = *end;
        previous = t.name.clone();
    }
    if expected != data_len {
        return Err(SafetensorsError::DataLength {
            end: expected,
            len: data_len,
        });
    }
    let mut tensors: Vec<TensorInfo> = tensors.into_iter().map(|(_, _, t)| t).collect();
    super::sort_and_check_overlap(&mut tensors).expect("tiling was checked");
    Ok(Layout {
        format: Format::Safetensors,
        header_len: data_start,
        tensors,
        metadata,
        general_name: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data_len: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend(std::iter::repeat_n(0u8, data_len));
        v
    }

    fn parse_bytes(b: &[u8]) -> Result<Layout, SafetensorsError> {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, b).unwrap();
        parse(&f, b.len() as u64)
    }

    #[test]
    fn parses_a_valid_header() {
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"a":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]},"z":{"dtype":"F4","shape":[0],"data_offsets":[22,22]}}"#;
        let l = parse_bytes(&file(h, 22)).unwrap();
        let base = 8 + h.len() as u64;
        assert_eq!(l.header_len, base);
        let got: Vec<(&str, u64, u64)> = l
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.start, t.end))
            .collect();
        assert_eq!(
            got,
            vec![
                ("b", base, base + 16),
                ("a", base + 16, base + 22),
                ("z", base + 22, base + 22)
            ]
        );
        assert_eq!(l.tensors[0].shape, vec![2, 2]);
    }

    #[test]
    fn each_violation_has_its_error() {
        let t = |s: &str| format!(r#"{{{s}}}"#);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![1, 2, 3], "too-small"),
            (200_000_000u64.to_le_bytes().to_vec(), "header-too-large"),
            (
                [100u64.to_le_bytes().to_vec(), b"{}".to_vec()].concat(),
                "header-past-end",
            ),
            (file("[1]", 0), "bad-start"),
            (file("{\"a\":", 0), "json"),
            (
                file(
                    &t(
                        r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#,
                    ),
                    8,
                ),
                "duplicate-tensor",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}"#),
                    4,
                ),
                "unknown-dtype",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}"#),
                    4,
                ),
                "wrong-length",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#),
                    8,
                ),
                "hole",
            ),
            (
                file(
                    &t(
                        r#""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#,
                    ),
                    8,
                ),
                "overlap",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#),
                    5,
                ),
                "data-length",
            ),
            (
                file(
                    &t(
                        r#""a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}"#,
                    ),
                    4,
                ),
                "overflow",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}"#),
                    1,
                ),
                "partial-byte",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}"#),
                    4,
                ),
                "reversed-offsets",
            ),
            (
                file(
                    &t(r#""a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}"#),
                    4,
                ),
                "bad-tensor",
            ),
            (file(&t(r#""__metadata__":{"a":1}"#), 0), "metadata"),
        ];
        for (bytes, code) in cases {
            match parse_bytes(&bytes) {
                Err(e) => assert_eq!(e.code(), code, "{e}"),
                Ok(l) => panic!("expected {code}, parsed {l:?}"),
            }
        }
        let mut bad = file("{}", 0);
        bad[8] = 0xff;
        assert_eq!(
            parse_bytes(&bad).unwrap_err(),
            SafetensorsError::NotUtf8 { at: 0 }
        );
    }

    #[test]
    fn more_tensors_than_the_limit_is_too_many_tensors_not_json() {
        let entry =
            |i: usize| format!(r#""t{i}":{{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#);
        let header = |n: usize| {
            let body: Vec<String> = (0..n).map(entry).collect();
            format!(r#"{{"__metadata__":{{"k":"v"}},{}}}"#, body.join(","))
        };
        let l = parse_bytes(&file(&header(super::super::MAX_TENSORS), 0)).unwrap();
        assert_eq!(l.tensors.len(), super::super::MAX_TENSORS);
        assert_eq!(
            parse_bytes(&file(&header(super::super::MAX_TENSORS + 1), 0)).unwrap_err(),
            SafetensorsError::TooManyTensors {
                n: super::super::MAX_TENSORS + 1
            }
        );
    }
}
