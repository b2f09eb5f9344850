//! Comparing tensors and manifests: what was added, removed or changed, file by file and
//! tensor by tensor, and whether two tensor sets are the same under different sharding.
//! Used by `verify` (to name the tensors of a modified file, and in re-shard-tolerant mode)
//! and by `diff`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::digest::Digest;
use crate::formats::MetadataEntry;
use crate::manifest::{Manifest, Tensor};
use crate::verify::{differing_ranges, ByteRange};

/// A tensor whose dtype or shape differs (its bytes then differ too, as a matter of course).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retyped {
    pub name: String,
    pub expected_dtype: String,
    pub found_dtype: String,
    pub expected_shape: Vec<u64>,
    pub found_shape: Vec<u64>,
}

/// How one list of tensors differs from another, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TensorDiff {
    /// Same name, dtype and shape; different bytes.
    pub changed: Vec<String>,
    /// Same name; different dtype or shape.
    pub retyped: Vec<Retyped>,
    /// In the expected list only.
    pub removed: Vec<String>,
    /// In the found list only.
    pub added: Vec<String>,
    /// Number of names identical on both sides.
    pub same: usize,
}

impl TensorDiff {
    /// No difference at all.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
            && self.retyped.is_empty()
            && self.removed.is_empty()
            && self.added.is_empty()
    }

    /// Names of every tensor that differs in any way, sorted.
    pub fn differing_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .changed
            .iter()
            .chain(&self.removed)
            .chain(&self.added)
            .map(String::as_str)
            .chain(self.retyped.iter().map(|r| r.name.as_str()))
            .collect();
        v.sort_unstable();
        v
    }
}

/// Compares tensors by name. A name present several times on a side (possible across the
/// files of a model) is compared as the sorted list of its (dtype, shape, digest) values.
pub fn diff_tensors<'a, 'b>(
    expected: impl IntoIterator<Item = &'a Tensor>,
    found: impl IntoIterator<Item = &'b Tensor>,
) -> TensorDiff {
    let group = |ts: Vec<&Tensor>| {
        let mut m: BTreeMap<String, Vec<(String, Vec<u64>, Digest)>> = BTreeMap::new();
        for t in ts {
            m.entry(t.name.clone())
                .or_default()
                .push((t.dtype.clone(), t.shape.clone(), t.digest));
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    };
    let a = group(expected.into_iter().collect());
    let b = group(found.into_iter().collect());
    let mut d = TensorDiff::default();
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for name in names {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) if x == y => d.same += 1,
            (Some(x), Some(y)) => {
                let types = |v: &Vec<(String, Vec<u64>, Digest)>| {
                    v.iter()
                        .map(|t| (t.0.clone(), t.1.clone()))
                        .collect::<Vec<_>>()
                };
                if types(x) == types(y) {
                    d.changed.push(name.clone());
                } else {
                    d.retyped.push(Retyped {
                        name: name.clone(),
                        expected_dtype: x[0].0.clone(),
                        found_dtype: y[0].0.clone(),
                        expected_shape: x[0].1.clone(),
                        found_shape: y[0].1.clone(),
                    });
                }
            }
            (Some(_), None) => d.removed.push(name.clone()),
            (None, Some(_)) => d.added.push(name.clone()),
            (None, None) => unreachable!("name comes from one side"),
        }
    }
    d
}

/// The metadata keys whose values differ between two lists of entries (including keys on one
/// side only), sorted. A key present several times on a side (several files of a model) is
/// compared as the set of its digests.
pub fn diff_metadata<'a, 'b>(
    expected: impl IntoIterator<Item = &'a MetadataEntry>,
    found: impl IntoIterator<Item = &'b MetadataEntry>,
) -> Vec<String> {
    fn group<'x>(
        es: impl IntoIterator<Item = &'x MetadataEntry>,
    ) -> BTreeMap<String, BTreeSet<Digest>> {
        let mut m: BTreeMap<String, BTreeSet<Digest>> = BTreeMap::new();
        for e in es {
            m.entry(e.key.clone()).or_default().insert(e.digest);
        }
        m
    }
    let a = group(expected);
    let b = group(found);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// A file present on both sides with different bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileChange {
    pub path: String,
    pub size_a: u64,
    pub size_b: u64,
    /// Differing chunk ranges, when both manifests use the same chunk size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<ByteRange>>,
    /// Tensor differences, when both sides record this file's tensors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensors: Option<TensorDiff>,
    /// Whether the tensor file's header bytes differ (when both sides record it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_changed: Option<bool>,
    /// Metadata keys whose values differ (when both sides record the file's metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_changed: Option<Vec<String>>,
    /// The exact differing bytes, as runs (when both files were at hand: see
    /// [`detail_changes`]); at most [`MAX_BYTE_RUNS`] of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Vec<ByteRange>>,
    /// How many runs of differing bytes there are in all (more than `bytes` lists when capped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte_runs: Option<u64>,
    /// How many bytes differ in all (the sum of every run's length, listed or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_differing: Option<u64>,
    /// Every run, listed or not, at the resolution of a picture: runs closer than
    /// 1/[`COVERAGE_BINS`] of the file merged (never dropped). For drawing to scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Vec<ByteRange>>,
    /// A unified diff, for a small text file (config, tokenizer) whose two versions were at hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_diff: Option<String>,
}

