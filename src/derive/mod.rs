//! Derivations proven by recomputation (spec/derive.md): a cast or quantized release re-derived,
//! tensor by tensor, from the verified bytes of its signed base, and compared with what the
//! derived release records (and holds, when it is on disk).
//!
//! The base is judged first, by the one judge ([`crate::release::admit`]: trust, pins, log),
//! then each of its tensors is read once into memory, checked against the base manifest's
//! digest (so nothing is derived from a byte the base's signer did not sign, even if the file
//! changes after the judge read it), converted ([`float`], [`quant`]), hashed and compared with
//! the derived manifest's digest. Tensors are taken one at a time, each spread over every core,
//! so memory stays at the largest base tensor plus the largest derived tensor.
//!
//! A derived release on disk is also checked against its own manifest (integrity only), and a
//! tensor that differs is compared byte by byte with the reproduction to name its first
//! differing block.

pub mod float;
pub mod quant;
pub mod recipe;

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

use rayon::prelude::*;
use serde::Serialize;

use crate::ask::{Ask, AskOptions};
use crate::attest::dsse::Envelope;
use crate::attest::statement::{DigestSet, Subject};
use crate::attest::time::Timestamp;
use crate::attest::PrivateKey;
use crate::digest::Digest;
use crate::evidence::{Evidence, Place, Signed};
use crate::formats::Format;
use crate::manifest::{Manifest, Tensor};
use crate::progress::Progress;
use crate::release::{CheckOptions, ReleaseError, Verdict};
use crate::safedir::{Access, Dir};
use crate::verify::Report;
use float::{Float, NanRule};
use quant::Quant;
pub use recipe::{Recipe, RecipeError, Step};

/// The predicate type of a reproduction attestation (spec/derive.md, "Reproduction
/// attestation").
pub use crate::attest::statement::DERIVATION_PREDICATE_TYPE as PREDICATE_TYPE;

/// Bytes of a derived tensor compared at a time when looking for its first differing block.
const COMPARE_CHUNK: usize = 1 << 20;
/// Elements converted per parallel task (a multiple of every block length).
const TASK_ELEMS: usize = 1 << 16;

/// How one derived tensor is computed from its base tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Convert {
    /// The same dtype: the bytes as they are (a rename, a re-shard).
    Copy,
    /// Rounded between F32, F16 and BF16.
    Cast(Float, Float),
    /// Quantized from a float dtype.
    Quantize(Float, Quant),
}

/// What happened to one derived tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TensorStatus {
    /// Recomputed from the base, equal to the derived release's bytes.
    Reproduced,
    /// Recomputed, and not equal.
    Differs,
    /// Not recomputable: an operation weightseal does not reproduce, or no base tensor.
    NotDerivable,
    /// The base file does not hold the bytes its manifest records for this tensor.
    BaseModified,
}

/// One derived tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TensorReport {
    /// The derived tensor and its file.
    pub name: String,
    pub file: String,
    pub dtype: String,
    /// The base tensor it comes from, and its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_file: Option<String>,
    /// The operation, in words (`cast F32 -> F16`, `permute 32 heads, quantize Q8_0`).
    pub operation: String,
    pub status: TensorStatus,
    /// Why it differs or is not derivable (empty when reproduced).
    pub detail: String,
    /// The first block (of the derived dtype) whose bytes differ, when the derived bytes were
    /// at hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_block: Option<u64>,
}

/// What happened to one file of the derived release that holds no tensors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum FileStatus {
    /// A tensor file: judged by its tensors.
    Tensors,
    /// The same bytes as this file of the base.
    Identical { base_path: String },
    /// Named new by the recipe.
    New,
    /// Neither in the base nor named new.
    NotInBase,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    #[serde(flatten)]
    pub status: FileStatus,
}

/// The answer of `derive check`: the base's verdict, then every derived tensor and file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeriveReport {
    ok: bool,
    /// The judge's verdict on the base release.
    pub base: Verdict,
    /// The derived release: its name and manifest digest.
    pub derived_name: String,
    pub derived_digest: Digest,
    /// The recipe as applied, and its digest (spec/derive.md, "Recipe digest").
    pub recipe_digest: Digest,
    #[serde(skip)]
    pub recipe: String,
    /// The derived files against the derived manifest (a derived release on disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_files: Option<Report>,
    /// Whether the derived release's files were read (a release on disk), so that its
    /// manifest's tensor table was checked against the bytes its files hold. A release at a
    /// URL is not read: its tensor digests are only its publisher's claims, and it is never
    /// reported reproduced.
    pub derived_read: bool,
    /// Derived tensor files whose header or tensor bytes are not what the derived manifest's
    /// tensor table records (path, why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived_tables: Vec<(String, String)>,
    pub tensors: Vec<TensorReport>,
    pub files: Vec<FileReport>,
    /// Base tensors no derived tensor comes from.
    pub unused_base_tensors: usize,
    /// Base bytes read and recomputed.
    pub base_bytes: u64,
    /// Why the derivation is not reproduced, most important first (empty when it is).
    pub reasons: Vec<String>,
}

impl DeriveReport {
    /// The base is verified, every derived tensor is reproduced, every other derived file is
    /// the base's or named new, and a derived release on disk matches its manifest.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// How many tensors have each status.
    pub fn count(&self, s: TensorStatus) -> usize {
        self.tensors.iter().filter(|t| t.status == s).count()
    }

