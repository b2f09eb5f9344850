//! The manifest's one canonical encoding and its strict decoder (spec/manifest.md,
//! "Encoding" and "Reading a manifest"): a structural pass over the raw bytes, a typed and lazy
//! conversion with field-level errors (no value tree; see `crate::cbor`), then re-encoding and
//! comparing, so that one manifest has exactly one encoding.

use std::path::Path;

use crate::cbor::{self, Item, Seq, Writer};

use crate::digest::Digest;
use crate::formats::{Format, MetadataEntry};
use crate::path::ModelPath;
use crate::tree::{ChunkSize, FileTree};

use super::*;

impl Manifest {
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
        // A regular file only (a named pipe is refused, never waited on), at most the bound.
        let bytes = match crate::fsutil::read_regular(path, MAX_MANIFEST_LEN) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(io_err(std::io::Error::from(std::io::ErrorKind::NotFound))),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                let len = std::fs::metadata(path)
                    .map(|m| m.len())
                    .unwrap_or(MAX_MANIFEST_LEN + 1);
                return Err(ManifestError::TooLarge {
                    len,
                    max: MAX_MANIFEST_LEN,
                });
            }
            Err(e) => return Err(io_err(e)),
        };
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
                        // pending holds the top-level slot and one entry per open container:
                        // this container is at depth pending.len(), at most MAX_DEPTH.
                        if pending.len() > MAX_DEPTH {
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