impl FileChange {
    fn set_differing(&mut self, x: Differing) {
        self.bytes = Some(x.runs);
        self.byte_runs = Some(x.total);
        self.bytes_differing = Some(x.bytes);
        self.coverage = Some(x.coverage);
    }
}

/// Most runs of differing bytes listed per file.
pub const MAX_BYTE_RUNS: usize = 64;
/// The resolution of [`FileChange::coverage`]: a file's span in this many equal bins.
pub const COVERAGE_BINS: u64 = 1000;

/// The differing bytes of two files: the first [`MAX_BYTE_RUNS`] runs, how many runs and bytes
/// in all, and every run at picture resolution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Differing {
    pub runs: Vec<ByteRange>,
    pub total: u64,
    pub bytes: u64,
    pub coverage: Vec<ByteRange>,
}
/// Largest file (either side) shown as a unified diff.
pub const MAX_TEXT_DIFF: u64 = 1 << 20;

/// Adds what only the files themselves can tell to the changed files of `d`: the exact
/// differing bytes (read only inside the differing chunk ranges when they are known) and, for
/// small UTF-8 text files, a unified diff. `locate` gives the two files of a manifest path.
pub fn detail_changes(
    d: &mut ManifestDiff,
    locate: &dyn Fn(&str) -> (std::path::PathBuf, std::path::PathBuf),
) -> std::io::Result<()> {
    for c in &mut d.files_changed {
        let (pa, pb) = locate(&c.path);
        let (x, text) = compare_files(&c.path, &pa, &pb, c.ranges.as_deref(), c.size_a, c.size_b)?;
        c.set_differing(x);
        c.text_diff = text;
    }
    Ok(())
}

/// The exact differing bytes of two versions `a` and `b` of the file at manifest path `path`
/// (read only inside `ranges` when given) and, when both are at most [`MAX_TEXT_DIFF`] bytes,
/// a unified diff of them as text. A small file is read once, for both.
pub fn compare_files(
    path: &str,
    a: &std::path::Path,
    b: &std::path::Path,
    ranges: Option<&[ByteRange]>,
    size_a: u64,
    size_b: u64,
) -> std::io::Result<(Differing, Option<String>)> {
    if size_a > MAX_TEXT_DIFF || size_b > MAX_TEXT_DIFF {
        return Ok((differing_bytes(a, b, ranges, size_a, size_b)?, None));
    }
    let (a, b) = (std::fs::read(a)?, std::fs::read(b)?);
    let x = differing_runs(&a[..], &b[..], ranges, a.len() as u64, b.len() as u64)?;
    Ok((x, text_diff(path, &a, &b)))
}

/// A unified diff (3 lines of context, headers `a/PATH` and `b/PATH`) of two versions of a
/// file, when both are UTF-8 text without NUL bytes.
pub fn text_diff(path: &str, a: &[u8], b: &[u8]) -> Option<String> {
    fn text(v: &[u8]) -> Option<&str> {
        std::str::from_utf8(v).ok().filter(|t| !t.contains('\0'))
    }
    let (ta, tb) = (text(a)?, text(b)?);
    Some(
        similar::TextDiff::from_lines(ta, tb)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
    )
}

/// The runs of bytes that differ between files `a` and `b` (sizes `size_a`, `size_b`), looking
/// only inside `ranges` when given: the first [`MAX_BYTE_RUNS`] runs, the number of runs and
/// the number of differing bytes. Bytes past the end of the shorter file differ.
pub fn differing_bytes(
    a: &std::path::Path,
    b: &std::path::Path,
    ranges: Option<&[ByteRange]>,
    size_a: u64,
    size_b: u64,
) -> std::io::Result<Differing> {
    let fa = std::fs::File::open(a)?;
    let fb = std::fs::File::open(b)?;
    differing_runs(&fa, &fb, ranges, size_a, size_b)
}