    fn judge(mut self) -> DeriveReport {
        let mut reasons = Vec::new();
        if !self.base.ok() {
            reasons.push(format!(
                "the base {} is not verified: {}",
                self.base.name,
                self.base.reasons.join("; ")
            ));
        }
        if let Some(r) = &self.derived_files {
            if !r.ok {
                let bad: Vec<&str> = r
                    .files
                    .iter()
                    .filter(|f| f.status != crate::verify::FileStatus::Ok)
                    .map(|f| f.path.as_str())
                    .take(5)
                    .collect();
                reasons.push(format!(
                    "the derived files do not match their manifest: {}",
                    bad.join(", ")
                ));
            }
        }
        if !self.derived_read && self.base.ok() {
            reasons.push(
                "the derived release's files were not read (it was given as a URL): the tensor digests of its manifest are not checked against the bytes its files hold, so nothing about those bytes is reproduced; check a downloaded copy".into(),
            );
        }
        if let Some((path, why)) = self.derived_tables.first() {
            reasons.push(format!(
                "{} derived file(s) hold other tensors than the derived manifest's tensor table records (first: {path}: {why})",
                self.derived_tables.len()
            ));
        }
        for (s, what) in [
            (
                TensorStatus::BaseModified,
                "base tensor(s) do not match the base manifest",
            ),
            (
                TensorStatus::Differs,
                "tensor(s) differ from their reproduction",
            ),
            (TensorStatus::NotDerivable, "tensor(s) are not derivable"),
        ] {
            let n = self.count(s);
            if n > 0 {
                let first = self.tensors.iter().find(|t| t.status == s).unwrap();
                reasons.push(format!(
                    "{n} {what} (first: {}: {})",
                    first.name, first.detail
                ));
            }
        }
        let not_in_base: Vec<&str> = self
            .files
            .iter()
            .filter(|f| f.status == FileStatus::NotInBase)
            .map(|f| f.path.as_str())
            .collect();
        if !not_in_base.is_empty() {
            reasons.push(format!(
                "file(s) neither in the base nor named new by the recipe: {}",
                not_in_base.join(", ")
            ));
        }
        if self.tensors.is_empty() {
            reasons.push("the derived release has no tensors".into());
        }
        self.ok = reasons.is_empty();
        self.reasons = reasons;
        self
    }

    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("ok".into(), self.ok.into());
            o.insert("base".into(), self.base.to_json());
        }
        v
    }
}