/// Bytes at an offset, from a file or from memory.
trait ReadAt {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// [`differing_bytes`] over any two byte sources.
fn differing_runs<A: ReadAt + ?Sized, B: ReadAt + ?Sized>(
    fa: &A,
    fb: &B,
    ranges: Option<&[ByteRange]>,
    size_a: u64,
    size_b: u64,
) -> std::io::Result<Differing> {
    let whole = [ByteRange {
        start: 0,
        end: size_a.max(size_b),
    }];
    let ranges = ranges.unwrap_or(&whole);
    let common = size_a.min(size_b);
    let mut runs: Vec<ByteRange> = Vec::new();
    let mut total = 0u64;
    let mut differing = 0u64;
    let span = size_a.max(size_b).max(1);
    let bin_of = |x: u64| (u128::from(x) * u128::from(COVERAGE_BINS) / u128::from(span)) as u64;
    let mut bins = vec![false; COVERAGE_BINS as usize + 1];
    // The end of the last run seen (listed or not), so a run split across reads stays one.
    let mut last_end: Option<u64> = None;
    let mut push = |start: u64, end: u64, runs: &mut Vec<ByteRange>| {
        differing += end - start;
        for b in bin_of(start)..=bin_of(end - 1) {
            bins[b as usize] = true;
        }
        if last_end == Some(start) {
            if let Some(last) = runs.last_mut().filter(|l| l.end == start) {
                last.end = end;
            }
        } else {
            total += 1;
            if runs.len() < MAX_BYTE_RUNS {
                runs.push(ByteRange { start, end });
            }
        }
        last_end = Some(end);
    };
    const PIECE: u64 = 1 << 20;
    let mut ba = vec![0u8; PIECE as usize];
    let mut bb = vec![0u8; PIECE as usize];
    for r in ranges {
        let mut pos = r.start.min(common);
        let end = r.end.min(common);
        while pos < end {
            let n = (end - pos).min(PIECE) as usize;
            fa.read_exact_at(&mut ba[..n], pos)?;
            fb.read_exact_at(&mut bb[..n], pos)?;
            let mut i = 0;
            while i < n {
                if ba[i] != bb[i] {
                    let s = i;
                    while i < n && ba[i] != bb[i] {
                        i += 1;
                    }
                    push(pos + s as u64, pos + i as u64, &mut runs);
                } else {
                    i += 1;
                }
            }
            pos += n as u64;
        }
    }
    if size_a != size_b {
        push(common, size_a.max(size_b), &mut runs);
    }
    // Marked bins, merged into byte ranges (each bin's bytes, the last ending at the span).
    let start_of =
        |b: u64| (u128::from(b) * u128::from(span)).div_ceil(u128::from(COVERAGE_BINS)) as u64;
    let mut coverage: Vec<ByteRange> = Vec::new();
    for (b, _) in bins.iter().enumerate().filter(|(_, on)| **on) {
        let (start, end) = (start_of(b as u64), start_of(b as u64 + 1).min(span));
        match coverage.last_mut() {
            Some(last) if last.end >= start => last.end = last.end.max(end),
            _ => coverage.push(ByteRange { start, end }),
        }
    }
    Ok(Differing {
        runs,
        total,
        bytes: differing,
        coverage,
    })
}

/// How manifest B differs from manifest A.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManifestDiff {
    pub digest_a: Digest,
    pub digest_b: Digest,
    pub files_added: Vec<String>,
    pub files_removed: Vec<String>,
    pub files_changed: Vec<FileChange>,
    pub files_same: usize,
    /// Model-wide tensor differences, when both manifests record tensors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensors: Option<TensorDiff>,
    /// Both record tensors and their tensor-set digests are equal.
    pub same_tensor_set: bool,
    /// Both record tensors and every tensor sits in the same file (at any offset).
    pub same_layout: bool,
    /// Model-wide metadata keys whose values differ, when both manifests record metadata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata_changed: Option<Vec<String>>,
}

impl ManifestDiff {
    /// Every file is the same (whatever the names and chunk sizes of the manifests).
    pub fn same_files(&self) -> bool {
        self.files_added.is_empty()
            && self.files_removed.is_empty()
            && self.files_changed.is_empty()
    }

    /// The same tensors, split into files differently.
    pub fn resharded(&self) -> bool {
        self.same_tensor_set && !self.same_layout
    }

    /// The model-wide metadata is the same (or not recorded on a side).
    pub fn same_metadata(&self) -> bool {
        self.metadata_changed.as_ref().is_none_or(Vec::is_empty)
    }
}

/// Compares two single-file models (each manifest lists one file, under its own name) as one
/// file: B's file is compared with A's whatever it is called.
pub fn diff_single_files(a: &Manifest, b: &Manifest) -> Result<ManifestDiff, crate::ManifestError> {
    match (a.files(), b.files()) {
        ([fa], [fb]) if fa.path != fb.path => {
            let mut renamed = fb.clone();
            renamed.path = fa.path.clone();
            let b2 = Manifest::new(b.name().to_string(), b.chunk_size(), vec![renamed])?;
            let mut d = diff_manifests(a, &b2);
            d.digest_b = b.digest();
            Ok(d)
        }
        _ => Ok(diff_manifests(a, b)),
    }
}