/// Why a derivation could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum DeriveError {
    #[error("{0}")]
    Release(#[from] ReleaseError),
    #[error("the {0} must be a weightseal release (a manifest), not an OpenSSF signature alone")]
    NotWeightseal(&'static str),
    #[error("the base must be a model directory or file on disk")]
    BaseNotLocal,
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Open(#[from] crate::safedir::SafeDirError),
    #[error("the derivation is not reproduced: {0}")]
    NotReproduced(String),
    #[error("{0}")]
    Sign(#[from] crate::attest::SignError),
}

/// The logical (row-major, outermost first) shape of a tensor: GGUF stores `ne` innermost
/// first, safetensors outermost first.
fn logical_shape(format: Format, shape: &[u64]) -> Vec<u64> {
    match format {
        Format::Gguf => shape.iter().rev().copied().collect(),
        _ => shape.to_vec(),
    }
}

fn fmt_shape(s: &[u64]) -> String {
    format!(
        "[{}]",
        s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )
}

/// A dtype's block: (elements, bytes), for float, integer and GGML types.
fn block_of(dtype: &str) -> Option<(u64, u64)> {
    if let Some((_, b, s)) = crate::formats::gguf::GGML_TYPES
        .iter()
        .find(|t| t.1 == dtype)
        .map(|t| (t.0, t.2, t.3))
    {
        return Some((b, s));
    }
    crate::formats::safetensors::dtype_bits(dtype)
        .filter(|b| b % 8 == 0)
        .map(|b| (1, b / 8))
}

/// Why a quantized dtype is not derivable, in words.
fn not_derivable_quant(dtype: &str) -> String {
    if dtype.ends_with("_K") {
        format!("quantize {dtype}: k-quants are not derivable (their reference quantizer searches scales per sub-block; see README, \"Derivations\")")
    } else if dtype.starts_with("IQ") {
        format!("quantize {dtype}: i-quants are not derivable (they need an importance matrix and lattice searches; see README, \"Derivations\")")
    } else {
        format!("quantize {dtype}: not derivable by weightseal")
    }
}

/// A derived tensor's plan: where its base is and how it is converted.
struct Plan<'m> {
    report: usize,
    derived: &'m Tensor,
    derived_file: &'m str,
    base: &'m Tensor,
    base_file: &'m str,
    convert: Convert,
    via: Vec<Float>,
    permute: Option<u64>,
    /// Elements per permuted row (with `permute`).
    row: u64,
}

fn describe(step: &Step, convert: &Convert) -> String {
    let mut parts = Vec::new();
    if let Some(h) = step.permute {
        parts.push(format!("permute {h} heads"));
    }
    if !step.via.is_empty() {
        parts.push(format!("via {}", step.via.join(" -> ")));
    }
    parts.push(match convert {
        Convert::Copy => "copy".into(),
        Convert::Cast(a, b) => format!("cast {} -> {}", a.name(), b.name()),
        Convert::Quantize(a, q) => format!("quantize {} -> {}", a.name(), q.name()),
    });
    parts.join(", ")
}

/// A plan: the conversion, the `via` dtypes, the permuted row length, the words.
type Planned = (Convert, Vec<Float>, u64, String);
/// A refusal: the operation, the detail, the status.
type Refused = (String, String, TensorStatus);

/// Plans a derived tensor, or says why it is not derivable (`Err((operation, detail,
/// status))`).
fn plan_one(
    step: &Step,
    base_t: &Tensor,
    base_fmt: Format,
    d: &Tensor,
    d_fmt: Format,
) -> Result<Planned, Refused> {
    let bshape = logical_shape(base_fmt, &base_t.shape);
    let dshape = logical_shape(d_fmt, &d.shape);
    let from_dtype = base_t.dtype.as_str();
    let to_dtype = d.dtype.as_str();
    let nd = |op: String, detail: String| (op, detail, TensorStatus::NotDerivable);
    let op_words = format!("{from_dtype} -> {to_dtype}");
    if bshape != dshape {
        return Err((
            op_words,
            format!(
                "shape {} (as rows) is not the base tensor's {}",
                fmt_shape(&dshape),
                fmt_shape(&bshape)
            ),
            TensorStatus::Differs,
        ));
    }
    let mut via = Vec::new();
    for v in &step.via {
        via.push(Float::from_name(v).expect("recipe checked"));
    }
    let convert = if from_dtype == to_dtype && via.is_empty() {
        Convert::Copy
    } else {
        let Some(from) = Float::from_name(from_dtype) else {
            return Err(nd(
                format!("convert {op_words}"),
                format!("the base dtype {from_dtype} is not F32, F16 or BF16: only a copy is derivable from it"),
            ));
        };
        if let Some(to) = Float::from_name(to_dtype) {
            Convert::Cast(from, to)
        } else if let Some(q) = Quant::from_name(to_dtype) {
            Convert::Quantize(from, q)
        } else if crate::formats::gguf::GGML_TYPES
            .iter()
            .any(|t| t.1 == to_dtype && t.2 > 1)
        {
            let w = not_derivable_quant(to_dtype);
            return Err(nd(format!("quantize {to_dtype}"), w));
        } else {
            return Err(nd(
                format!("convert {op_words}"),
                format!("a conversion to {to_dtype} is not derivable"),
            ));
        }
    };
    let Some(elems) = dshape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) else {
        return Err(nd(
            op_words,
            format!("the shape {} overflows", fmt_shape(&dshape)),
        ));
    };
    let (blk, bytes) = block_of(to_dtype).ok_or_else(|| {
        nd(
            format!("convert {op_words}"),
            format!("unknown dtype {to_dtype}"),
        )
    })?;
    let inner = dshape.last().copied().unwrap_or(1);
    if inner % blk != 0 {
        return Err(nd(
            format!("quantize {to_dtype}"),
            format!("rows of {inner} elements are not a multiple of the {to_dtype} block of {blk}"),
        ));
    }
    let Some(expected) = (elems / blk).checked_mul(bytes) else {
        return Err(nd(op_words, "the byte length overflows".into()));
    };
    if d.end - d.start != expected {
        return Err((
            op_words,
            format!(
                "{} bytes, expected {expected} for {} elements of {to_dtype}",
                d.end - d.start,
                elems
            ),
            TensorStatus::Differs,
        ));
    }
    let (bblk, bbytes) = block_of(from_dtype).unwrap_or((1, 1));
    if Some(base_t.end - base_t.start) != (elems / bblk).checked_mul(bbytes) {
        return Err(nd(
            op_words,
            "the base tensor's byte length does not match its shape".into(),
        ));
    }
    let mut row = 0;
    if let Some(h) = step.permute {
        let rows = dshape.first().copied().unwrap_or(1);
        if dshape.is_empty() || rows % (2 * h) != 0 {
            return Err(nd(
                format!("permute {h} heads"),
                format!("{rows} rows do not split into {h} heads of an even number of rows"),
            ));
        }
        row = elems.checked_div(rows).unwrap_or(0);
        if convert == Convert::Copy && blk > 1 {
            return Err(nd(
                format!("permute {h} heads"),
                "rows of a quantized base are not permuted".into(),
            ));
        }
        // A permuted row is converted on its own: it must hold whole blocks (a 1-D tensor's
        // rows are single elements, less than a quantization block).
        if row == 0 || row % blk != 0 {
            return Err(nd(
                format!("permute {h} heads"),
                format!("permuted rows of {row} element(s) do not hold whole {to_dtype} blocks of {blk}"),
            ));
        }
    }
    let words = describe(step, &convert);
    Ok((convert, via, row, words))
}

/// Converts `src` (whole base elements) into `out` (whole derived blocks).
fn convert_chunk(
    c: &Convert,
    via: &[Float],
    nan: NanRule,
    src: &[u8],
    out: &mut [u8],
    scratch: &mut Vec<f32>,
) {
    match c {
        Convert::Copy => out.copy_from_slice(src),
        Convert::Cast(a, b) if via.is_empty() => float::cast(*a, *b, nan, src, out),
        // The common case, quantizing an F32 base: a few blocks at a time through a small
        // array that stays in the first-level cache.
        Convert::Quantize(a, q) if via.is_empty() => {
            const BATCH: usize = 256;
            let (bl, bb) = (q.block_len(), q.block_bytes());
            let per = (BATCH / bl).max(1);
            let mut xs = [0f32; BATCH];
            for (s, o) in src
                .chunks(per * bl * a.size())
                .zip(out.chunks_mut(per * bb))
            {
                let n = s.len() / a.size();
                float::widen(*a, s, &mut xs[..n]);
                quant::quantize(*q, &xs[..n], o);
            }
        }
        Convert::Cast(a, _) | Convert::Quantize(a, _) => {
            let n = src.len() / a.size();
            scratch.resize(n, 0.0);
            float::widen(*a, src, scratch);
            for v in via {
                round_through(*v, nan, scratch);
            }
            match c {
                Convert::Cast(_, b) => narrow(*b, nan, scratch, out),
                Convert::Quantize(_, q) => quant::quantize(*q, scratch, out),
                Convert::Copy => unreachable!(),
            }
        }
    }
}

/// Rounds f32 values to `t` and back (exact on the way back).
fn round_through(t: Float, nan: NanRule, xs: &mut [f32]) {
    match t {
        Float::F32 => {}
        Float::F16 => {
            for x in xs.iter_mut() {
                *x = float::f16_to_f32(float::f32_to_f16(*x, nan));
            }
        }
        Float::Bf16 => {
            for x in xs.iter_mut() {
                *x = float::bf16_to_f32(float::f32_to_bf16(*x, nan));
            }
        }
    }
}

/// f32 values to `t`'s little-endian bytes.
fn narrow(t: Float, nan: NanRule, xs: &[f32], out: &mut [u8]) {
    match t {
        Float::F32 => {
            for (o, x) in out.chunks_exact_mut(4).zip(xs) {
                o.copy_from_slice(&x.to_le_bytes());
            }
        }
        Float::F16 => {
            for (o, x) in out.chunks_exact_mut(2).zip(xs) {
                o.copy_from_slice(&float::f32_to_f16(*x, nan).to_le_bytes());
            }
        }
        Float::Bf16 => {
            for (o, x) in out.chunks_exact_mut(2).zip(xs) {
                o.copy_from_slice(&float::f32_to_bf16(*x, nan).to_le_bytes());
            }
        }
    }
}

/// The derived bytes of one planned tensor, from the base tensor's bytes. False when they
/// could not be computed (then `out` holds nothing of this tensor).
fn reproduce(p: &Plan, nan: NanRule, base: &[u8], out: &mut [u8]) -> bool {
    let (bblk, bbytes) = block_of(&p.base.dtype).unwrap_or((1, 1));
    let (dblk, dbytes) = block_of(&p.derived.dtype).unwrap_or((1, 1));
    // Bytes per element on each side, as a ratio of blocks: work in units of `unit` elements,
    // a multiple of both block lengths.
    let unit = bblk.max(dblk) as usize;
    let in_per_unit = (unit as u64 / bblk * bbytes) as usize;
    let out_per_unit = (unit as u64 / dblk * dbytes) as usize;
    match p.permute {
        None => {
            let units_per_task = (TASK_ELEMS / unit).max(1);
            out.par_chunks_mut(units_per_task * out_per_unit)
                .zip(base.par_chunks(units_per_task * in_per_unit))
                .for_each_init(Vec::new, |scratch, (o, s)| {
                    convert_chunk(&p.convert, &p.via, nan, s, o, scratch)
                });
        }
        Some(h) => {
            let row = p.row as usize;
            let in_row = row / unit * in_per_unit;
            let out_row = row / unit * out_per_unit;
            if in_row == 0 || out_row == 0 || !base.len().is_multiple_of(in_row) {
                return false;
            }
            let rows = base.len() / in_row;
            out.par_chunks_mut(out_row)
                .enumerate()
                .with_min_len((TASK_ELEMS / row).max(1))
                .for_each_init(Vec::new, |scratch, (o_row, o)| {
                    let src_row = source_row(o_row as u64, rows as u64, h) as usize;
                    let s = &base[src_row * in_row..(src_row + 1) * in_row];
                    convert_chunk(&p.convert, &p.via, nan, s, o, scratch)
                });
        }
    }
    true
}

/// Base bytes read, hashed and converted per parallel task: a BLAKE3 subtree (a power of two
/// of at least 16 KiB, [`crate::tree::ChunkSize`]) and a multiple of every conversion unit.
const PIECE: usize = 1 << 20;
/// Elements converted at a time within a piece (so a piece's f32 scratch stays in cache).
const SUB_ELEMS: usize = 1 << 14;

/// Converts `src` into `out` in spans of about [`SUB_ELEMS`] elements.
fn convert_span(p: &Plan, nan: NanRule, src: &[u8], out: &mut [u8], scratch: &mut Vec<f32>) {
    let (in_unit, out_unit, unit) = units(p);
    let per = (SUB_ELEMS / unit).max(1);
    for (s, o) in src
        .chunks(per * in_unit)
        .zip(out.chunks_mut(per * out_unit))
    {
        convert_chunk(&p.convert, &p.via, nan, s, o, scratch);
    }
}

/// (base bytes, derived bytes, elements) of one conversion unit: a whole number of blocks of
/// both dtypes (for a copy, one byte).
fn units(p: &Plan) -> (usize, usize, usize) {
    if p.convert == Convert::Copy {
        return (1, 1, 1);
    }
    let (bblk, bbytes) = block_of(&p.base.dtype).unwrap_or((1, 1));
    let (dblk, dbytes) = block_of(&p.derived.dtype).unwrap_or((1, 1));
    let unit = bblk.max(dblk);
    (
        (unit / bblk * bbytes) as usize,
        (unit / dblk * dbytes) as usize,
        unit as usize,
    )
}

/// Reads the base tensor of `p` from `f` in [`PIECE`]s, in parallel; each piece is read into a
/// private buffer, hashed as its BLAKE3 subtree and converted into its part of `out` from that
/// same buffer. Returns the BLAKE3 of the base tensor's bytes (from the subtrees).
fn stream(p: &Plan, nan: NanRule, f: &File, out: &mut [u8]) -> std::io::Result<Digest> {
    let blen = (p.base.end - p.base.start) as usize;
    let (in_unit, out_unit, _) = units(p);
    if blen <= PIECE {
        let mut buf = vec![0u8; blen];
        f.read_exact_at(&mut buf, p.base.start)?;
        convert_span(p, nan, &buf, out, &mut Vec::new());
        return Ok(Digest(*blake3::hash(&buf).as_bytes()));
    }
    debug_assert_eq!(PIECE % in_unit, 0);
    let cs = crate::tree::ChunkSize::new(PIECE as u64).expect("a valid chunk size");
    let out_piece = PIECE / in_unit * out_unit;
    let cvs: Vec<Digest> = out
        .par_chunks_mut(out_piece)
        .enumerate()
        .map_init(
            || (vec![0u8; PIECE], Vec::new()),
            |(buf, scratch), (i, o)| -> std::io::Result<Digest> {
                let at = i * PIECE;
                let len = PIECE.min(blen - at);
                let b = &mut buf[..len];
                f.read_exact_at(b, p.base.start + at as u64)?;
                let cv = crate::tree::chunk_value(cs, i as u64, b);
                convert_span(p, nan, b, o, scratch);
                Ok(cv)
            },
        )
        .collect::<std::io::Result<_>>()?;
    Ok(crate::tree::root_from_chunks(&cvs).expect("more than one piece"))
}

/// A derived tensor file's tensor table as its header says: the header parsed and hashed,
/// each tensor's name, dtype, shape and range (sorted as a manifest sorts them). The tensors'
/// bytes are not hashed here: each planned tensor's bytes are compared with its recomputation,
/// whose BLAKE3 must be the recorded digest ([`run_one`]), so hashing them here too would read
/// them twice; a tensor that is not recomputed is not reproduced anyway.
fn table_of(
    f: &File,
    format: Format,
) -> std::io::Result<Result<crate::manifest::TensorFile, String>> {
    let size = f.metadata()?.len();
    let layout = match crate::formats::parse(f, size, format) {
        Ok(l) => l,
        Err(e) => return Ok(Err(format!("its header does not parse: {e}"))),
    };
    let header =
        crate::tree::hash_regions(f, &[(0, layout.header_len)], &crate::progress::NoProgress)?[0];
    let mut tensors: Vec<Tensor> = layout
        .tensors
        .iter()
        .map(|t| Tensor::from_info(t, Digest::default()))
        .collect();
    tensors.sort_by(|a, b| (a.start, a.name.as_bytes()).cmp(&(b.start, b.name.as_bytes())));
    Ok(Ok(crate::manifest::TensorFile {
        format: layout.format,
        header_len: layout.header_len,
        header,
        tensors,
        metadata: None,
    }))
}

/// Whether a file's tensor table (`found`, from [`table_of`]) is the one the manifest records
/// (`tf`): the header, and each tensor's name, dtype, shape and range; else the first
/// difference in words.
fn same_table(
    tf: &crate::manifest::TensorFile,
    found: Result<crate::manifest::TensorFile, String>,
) -> Result<(), String> {
    let found = found?;
    if found.header_len != tf.header_len || found.header != tf.header {
        return Err("its header is not the one the manifest records".into());
    }
    if found.tensors.len() != tf.tensors.len() {
        return Err(format!(
            "its header lists {} tensor(s), the manifest {}",
            found.tensors.len(),
            tf.tensors.len()
        ));
    }
    for (f, m) in found.tensors.iter().zip(&tf.tensors) {
        let same = (&f.name, &f.dtype, &f.shape, f.start, f.end)
            == (&m.name, &m.dtype, &m.shape, m.start, m.end);
        if !same {
            return Err(format!(
                "tensor {:?} at bytes {}..{} is not the manifest's {:?} at {}..{} (name, dtype, shape or range)",
                f.name.chars().take(200).collect::<String>(),
                f.start,
                f.end,
                m.name.chars().take(200).collect::<String>(),
                m.start,
                m.end
            ));
        }
    }
    Ok(())
}

/// What recomputing one tensor found.
struct Outcome {
    status: TensorStatus,
    detail: String,
    first_block: Option<u64>,
    /// Base bytes read.
    read: u64,
}

/// What every tensor's recomputation shares.
struct Ctx<'a> {
    nan: NanRule,
    /// The base's files, and the derived release's when it is on disk, by manifest path.
    base: BTreeMap<String, File>,
    derived: Option<BTreeMap<String, File>>,
    /// Derived files that do not match the derived manifest (bytes or tensor table).
    failed: &'a [String],
    tables: &'a [(String, String)],
    progress: &'a dyn Progress,
}

/// Opens `paths` of a local release (none for a release at a URL). With `skip`, paths that
/// cannot be opened are left out (a derived file its verification already found missing).
fn open_all<'p>(
    ev: &Evidence,
    paths: impl Iterator<Item = &'p str>,
    skip: &[String],
) -> Result<Option<BTreeMap<String, File>>, DeriveError> {
    let Some(mut o) = Opener::new(ev)? else {
        return Ok(None);
    };
    for p in paths {
        match o.file(p) {
            Ok(_) => {}
            Err(_) if skip.iter().any(|s| s == p) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some(o.open))
}

/// Recomputes one derived tensor from its base tensor and compares: with the derived file's
/// bytes when it is on disk (that file verified against its manifest and its tensor table
/// checked, equal bytes are the recorded digest), else with the recorded digest.
fn run_one(
    c: &Ctx,
    p: &Plan,
    inbuf: &mut Vec<u8>,
    outbuf: &mut Vec<u8>,
) -> Result<Outcome, DeriveError> {
    let out = |status, detail: String, first_block, read| Outcome {
        status,
        detail,
        first_block,
        read,
    };
    let blen = (p.base.end - p.base.start) as usize;
    let bf = &c.base[p.base_file];
    let io = |source| DeriveError::Io {
        path: format!("{} (base)", p.base_file),
        source,
    };
    // The manifest's ranges are read only where the file holds them: a manifest claiming a
    // tensor past the end of the file costs no allocation.
    let on_disk = bf.metadata().map_err(io)?.len();
    if on_disk < p.base.end {
        return Ok(out(
            TensorStatus::BaseModified,
            format!(
                "the base file {} is {on_disk} bytes, shorter than the manifest records (tensor {} ends at {})",
                p.base_file, p.base.name, p.base.end
            ),
            None,
            0,
        ));
    }
    // Buffers are kept from tensor to tensor and grown, never zeroed again: every byte used is
    // overwritten (by the read, by the conversion).
    let dlen = (p.derived.end - p.derived.start) as usize;
    if outbuf.len() < dlen {
        outbuf.resize(dlen, 0);
    }
    let mut filled = true;
    let base_digest = match p.permute {
        // Streamed: each piece read once into a private buffer, hashed (a BLAKE3 subtree) and
        // converted from that same buffer.
        None => stream(p, c.nan, bf, &mut outbuf[..dlen]).map_err(io)?,
        // Rows are taken out of order: the whole tensor is read first.
        Some(_) => {
            if inbuf.len() < blen {
                inbuf.resize(blen, 0);
            }
            read_into(bf, p.base.start, &mut inbuf[..blen]).map_err(io)?;
            let d = hash(&inbuf[..blen]);
            if d == p.base.digest {
                filled = reproduce(p, c.nan, &inbuf[..blen], &mut outbuf[..dlen]);
            }
            d
        }
    };
    c.progress.advance(blen as u64);
    if base_digest != p.base.digest {
        return Ok(out(
            TensorStatus::BaseModified,
            format!(
                "the base file {} does not hold the bytes its manifest records for {}",
                p.base_file, p.base.name
            ),
            None,
            blen as u64,
        ));
    }
    if !filled {
        // Never compared: the buffer holds nothing of this tensor (planning refuses such rows).
        return Ok(out(
            TensorStatus::NotDerivable,
            "its permuted rows do not hold whole blocks".into(),
            None,
            blen as u64,
        ));
    }
    let outb = &outbuf[..dlen];
    let (_, dbytes) = block_of(&p.derived.dtype).unwrap_or((1, 1));
    let Some(files) = &c.derived else {
        // At a URL: the manifest's record is all there is to compare with.
        let got = hash(outb);
        return Ok(if got == p.derived.digest {
            out(TensorStatus::Reproduced, String::new(), None, blen as u64)
        } else {
            out(
                TensorStatus::Differs,
                format!(
                    "the derived manifest records {}, the reproduction is {got}",
                    p.derived.digest
                ),
                None,
                blen as u64,
            )
        });
    };
    let Some(file) = files.get(p.derived_file) else {
        return Ok(out(
            TensorStatus::Differs,
            format!("the derived file {} cannot be read", p.derived_file),
            None,
            blen as u64,
        ));
    };
    let (first, got) =
        first_difference(file, p.derived.start, outb).map_err(|source| DeriveError::Io {
            path: format!("{} (derived)", p.derived_file),
            source,
        })?;
    let file_bad = c.failed.iter().any(|f| f == p.derived_file);
    // Equal bytes are the recorded digest only if the file did not change since it was
    // verified: an attestation signs the manifest, so its digest must be the recomputation's.
    if first.is_none() && !file_bad && got != p.derived.digest {
        return Ok(out(
            TensorStatus::Differs,
            format!(
                "the file {} now holds the reproduction, but the derived manifest records {} for this tensor, the reproduction is {got} (the file changed while it was checked)",
                p.derived_file, p.derived.digest
            ),
            None,
            blen as u64,
        ));
    }
    if first.is_none() && !file_bad {
        return Ok(out(
            TensorStatus::Reproduced,
            String::new(),
            None,
            blen as u64,
        ));
    }
    let table = c.tables.iter().find(|(f, _)| f == p.derived_file);
    let detail = match (table, first) {
        (Some((_, why)), _) => format!(
            "its file {} is not what the derived manifest records: {why}",
            p.derived_file
        ),
        (None, Some(b)) => format!(
            "block {} (bytes {}..{} of the tensor) differs from the reproduction",
            b / dbytes,
            b / dbytes * dbytes,
            (b / dbytes + 1) * dbytes
        ),
        (None, None) => format!(
            "the reproduction equals these bytes, but the file {} does not match the derived manifest",
            p.derived_file
        ),
    };
    Ok(out(
        TensorStatus::Differs,
        detail,
        first.map(|b| b / dbytes),
        blen as u64,
    ))
}

/// The base row of derived row `o` under llama.cpp's Q/K permutation of `rows` rows with
/// `heads` heads (spec/derive.md, "Row permutation"): derived row (head, i, j) is base row
/// (head, j, i) of `reshape(heads, 2, rows / heads / 2, ...)`. `rows` must be a multiple of
/// `2 * heads`.
pub fn source_row(o: u64, rows: u64, heads: u64) -> u64 {
    let per_head = rows / heads;
    let half = per_head / 2;
    let (head, r) = (o / per_head, o % per_head);
    let (i, j) = (r / 2, r % 2);
    head * per_head + j * half + i
}

fn hash(b: &[u8]) -> Digest {
    let mut h = blake3::Hasher::new();
    if b.len() >= 1 << 20 {
        h.update_rayon(b);
    } else {
        h.update(b);
    }
    Digest(*h.finalize().as_bytes())
}

/// Reads `len` bytes at `at` of `f` into `buf`, in parallel pieces.
fn read_into(f: &File, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
    const PIECE: usize = 8 << 20;
    buf.par_chunks_mut(PIECE)
        .enumerate()
        .try_for_each(|(i, b)| f.read_exact_at(b, at + (i * PIECE) as u64))
}

/// The first byte where `f` at `at` differs from `want`, if any (a short file differs where
/// it ends), and the BLAKE3 of `want`, hashed in [`COMPARE_CHUNK`] subtrees as each is
/// compared (so equal bytes are known to be the digest a manifest records without a second
/// pass).
fn first_difference(f: &File, at: u64, want: &[u8]) -> std::io::Result<(Option<u64>, Digest)> {
    let cs = crate::tree::ChunkSize::new(COMPARE_CHUNK as u64).expect("a valid chunk size");
    let single = want.len() <= COMPARE_CHUNK;
    let found: Vec<(Option<u64>, Digest)> = want
        .par_chunks(COMPARE_CHUNK)
        .enumerate()
        .map_init(
            Vec::new,
            |b, (i, w)| -> std::io::Result<(Option<u64>, Digest)> {
                b.resize(w.len(), 0);
                let off = (i * COMPARE_CHUNK) as u64;
                // One piece is the whole tensor: its digest is hashed once, below.
                let cv = if single {
                    Digest::default()
                } else {
                    crate::tree::chunk_value(cs, i as u64, w)
                };
                let mut got = 0;
                while got < b.len() {
                    match f.read_at(&mut b[got..], at + off + got as u64)? {
                        0 => break,
                        n => got += n,
                    }
                }
                if got == w.len() && w == &b[..] {
                    return Ok((None, cv));
                }
                let first = w
                    .iter()
                    .zip(&b[..got])
                    .position(|(x, y)| x != y)
                    .or((got < w.len()).then_some(got))
                    .map(|p| off + p as u64);
                Ok((first, cv))
            },
        )
        .collect::<std::io::Result<_>>()?;
    let digest = if single {
        hash(want)
    } else {
        let cvs: Vec<Digest> = found.iter().map(|(_, d)| *d).collect();
        crate::tree::root_from_chunks(&cvs).expect("more than one chunk")
    };
    Ok((found.into_iter().filter_map(|(p, _)| p).min(), digest))
}

/// Where each file of a local release is opened from.
struct Opener {
    dir: Dir,
    only: Option<String>,
    open: BTreeMap<String, File>,
}

impl Opener {
    fn new(ev: &Evidence) -> Result<Option<Opener>, DeriveError> {
        match &ev.place {
            Place::Local { dir, only, .. } => Ok(Some(Opener {
                dir: Dir::open(dir, false)?,
                only: only.clone(),
                open: BTreeMap::new(),
            })),
            Place::Remote(_) => Ok(None),
        }
    }

    fn file(&mut self, path: &str) -> Result<&File, DeriveError> {
        if !self.open.contains_key(path) {
            let f = match &self.only {
                Some(name) => self.dir.open_file(name, Access::Read)?,
                None => self.dir.open_path(path, Access::Read)?,
            };
            self.open.insert(path.to_string(), f);
        }
        Ok(&self.open[path])
    }
}

fn manifest_of<'e>(ev: &'e Evidence, what: &'static str) -> Result<&'e Manifest, DeriveError> {
    match &ev.signed {
        Signed::Weightseal(w) => Ok(&w.manifest),
        Signed::Oms(_) => Err(DeriveError::NotWeightseal(what)),
    }
}

/// Checks that `derived` is reproduced from `base`: the base judged against `ask`, then every
/// derived tensor recomputed from the base's verified bytes with `recipe` (the same-name,
/// dtype-inferred recipe when `None`).
pub fn check(
    base: &Evidence,
    derived: &Evidence,
    ask: &Ask,
    recipe: Option<&Recipe>,
    progress: &dyn Progress,
) -> Result<DeriveReport, DeriveError> {
    let default_recipe = Recipe::default();
    let recipe = recipe.unwrap_or(&default_recipe);
    let bm = manifest_of(base, "base")?;
    let dm = manifest_of(derived, "derived release")?;
    if !matches!(base.place, Place::Local { .. }) {
        return Err(DeriveError::BaseNotLocal);
    }
    let verdict = crate::release::admit(base, ask)?;
    let derived_names: Vec<&str> = dm.tensors().map(|(_, t)| t.name.as_str()).collect();
    let mut report = DeriveReport {
        ok: false,
        base: verdict,
        derived_name: dm.name().to_string(),
        derived_digest: dm.digest(),
        recipe_digest: recipe.digest(derived_names.iter().copied()),
        recipe: recipe.to_toml(derived_names.iter().copied()),
        derived_files: None,
        derived_read: false,
        derived_tables: Vec::new(),
        tensors: Vec::new(),
        files: Vec::new(),
        unused_base_tensors: 0,
        base_bytes: 0,
        reasons: Vec::new(),
    };
    if !report.base.ok() {
        // Nothing is derived from a base that is not verified.
        return Ok(report.judge());
    }
    // A derived release on disk: its files against its own manifest (integrity only).
    if let Place::Local { .. } = derived.place {
        let integrity = Ask::new(&AskOptions {
            trust_store: false,
            allow_unsigned: true,
            ..Default::default()
        })
        .expect("integrity only is a valid question");
        let v = crate::release::verify(
            derived,
            &integrity,
            &CheckOptions::default(),
            &crate::progress::NoProgress,
        )?;
        report.derived_files = v.files;
    }
    let mut failed_files: Vec<String> = report
        .derived_files
        .iter()
        .flat_map(|r| r.files.iter())
        .filter(|f| f.status != crate::verify::FileStatus::Ok)
        .map(|f| f.path.clone())
        .collect();
    // The derived manifest's tensor table against its files: the file tree verified above
    // covers every byte, but the tensor digests and ranges the reproduction is compared with
    // are the derived publisher's claims about those bytes. Each tensor file's header is
    // parsed again and its tensors hashed, and the table must be the manifest's (a runtime
    // loads what the header says, not what the manifest says).
    let mut derived_files = Opener::new(derived)?;
    if let Some(o) = derived_files.as_mut() {
        report.derived_read = true;
        for f in dm.files() {
            let Some(tf) = &f.tensors else { continue };
            let path = f.path.as_str();
            if failed_files.iter().any(|p| p == path) {
                continue;
            }
            let file = o.file(path)?;
            let found = table_of(file, tf.format).map_err(|source| DeriveError::Io {
                path: format!("{path} (derived)"),
                source,
            })?;
            if let Err(why) = same_table(tf, found) {
                failed_files.push(path.to_string());
                report.derived_tables.push((path.to_string(), why));
            }
        }
    }

    // The base's tensors by name (a name in two files is ambiguous).
    let mut base_by_name: BTreeMap<&str, Vec<(&str, Format, &Tensor)>> = BTreeMap::new();
    for f in bm.files() {
        if let Some(tf) = &f.tensors {
            for t in &tf.tensors {
                base_by_name.entry(t.name.as_str()).or_default().push((
                    f.path.as_str(),
                    tf.format,
                    t,
                ));
            }
        }
    }
    let mut used: std::collections::BTreeSet<&str> = Default::default();
    let mut plans: Vec<Plan> = Vec::new();
    for f in dm.files() {
        let Some(tf) = &f.tensors else { continue };
        for d in &tf.tensors {
            let step = recipe.step(&d.name);
            let mut r = TensorReport {
                name: d.name.clone(),
                file: f.path.as_str().to_string(),
                dtype: d.dtype.clone(),
                from: Some(step.from.clone()),
                base_file: None,
                operation: String::new(),
                status: TensorStatus::NotDerivable,
                detail: String::new(),
                first_block: None,
            };
            let candidates = base_by_name.get(step.from.as_str());
            match candidates.map(Vec::as_slice) {
                None | Some([]) => {
                    r.operation = "none".into();
                    r.detail = format!("the base has no tensor {:?}", step.from);
                }
                Some([_, _, ..]) => {
                    r.operation = "none".into();
                    r.detail = format!("the base has tensor {:?} in more than one file", step.from);
                }
                Some([(bfile, bfmt, bt)]) => {
                    r.base_file = Some(bfile.to_string());
                    used.insert(bt.name.as_str());
                    match plan_one(&step, bt, *bfmt, d, tf.format) {
                        Ok((convert, via, row, words)) => {
                            r.operation = words;
                            plans.push(Plan {
                                report: report.tensors.len(),
                                derived: d,
                                derived_file: f.path.as_str(),
                                base: bt,
                                base_file: bfile,
                                convert,
                                via,
                                permute: step.permute,
                                row,
                            });
                        }
                        Err((op, detail, status)) => {
                            r.operation = op;
                            r.detail = detail;
                            r.status = status;
                        }
                    }
                }
            }
            report.tensors.push(r);
        }
    }
    report.unused_base_tensors = base_by_name.keys().filter(|n| !used.contains(*n)).count();

    // Recompute. Tensors of at most one piece run side by side, one per core; larger ones
    // one at a time, each spread over every core. Memory: the largest derived tensor (a
    // permuted one: also its base tensor), plus a piece and a small tensor per core.
    let total: u64 = plans.iter().map(|p| p.base.end - p.base.start).sum();
    progress.set_total(total);
    let ctx = Ctx {
        nan: recipe.nan,
        base: open_all(base, plans.iter().map(|p| p.base_file), &[])?
            .ok_or(DeriveError::BaseNotLocal)?,
        derived: open_all(derived, plans.iter().map(|p| p.derived_file), &failed_files)?,
        failed: &failed_files,
        tables: &report.derived_tables,
        progress,
    };
    let (small, large): (Vec<&Plan>, Vec<&Plan>) = plans
        .iter()
        .partition(|p| p.permute.is_none() && (p.base.end - p.base.start) as usize <= PIECE);
    let mut outcomes: Vec<(usize, Outcome)> = small
        .par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(inbuf, outbuf), p| run_one(&ctx, p, inbuf, outbuf).map(|o| (p.report, o)),
        )
        .collect::<Result<_, _>>()?;
    let (mut inbuf, mut outbuf) = (Vec::new(), Vec::new());
    for p in large {
        outcomes.push((p.report, run_one(&ctx, p, &mut inbuf, &mut outbuf)?));
    }
    drop(inbuf);
    drop(outbuf);
    for (i, o) in outcomes {
        let r = &mut report.tensors[i];
        r.status = o.status;
        r.detail = o.detail;
        r.first_block = o.first_block;
        report.base_bytes += o.read;
    }

    // The other files: the base's bytes, or new by the recipe.
    for f in dm.files() {
        let status = if f.tensors.is_some() {
            FileStatus::Tensors
        } else if recipe.new_files.contains(f.path.as_str()) {
            FileStatus::New
        } else if let Some(b) = bm
            .file(f.path.as_str())
            .filter(|b| b.tree.root == f.tree.root && b.tree.size == f.tree.size)
            .or_else(|| {
                bm.files()
                    .iter()
                    .find(|b| b.tree.root == f.tree.root && b.tree.size == f.tree.size)
            })
        {
            FileStatus::Identical {
                base_path: b.path.as_str().to_string(),
            }
        } else {
            FileStatus::NotInBase
        };
        report.files.push(FileReport {
            path: f.path.as_str().to_string(),
            status,
        });
    }
    Ok(report.judge())
}