/// Compares two manifests: files by path and root, tensors by name.
pub fn diff_manifests(a: &Manifest, b: &Manifest) -> ManifestDiff {
    let fa: BTreeMap<&str, _> = a.files().iter().map(|f| (f.path.as_str(), f)).collect();
    let fb: BTreeMap<&str, _> = b.files().iter().map(|f| (f.path.as_str(), f)).collect();
    let mut d = ManifestDiff {
        digest_a: a.digest(),
        digest_b: b.digest(),
        files_added: fb
            .keys()
            .filter(|p| !fa.contains_key(*p))
            .map(|p| p.to_string())
            .collect(),
        files_removed: fa
            .keys()
            .filter(|p| !fb.contains_key(*p))
            .map(|p| p.to_string())
            .collect(),
        files_changed: Vec::new(),
        files_same: 0,
        tensors: None,
        same_tensor_set: false,
        same_layout: false,
        metadata_changed: None,
    };
    let same_cs = a.chunk_size() == b.chunk_size();
    for (p, x) in &fa {
        let Some(y) = fb.get(p) else { continue };
        if x.tree.size == y.tree.size && x.tree.root == y.tree.root {
            d.files_same += 1;
            continue;
        }
        let (tensors, header_changed) = match (&x.tensors, &y.tensors) {
            (Some(tx), Some(ty)) => (
                Some(diff_tensors(&tx.tensors, &ty.tensors)),
                Some(tx.header != ty.header),
            ),
            _ => (None, None),
        };
        let metadata_changed = match (
            x.tensors.as_ref().and_then(|t| t.metadata.as_ref()),
            y.tensors.as_ref().and_then(|t| t.metadata.as_ref()),
        ) {
            (Some(mx), Some(my)) => Some(diff_metadata(mx, my)),
            _ => None,
        };
        d.files_changed.push(FileChange {
            path: p.to_string(),
            size_a: x.tree.size,
            size_b: y.tree.size,
            ranges: same_cs.then(|| differing_ranges(a.chunk_size(), &x.tree, &y.tree)),
            tensors,
            header_changed,
            metadata_changed,
            bytes: None,
            byte_runs: None,
            bytes_differing: None,
            coverage: None,
            text_diff: None,
        });
    }
    if a.metadata_digest().is_some() && b.metadata_digest().is_some() {
        let all = |m: &Manifest| -> Vec<MetadataEntry> {
            m.files()
                .iter()
                .filter_map(|f| f.tensors.as_ref()?.metadata.clone())
                .flatten()
                .collect()
        };
        d.metadata_changed = Some(diff_metadata(&all(a), &all(b)));
    }
    if let (Some(ta), Some(tb)) = (a.tensor_digest(), b.tensor_digest()) {
        d.tensors = Some(diff_tensors(
            a.tensors().map(|t| t.1),
            b.tensors().map(|t| t.1),
        ));
        d.same_tensor_set = ta == tb;
        // Sharding is which file holds which tensor. Offsets are not part of it: a longer
        // header (a new chat template) moves every tensor of a file without resharding it.
        let layout = |m: &Manifest| {
            let mut v: Vec<(String, String)> = m
                .tensors()
                .map(|(p, t)| (p.to_string(), t.name.clone()))
                .collect();
            v.sort();
            v
        };
        d.same_layout = layout(a) == layout(b);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, dtype: &str, shape: &[u64], d: u8) -> Tensor {
        Tensor {
            name: name.into(),
            dtype: dtype.into(),
            shape: shape.to_vec(),
            start: 0,
            end: 0,
            digest: Digest([d; 32]),
        }
    }

    #[test]
    fn tensor_diff_sorts_each_kind() {
        let a = [
            t("a", "F32", &[2], 1),
            t("b", "F32", &[2], 2),
            t("c", "F32", &[2], 3),
            t("d", "F32", &[2], 4),
        ];
        let b = [
            t("a", "F32", &[2], 1),
            t("b", "F32", &[2], 9),
            t("c", "F16", &[2], 3),
            t("e", "F32", &[2], 5),
        ];
        let d = diff_tensors(&a, &b);
        assert_eq!(d.same, 1);
        assert_eq!(d.changed, vec!["b"]);
        assert_eq!(d.retyped.len(), 1);
        assert_eq!(
            (
                d.retyped[0].expected_dtype.as_str(),
                d.retyped[0].found_dtype.as_str()
            ),
            ("F32", "F16")
        );
        assert_eq!(d.removed, vec!["d"]);
        assert_eq!(d.added, vec!["e"]);
        assert_eq!(d.differing_names(), vec!["b", "c", "d", "e"]);
        assert!(diff_tensors(&a, &a).is_empty());
    }
}