/// What a reproducer states besides the derivation itself.
#[derive(Clone, Debug)]
pub struct ReproducerClaims {
    /// The role (default `reproducer`).
    pub role: String,
    pub signer: String,
    pub issued_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// The reproduction attestation for a report that is ok: a DSSE envelope around an in-toto
/// statement about the derived manifest, with predicate type [`PREDICATE_TYPE`], naming the
/// base manifest and the recipe digest. Refused unless every tensor was reproduced.
pub fn attest(
    report: &DeriveReport,
    key: &PrivateKey,
    claims: &ReproducerClaims,
) -> Result<Envelope, DeriveError> {
    if !report.ok() {
        return Err(DeriveError::NotReproduced(report.reasons.join("; ")));
    }
    let base_digest = report
        .base
        .manifest_digest
        .ok_or_else(|| DeriveError::NotReproduced("the base has no manifest digest".into()))?;
    let derivation = crate::attest::statement::Derivation {
        base: Subject {
            name: report.base.name.clone(),
            digest: DigestSet {
                blake3: base_digest.to_hex(),
            },
        },
        recipe: DigestSet {
            blake3: report.recipe_digest.to_hex(),
        },
        tensors: report.tensors.len() as u64,
        tool: format!("weightseal {}", env!("CARGO_PKG_VERSION")),
    };
    let envelope = crate::attest::attest_derivation(
        &report.derived_name,
        report.derived_digest,
        key,
        &claims.role,
        &claims.signer,
        claims.issued_at,
        claims.expires_at,
        derivation,
    )?;
    Ok(envelope)
}

/// Signs the reproduction attestation of `report` and writes it into the bundle of the derived
/// release at `derived` (a directory or model file on disk, gathered as `ev`), in place of one
/// the same key made about the same manifest in the same role. Returns the bundle's path.
pub fn add_attestation(
    derived: &std::path::Path,
    ev: &Evidence,
    report: &DeriveReport,
    key: &PrivateKey,
    claims: &ReproducerClaims,
) -> Result<std::path::PathBuf, DeriveError> {
    let m = manifest_of(ev, "derived release")?;
    if m.digest() != report.derived_digest || m.name() != report.derived_name {
        return Err(DeriveError::NotReproduced(format!(
            "the derived manifest is now {} ({}), not the {} ({}) that was checked",
            m.name(),
            m.digest(),
            report.derived_name,
            report.derived_digest
        )));
    }
    let env = attest(report, key, claims)?;
    let target = crate::path::ModelTarget::resolve(derived, None).map_err(|e| DeriveError::Io {
        path: derived.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let path = target.attestations();
    let io = |source| DeriveError::Io {
        path: path.display().to_string(),
        source,
    };
    let existing = crate::fsutil::read_regular(&path, crate::attest::bundle::MAX_BUNDLE_LEN)
        .map_err(io)?
        .map(|b| String::from_utf8(b).map_err(|_| io(std::io::Error::other("not UTF-8"))))
        .transpose()?
        .unwrap_or_default();
    let (text, _) = crate::publish::upsert(&existing, &env, key, m, &claims.role);
    crate::fsutil::write_atomic(&path, text.as_bytes(), 0o644).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The derived file's bytes at the manifest's range are the recomputation, but the digest
    /// the derived manifest records is another (the file verified against it was changed, or
    /// served differently, between the verification and the comparison): not reproduced, since
    /// an attestation signs the manifest, whose digests then name other bytes.
    #[test]
    fn equal_bytes_under_another_recorded_digest_are_not_reproduced() {
        let dir = tempfile::tempdir().unwrap();
        let bytes: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("b"), &bytes).unwrap();
        std::fs::write(dir.path().join("d"), &bytes).unwrap();
        let open = |n: &str| File::open(dir.path().join(n)).unwrap();
        let tensor = |digest| Tensor {
            name: "t".into(),
            dtype: "U8".into(),
            shape: vec![bytes.len() as u64],
            start: 0,
            end: bytes.len() as u64,
            digest,
        };
        let real = Digest(*blake3::hash(&bytes).as_bytes());
        for (recorded, want) in [
            (real, TensorStatus::Reproduced),
            (Digest([7; 32]), TensorStatus::Differs),
        ] {
            let (base, derived) = (tensor(real), tensor(recorded));
            let plan = Plan {
                report: 0,
                derived: &derived,
                derived_file: "d",
                base: &base,
                base_file: "b",
                convert: Convert::Copy,
                via: Vec::new(),
                permute: None,
                row: 0,
            };
            let ctx = Ctx {
                nan: NanRule::Keep,
                base: [("b".to_string(), open("b"))].into(),
                derived: Some([("d".to_string(), open("d"))].into()),
                failed: &[],
                tables: &[],
                progress: &crate::progress::NoProgress,
            };
            let o = run_one(&ctx, &plan, &mut Vec::new(), &mut Vec::new()).unwrap();
            assert_eq!(o.status, want, "{}", o.detail);
        }
    }
}
