//! The chunked BLAKE3 Merkle tree (spec/manifest.md, "File tree").
//!
//! A file is split into *chunk groups* of `chunk_size` bytes (a power of two). Each group is
//! hashed on its own as a BLAKE3 subtree (`blake3::hazmat`), giving its *chaining value*; the
//! chaining values are merged in BLAKE3's own tree shape (left subtree = the largest power of
//! two number of groups that leaves a non-empty right side), so the root is exactly the
//! standard BLAKE3 hash of the file, the value `b3sum` prints.
//!
//! This module owns: the [`ChunkSize`] rule, the [`FileTree`] result (root + chunk values),
//! parallel hashing of a file with bounded memory ([`hash_file`]), a streaming hasher for data
//! that arrives in order ([`TreeHasher`]), and the two checks a downloader needs
//! ([`verify_chunk`], [`root_from_chunks`]).

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};
use rayon::prelude::*;

use crate::digest::Digest;
use crate::progress::Progress;

/// Smallest allowed chunk size: 16 KiB.
pub const MIN_CHUNK_SIZE: u64 = 16 * 1024;
/// Largest allowed chunk size: 1 GiB.
pub const MAX_CHUNK_SIZE: u64 = 1024 * 1024 * 1024;
/// Default chunk size: 4 MiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 * 1024 * 1024;

/// Unit of parallel work: at most 1 MiB, never more than the chunk size. Units are merged into
/// chunk values exactly like chunks are merged into the root, so the unit size changes nothing
/// in the output; it lets even a file of one huge chunk be hashed on every core.
const UNIT: u64 = 1024 * 1024;
/// The unit of work of a file hashed from maps (one map per unit).
const MAPPED_UNIT: u64 = 4 * 1024 * 1024;

/// A validated chunk size: a power of two from 16 KiB to 1 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkSize(u64);

/// Why a chunk size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkSizeError {
    #[error("chunk size {0} is not a power of two")]
    NotPowerOfTwo(u64),
    #[error("chunk size {0} is outside the allowed range 16384 (16 KiB) ..= 1073741824 (1 GiB)")]
    OutOfRange(u64),
    #[error("cannot parse chunk size {0:?}: expected a number of bytes with an optional K, M or G suffix (e.g. 4M)")]
    Syntax(String),
}

impl ChunkSize {
    pub const DEFAULT: ChunkSize = ChunkSize(DEFAULT_CHUNK_SIZE);

    pub fn new(bytes: u64) -> Result<ChunkSize, ChunkSizeError> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&bytes) {
            return Err(ChunkSizeError::OutOfRange(bytes));
        }
        if !bytes.is_power_of_two() {
            return Err(ChunkSizeError::NotPowerOfTwo(bytes));
        }
        Ok(ChunkSize(bytes))
    }

    /// Parses `4194304`, `4M`, `4MiB`, `16K`, `1G` (binary multiples).
    pub fn parse(s: &str) -> Result<ChunkSize, ChunkSizeError> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, suffix) = t.split_at(split);
        let mult: u64 = match suffix.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" | "kb" => 1 << 10,
            "m" | "mib" | "mb" => 1 << 20,
            "g" | "gib" | "gb" => 1 << 30,
            _ => return Err(ChunkSizeError::Syntax(s.to_string())),
        };
        let n: u64 = num
            .parse()
            .map_err(|_| ChunkSizeError::Syntax(s.to_string()))?;
        let bytes = n
            .checked_mul(mult)
            .ok_or_else(|| ChunkSizeError::Syntax(s.to_string()))?;
        ChunkSize::new(bytes)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// Number of chunk groups of a file of `size` bytes: `max(1, ceil(size / chunk_size))`.
    pub fn group_count(self, size: u64) -> u64 {
        if size == 0 {
            1
        } else {
            size.div_ceil(self.0)
        }
    }

    /// Byte range `start..end` of group `index` in a file of `size` bytes.
    pub fn group_range(self, size: u64, index: u64) -> (u64, u64) {
        let start = index.saturating_mul(self.0).min(size);
        let end = start.saturating_add(self.0).min(size);
        (start, end)
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        ChunkSize::DEFAULT
    }
}

/// The tree of one file: its size, its root (the standard BLAKE3 hash) and, when the file is
/// larger than one chunk group, the chaining value of every group in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTree {
    pub size: u64,
    pub root: Digest,
    /// Empty when `size <= chunk_size`; otherwise exactly `ceil(size / chunk_size)` values.
    pub chunks: Vec<Digest>,
}

fn cv(d: &Digest) -> ChainingValue {
    d.0
}

/// Merges the chaining values of consecutive equal-size subtrees (the last may be shorter)
/// into the chaining value of their parent subtree. `cvs` must not be empty.
fn merge_non_root(cvs: &[ChainingValue]) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let left = left_len(cvs.len());
    merge_subtrees_non_root(
        &merge_non_root(&cvs[..left]),
        &merge_non_root(&cvs[left..]),
        Mode::Hash,
    )
}

/// Like [`merge_non_root`] but finalizes the top node as the root. Needs at least two values.
fn merge_root(cvs: &[ChainingValue]) -> Digest {
    debug_assert!(cvs.len() >= 2);
    let left = left_len(cvs.len());
    merge_subtrees_root(
        &merge_non_root(&cvs[..left]),
        &merge_non_root(&cvs[left..]),
        Mode::Hash,
    )
    .into()
}

/// The largest power of two strictly less than `n` (n >= 2): BLAKE3's left-subtree rule.
fn left_len(n: usize) -> usize {
    debug_assert!(n >= 2);
    1usize << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root that a list of chunk chaining values merges to, or `None` when the list has fewer
/// than two values (a file of one group has no chunk list; its root is hashed directly).
pub fn root_from_chunks(chunks: &[Digest]) -> Option<Digest> {
    if chunks.len() < 2 {
        return None;
    }
    let cvs: Vec<ChainingValue> = chunks.iter().map(cv).collect();
    Some(merge_root(&cvs))
}

/// The chaining value of chunk group `index` whose bytes are `data`, at chunk size `cs`.
/// `data` must be the whole group (shorter only for the last group of a file).
pub fn chunk_value(cs: ChunkSize, index: u64, data: &[u8]) -> Digest {
    let mut h = blake3::Hasher::new();
    h.set_input_offset(index * cs.get());
    if data.len() as u64 > UNIT {
        h.update_rayon(data);
    } else {
        h.update(data);
    }
    Digest(h.finalize_non_root())
}

/// Why a chunk did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk {index} does not exist: the file has {count} chunk(s)")]
    NoSuchChunk { index: u64, count: u64 },
    #[error("chunk {index} has {found} bytes, expected {expected}")]
    WrongLength {
        index: u64,
        expected: u64,
        found: u64,
    },
    #[error("chunk {index} (bytes {start}..{end}) hashes to {found}, expected {expected}")]
    Mismatch {
        index: u64,
        start: u64,
        end: u64,
        expected: Digest,
        found: Digest,
    },
}

/// Checks the bytes of chunk `index` of the file described by `tree` as they arrive, with no
/// other part of the file. For a file of one group the "chunk" is the whole file and is checked
/// against the root.
pub fn verify_chunk(
    cs: ChunkSize,
    tree: &FileTree,
    index: u64,
    data: &[u8],
) -> Result<(), ChunkError> {
    let count = cs.group_count(tree.size);
    if index >= count {
        return Err(ChunkError::NoSuchChunk { index, count });
    }
    let (start, end) = cs.group_range(tree.size, index);
    if data.len() as u64 != end - start {
        return Err(ChunkError::WrongLength {
            index,
            expected: end - start,
            found: data.len() as u64,
        });
    }
    let (expected, found) = if tree.chunks.is_empty() {
        (tree.root, Digest::from(blake3::hash(data)))
    } else {
        let i = usize::try_from(index).map_err(|_| ChunkError::NoSuchChunk { index, count })?;
        let expected = *tree
            .chunks
            .get(i)
            .ok_or(ChunkError::NoSuchChunk { index, count })?;
        (expected, chunk_value(cs, index, data))
    };
    if expected != found {
        return Err(ChunkError::Mismatch {
            index,
            start,
            end,
            expected,
            found,
        });
    }
    Ok(())
}

/// Hashes data that arrives in order (a stream, an HTTP body) into a [`FileTree`], with memory
/// independent of the length.
pub struct TreeHasher {
    cs: ChunkSize,
    hasher: blake3::Hasher,
    group_len: u64,
    group_index: u64,
    chunks: Vec<Digest>,
}

impl TreeHasher {
    pub fn new(cs: ChunkSize) -> TreeHasher {
        TreeHasher {
            cs,
            hasher: blake3::Hasher::new(),
            group_len: 0,
            group_index: 0,
            chunks: Vec::new(),
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let c = self.cs.get();
        while !data.is_empty() {
            if self.group_len == c {
                // The group is full and more data follows: it is not the root, close it.
                self.chunks.push(Digest(self.hasher.finalize_non_root()));
                self.group_index += 1;
                self.hasher = blake3::Hasher::new();
                self.hasher.set_input_offset(self.group_index * c);
                self.group_len = 0;
            }
            let room = (c - self.group_len).min(data.len() as u64) as usize;
            self.hasher.update(&data[..room]);
            self.group_len += room as u64;
            data = &data[room..];
        }
    }

    pub fn finalize(mut self) -> FileTree {
        let size = self.group_index * self.cs.get() + self.group_len;
        if self.chunks.is_empty() {
            return FileTree {
                size,
                root: self.hasher.finalize().into(),
                chunks: Vec::new(),
            };
        }
        self.chunks.push(Digest(self.hasher.finalize_non_root()));
        let root = root_from_chunks(&self.chunks).expect("two or more chunks");
        FileTree {
            size,
            root,
            chunks: self.chunks,
        }
    }
}

thread_local! {
    static UNIT_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads exactly `buf.len()` bytes at `offset`; a short file is an error (it changed while
/// being hashed).
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "file ended at byte {} while hashing: it changed during the read",
                        offset + done as u64
                    ),
                ))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Size of each read: small enough that the copied bytes are still in the core's cache when
/// they are hashed right after the copy. Measured on the 2 GiB benchmark (2-core EPYC):
/// 64 KiB pieces run as fast as b3sum's mmap; 32 KiB, 128 KiB and 256 KiB pieces are 8-15%
/// slower.
const PIECE: usize = 64 * 1024;
/// Regions at least this long are hashed in [`BIG_PIECE`] reads, each on every core.
const BIG_REGION: u64 = 16 << 20;
const BIG_PIECE: usize = 4 << 20;

/// BLAKE3's chunk length: the grain of every subtree.
const CHUNK: u64 = 1024;

/// A byte range `start..end` of a file whose own BLAKE3 hash is wanted (a tensor, a header).
pub type Region = (u64, u64);

/// The part of one region that one unit hashes: the region's 1 KiB chunks (counted from the
/// region's start) that begin inside the unit. The last of them may run up to 1023 bytes past
/// the unit's end; those few bytes are read again from the page cache by this unit.
struct RegionJob {
    region: usize,
    /// Absolute bytes this job hashes.
    start: u64,
    end: u64,
    /// Absolute start of the region (its chunk grid starts here).
    origin: u64,
    state: JobState,
}

enum JobState {
    /// The job covers the whole region: hash it as a root.
    Whole(blake3::Hasher),
    /// Part of a region: aligned power-of-two runs of chunks `(first, count)`, hashed as
    /// subtrees; `done` holds the finished ones as `(first, count, cv)`.
    Blocks {
        blocks: Vec<(u64, u64)>,
        current: usize,
        hasher: blake3::Hasher,
        done: Vec<(u64, u64, ChainingValue)>,
    },
}

enum JobResult {
    Whole(Digest),
    Blocks(Vec<(u64, u64, ChainingValue)>),
}

/// Splits chunks `lo..hi` into maximal aligned power-of-two runs (each a BLAKE3 subtree).
fn aligned_blocks(mut lo: u64, hi: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    while lo < hi {
        let align = if lo == 0 {
            u64::MAX
        } else {
            1u64 << lo.trailing_zeros()
        };
        let mut size = align.min(1u64 << (63 - (hi - lo).leading_zeros()));
        while size > hi - lo {
            size >>= 1;
        }
        out.push((lo, size));
        lo += size;
    }
    out
}

impl RegionJob {
    fn new(region: usize, (rs, re): Region, a: u64, b: u64) -> Option<RegionJob> {
        let chunks = (re - rs).div_ceil(CHUNK).max(1);
        let m_lo = if a <= rs { 0 } else { (a - rs).div_ceil(CHUNK) };
        let m_hi = if b <= rs {
            0
        } else {
            (b - rs).div_ceil(CHUNK).min(chunks)
        };
        if m_lo >= m_hi {
            return None;
        }
        let start = rs + m_lo * CHUNK;
        let end = (rs + m_hi * CHUNK).min(re);
        let state = if m_lo == 0 && m_hi == chunks {
            JobState::Whole(blake3::Hasher::new())
        } else {
            let blocks = aligned_blocks(m_lo, m_hi);
            let mut hasher = blake3::Hasher::new();
            hasher.set_input_offset(blocks[0].0 * CHUNK);
            JobState::Blocks {
                blocks,
                current: 0,
                hasher,
                done: Vec::new(),
            }
        };
        Some(RegionJob {
            region,
            start,
            end,
            origin: rs,
            state,
        })
    }

    /// Feeds `data`, which starts at absolute offset `at` and lies within this job's range.
    fn feed(&mut self, mut at: u64, mut data: &[u8]) {
        match &mut self.state {
            JobState::Whole(h) => {
                h.update(data);
            }
            JobState::Blocks {
                blocks,
                current,
                hasher,
                done,
            } => {
                while !data.is_empty() {
                    let (first, count) = blocks[*current];
                    let block_end = (self.origin + (first + count) * CHUNK).min(self.end);
                    let n = ((block_end - at) as usize).min(data.len());
                    hasher.update(&data[..n]);
                    at += n as u64;
                    data = &data[n..];
                    if at == block_end {
                        done.push((first, count, hasher.finalize_non_root()));
                        *current += 1;
                        if let Some(&(next, _)) = blocks.get(*current) {
                            *hasher = blake3::Hasher::new();
                            hasher.set_input_offset(next * CHUNK);
                        }
                    }
                }
            }
        }
    }

    fn finish(self) -> JobResult {
        match self.state {
            JobState::Whole(h) => JobResult::Whole(h.finalize().into()),
            JobState::Blocks { done, .. } => JobResult::Blocks(done),
        }
    }
}

/// Feeds bytes at absolute offset `at` to every job they overlap; `first` skips finished jobs.
fn feed_jobs(jobs: &mut [RegionJob], first: &mut usize, at: u64, data: &[u8]) {
    let end = at + data.len() as u64;
    while *first < jobs.len() && jobs[*first].end <= at {
        *first += 1;
    }
    for job in jobs[*first..].iter_mut() {
        if job.start >= end {
            break;
        }
        let s = job.start.max(at);
        let e = job.end.min(end);
        if s < e {
            job.feed(s, &data[(s - at) as usize..(e - at) as usize]);
        }
    }
}

/// What one unit produced: its tree value (a root when the unit is the whole file) and its
/// parts of the regions.
struct UnitResult {
    tree: TreeValue,
    regions: Vec<(usize, JobResult)>,
}

enum TreeValue {
    Root(Digest),
    Cv(ChainingValue),
}

/// Hashes unit `a..b` of the file: the tree's subtree over it, and every region job starting
/// in it. Reads `a..b` once, in [`PIECE`]-sized reads, plus at most 1023 bytes past `b`.
fn unit_work(
    file: &File,
    mapped: bool,
    (a, b): (u64, u64),
    whole_file: bool,
    regions: &[Region],
    progress: &dyn Progress,
) -> io::Result<UnitResult> {
    // Regions are sorted and disjoint, so their ends are sorted too.
    let from = regions.partition_point(|r| r.1 <= a);
    let mut jobs: Vec<RegionJob> = regions[from..]
        .iter()
        .enumerate()
        .take_while(|(_, r)| r.0 < b)
        .filter(|(_, r)| r.1 > r.0)
        .filter_map(|(i, r)| RegionJob::new(from + i, *r, a, b))
        .collect();
    let tail_end = jobs.iter().map(|j| j.end).max().unwrap_or(b).max(b);
    // From a map of this unit: its bytes as they are in the page cache, no copy.
    if let Some(m) = mapped
        .then(|| crate::mapped::Mapping::window(file, a, tail_end))
        .flatten()
    {
        let bytes = m.bytes();
        let mut h = blake3::Hasher::new();
        h.set_input_offset(a);
        h.update(&bytes[..(b - a) as usize]);
        let mut first_job = 0;
        feed_jobs(&mut jobs, &mut first_job, a, bytes);
        if m.truncated() {
            return Err(crate::mapped::truncated_error());
        }
        progress.advance(b - a);
        let tree = if whole_file {
            TreeValue::Root(h.finalize().into())
        } else {
            TreeValue::Cv(h.finalize_non_root())
        };
        let regions = jobs.into_iter().map(|j| (j.region, j.finish())).collect();
        return Ok(UnitResult { tree, regions });
    }
    UNIT_BUF.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.resize(PIECE, 0);
        let mut h = blake3::Hasher::new();
        h.set_input_offset(a);
        let mut first_job = 0;
        let mut at = a;
        while at < tail_end {
            let n = (PIECE as u64).min(tail_end - at) as usize;
            read_exact_at(file, &mut buf[..n], at)?;
            if at < b {
                let in_unit = ((b - at) as usize).min(n);
                h.update(&buf[..in_unit]);
            }
            feed_jobs(&mut jobs, &mut first_job, at, &buf[..n]);
            at += n as u64;
        }
        progress.advance(b - a);
        let tree = if whole_file {
            TreeValue::Root(h.finalize().into())
        } else {
            TreeValue::Cv(h.finalize_non_root())
        };
        let regions = jobs.into_iter().map(|j| (j.region, j.finish())).collect();
        Ok(UnitResult { tree, regions })
    })
}

/// Merges the aligned subtree values of one region (sorted by first chunk) into its root.
fn region_root(chunks: u64, blocks: &[(u64, u64, ChainingValue)]) -> Digest {
    fn node(lo: u64, hi: u64, blocks: &[(u64, u64, ChainingValue)]) -> ChainingValue {
        if let Ok(i) = blocks.binary_search_by(|b| b.0.cmp(&lo)) {
            if blocks[i].1 == hi - lo {
                return blocks[i].2;
            }
        }
        let l = lo + left_len((hi - lo) as usize) as u64;
        merge_subtrees_non_root(&node(lo, l, blocks), &node(l, hi, blocks), Mode::Hash)
    }
    let l = left_len(chunks as usize) as u64;
    merge_subtrees_root(&node(0, l, blocks), &node(l, chunks, blocks), Mode::Hash).into()
}

/// Hashes the first `size` bytes of `file` into its tree, in parallel over 1 MiB units, with one
/// small read buffer per worker thread (memory does not grow with the file). Reads each byte
/// once.
pub fn hash_file(
    file: &File,
    size: u64,
    cs: ChunkSize,
    progress: &dyn Progress,
) -> io::Result<FileTree> {
    Ok(hash_file_regions(file, size, cs, &[], progress)?.0)
}

/// Like [`hash_file`], and in the same read of each byte also the BLAKE3 hash of each region
/// (tensors, headers). `regions` must be sorted by start, disjoint (empty regions may sit
/// anywhere) and within the file. Regions are hashed in parallel too: a region spanning many
/// units is hashed as aligned BLAKE3 subtrees by each unit and merged, so one huge tensor uses
/// every core. Returns the tree and one digest per region, in order.
pub fn hash_file_regions(
    file: &File,
    size: u64,
    cs: ChunkSize,
    regions: &[Region],
    progress: &dyn Progress,
) -> io::Result<(FileTree, Vec<Digest>)> {
    let invalid = regions.iter().any(|r| r.0 > r.1 || r.1 > size)
        || regions
            .windows(2)
            .any(|w| w[1].0 < w[0].1 && w[1].0 < w[1].1 || w[1].0 < w[0].0);
    if invalid {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "regions must be sorted, disjoint and inside the file",
        ));
    }
    let mapped = crate::mapped::Mapping::wanted(size);
    // Mapped units are larger: each map and unmap costs a TLB flush on every core, so fewer of
    // them keep the many-core lead; read units stay small so that their buffer stays in cache.
    let unit = if mapped { MAPPED_UNIT } else { UNIT }.min(cs.get());
    let units = size.div_ceil(unit).max(1);
    let results: Vec<UnitResult> = (0..units)
        .into_par_iter()
        .map(|i| {
            let a = i * unit;
            unit_work(
                file,
                mapped,
                (a, (a + unit).min(size)),
                units == 1,
                regions,
                progress,
            )
        })
        .collect::<io::Result<_>>()?;
    // Regions: gather each one's parts in unit order, then merge.
    let mut parts: Vec<Vec<(u64, u64, ChainingValue)>> = vec![Vec::new(); regions.len()];
    let mut whole: Vec<Option<Digest>> = vec![None; regions.len()];
    let mut cvs = Vec::with_capacity(results.len());
    let mut root = None;
    for r in results {
        match r.tree {
            TreeValue::Root(d) => root = Some(d),
            TreeValue::Cv(cv) => cvs.push(cv),
        }
        for (i, res) in r.regions {
            match res {
                JobResult::Whole(d) => whole[i] = Some(d),
                JobResult::Blocks(b) => parts[i].extend(b),
            }
        }
    }
    let digests = regions
        .iter()
        .enumerate()
        .map(|(i, &(s, e))| match whole[i] {
            Some(d) => d,
            None if s == e => blake3::hash(&[]).into(),
            None => region_root((e - s).div_ceil(CHUNK), &parts[i]),
        })
        .collect();
    let tree = if let Some(root) = root {
        FileTree {
            size,
            root,
            chunks: Vec::new(),
        }
    } else if size <= cs.get() {
        FileTree {
            size,
            root: merge_root(&cvs),
            chunks: Vec::new(),
        }
    } else {
        let per_group = (cs.get() / unit) as usize;
        let chunks: Vec<Digest> = cvs
            .chunks(per_group)
            .map(|g| Digest(merge_non_root(g)))
            .collect();
        let root = root_from_chunks(&chunks).expect("two or more chunks");
        FileTree { size, root, chunks }
    };
    Ok((tree, digests))
}

/// The BLAKE3 hash of each region of `file`, and nothing else (regions in any order, they may
/// overlap). Regions are hashed in parallel; each is read once. Used to name the tensors of a
/// file already known to differ.
pub fn hash_regions(
    file: &File,
    regions: &[Region],
    progress: &dyn Progress,
) -> io::Result<Vec<Digest>> {
    let mapped = crate::mapped::Mapping::wanted(file.metadata()?.len());
    regions
        .par_iter()
        .map(|&(start, end)| {
            if start > end {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "region ends before it starts",
                ));
            }
            if mapped {
                // Window by window (a huge tensor is not mapped whole), each hashed on every
                // core when it is big.
                let mut h = blake3::Hasher::new();
                let mut at = start;
                let mut ok = true;
                while at < end {
                    let n = (BIG_PIECE as u64).min(end - at);
                    let Some(m) = crate::mapped::Mapping::window(file, at, at + n) else {
                        ok = false;
                        break;
                    };
                    if n as usize >= BIG_PIECE {
                        h.update_rayon(m.bytes());
                    } else {
                        h.update(m.bytes());
                    }
                    if m.truncated() {
                        return Err(crate::mapped::truncated_error());
                    }
                    progress.advance(n);
                    at += n;
                }
                if ok {
                    return Ok(h.finalize().into());
                }
                // A map failed part-way: the whole region is hashed again by reading.
            }
            let mut h = blake3::Hasher::new();
            // A big region (one huge tensor) is read in larger pieces, each hashed on every
            // core, so that one tensor does not leave the other cores idle.
            let piece = if end - start >= BIG_REGION {
                BIG_PIECE
            } else {
                PIECE
            };
            let mut buf = vec![0u8; piece];
            let mut at = start;
            while at < end {
                let n = (piece as u64).min(end - at) as usize;
                read_exact_at(file, &mut buf[..n], at)?;
                if n >= BIG_PIECE {
                    h.update_rayon(&buf[..n]);
                } else {
                    h.update(&buf[..n]);
                }
                at += n as u64;
                progress.advance(n as u64);
            }
            Ok(h.finalize().into())
        })
        .collect()
}

/// Hashes `file` sequentially, feeding the same bytes to the tree, to SHA-256 and to the
/// regions' hashers (one read). Used when the SHA-256 (the Hugging Face LFS oid) is wanted;
/// `regions` as for [`hash_file_regions`].
pub fn hash_file_with_sha256(
    file: &File,
    size: u64,
    cs: ChunkSize,
    regions: &[Region],
    progress: &dyn Progress,
) -> io::Result<(FileTree, Digest, Vec<Digest>)> {
    use sha2::Digest as _;
    if regions.iter().any(|r| r.0 > r.1 || r.1 > size)
        || regions.windows(2).any(|w| w[1].0 < w[0].0)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "regions must be sorted and inside the file",
        ));
    }
    let mut jobs: Vec<RegionJob> = regions
        .iter()
        .enumerate()
        .filter(|(_, r)| r.1 > r.0)
        .filter_map(|(i, r)| RegionJob::new(i, *r, 0, size))
        .collect();
    let mut first_job = 0;
    let mut tree = TreeHasher::new(cs);
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; PIECE];
    let mut off = 0u64;
    while off < size {
        let n = (PIECE as u64).min(size - off) as usize;
        read_exact_at(file, &mut buf[..n], off)?;
        tree.update(&buf[..n]);
        sha.update(&buf[..n]);
        feed_jobs(&mut jobs, &mut first_job, off, &buf[..n]);
        progress.advance(n as u64);
        off += n as u64;
    }
    let mut digests: Vec<Digest> = vec![blake3::hash(&[]).into(); regions.len()];
    for job in jobs {
        if let (i, JobResult::Whole(d)) = (job.region, job.finish()) {
            digests[i] = d;
        }
    }
    Ok((tree.finalize(), Digest(sha.finalize().into()), digests))
}

/// Hashes an in-memory buffer into its tree (used by tests, vectors and the downloader).
pub fn hash_bytes(data: &[u8], cs: ChunkSize) -> FileTree {
    let size = data.len() as u64;
    if size <= cs.get() {
        return FileTree {
            size,
            root: blake3::hash(data).into(),
            chunks: Vec::new(),
        };
    }
    let chunks: Vec<Digest> = data
        .par_chunks(cs.get() as usize)
        .enumerate()
        .map(|(i, g)| chunk_value(cs, i as u64, g))
        .collect();
    let root = root_from_chunks(&chunks).expect("two or more chunks");
    FileTree { size, root, chunks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;
    use std::io::Write;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn cs(n: u64) -> ChunkSize {
        ChunkSize::new(n).unwrap()
    }

    #[test]
    fn chunk_size_rules() {
        assert_eq!(ChunkSize::new(16384).unwrap().get(), 16384);
        assert_eq!(ChunkSize::new(8192), Err(ChunkSizeError::OutOfRange(8192)));
        assert_eq!(
            ChunkSize::new(1 << 31),
            Err(ChunkSizeError::OutOfRange(1 << 31))
        );
        assert_eq!(
            ChunkSize::new(20000),
            Err(ChunkSizeError::NotPowerOfTwo(20000))
        );
        assert_eq!(ChunkSize::parse("4M").unwrap().get(), 4 << 20);
        assert_eq!(ChunkSize::parse("16KiB").unwrap().get(), 16 << 10);
        assert_eq!(ChunkSize::parse("1G").unwrap().get(), 1 << 30);
        assert_eq!(ChunkSize::parse("65536").unwrap().get(), 65536);
        assert_eq!(
            ChunkSize::parse("4X"),
            Err(ChunkSizeError::Syntax("4X".into()))
        );
        assert_eq!(
            ChunkSize::parse("99999999999999999999G"),
            Err(ChunkSizeError::Syntax("99999999999999999999G".into()))
        );
    }

    #[test]
    fn left_len_is_largest_power_of_two_below() {
        assert_eq!(left_len(2), 1);
        assert_eq!(left_len(3), 2);
        assert_eq!(left_len(4), 2);
        assert_eq!(left_len(5), 4);
        assert_eq!(left_len(8), 4);
        assert_eq!(left_len(9), 8);
    }

    #[test]
    fn all_paths_agree_with_blake3_hash() {
        let c = cs(16384);
        for len in [
            0usize,
            1,
            1023,
            1024,
            1025,
            16383,
            16384,
            16385,
            32768,
            49153,
            81920 + 7,
            131072,
            300_000,
        ] {
            let data = pattern(len);
            let want = Digest::from(blake3::hash(&data));
            let t = hash_bytes(&data, c);
            assert_eq!(t.root, want, "hash_bytes len {len}");
            let mut s = TreeHasher::new(c);
            for piece in data.chunks(7777) {
                s.update(piece);
            }
            assert_eq!(s.finalize(), t, "stream len {len}");
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&data).unwrap();
            assert_eq!(
                hash_file(&f, len as u64, c, &NoProgress).unwrap(),
                t,
                "file len {len}"
            );
            let regions = [(0, (len / 3) as u64), ((len / 2) as u64, len as u64)];
            let (t2, sha, rd) =
                hash_file_with_sha256(&f, len as u64, c, &regions, &NoProgress).unwrap();
            assert_eq!(t2, t);
            for (r, d) in regions.iter().zip(&rd) {
                assert_eq!(
                    *d,
                    Digest::from(blake3::hash(&data[r.0 as usize..r.1 as usize]))
                );
            }
            use sha2::Digest as _;
            assert_eq!(sha.0, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
            for (i, g) in data.chunks(16384).enumerate() {
                assert_eq!(verify_chunk(c, &t, i as u64, g), Ok(()));
            }
        }
    }

    #[test]
    fn vector_lengths_at_several_chunk_sizes() {
        for c in [16384u64, 32768, 65536, 1 << 20, 4 << 20] {
            let cs = ChunkSize::new(c).unwrap();
            let c = c as usize;
            for len in [
                0,
                1,
                1023,
                1024,
                1025,
                c - 1,
                c,
                c + 1,
                2 * c,
                3 * c + 7,
                5 * c + 1025,
                8 * c,
                8 * c + 1,
            ] {
                let data = pattern(len);
                let t = hash_bytes(&data, cs);
                assert_eq!(
                    t.root,
                    Digest::from(blake3::hash(&data)),
                    "cs {c} len {len}"
                );
                assert_eq!(t.chunks.len(), if len <= c { 0 } else { len.div_ceil(c) });
            }
        }
    }

    /// Property: for random lengths, chunk sizes and read splits, every way of hashing gives
    /// the standard BLAKE3 root and the same chunk values (fixed seed, 300 cases).
    #[test]
    fn property_random_lengths_and_chunk_sizes() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..300 {
            let cs = ChunkSize::new(16384 << (next() % 4)).unwrap();
            let len = (next() % (cs.get() * 9)) as usize;
            let data: Vec<u8> = (0..len)
                .map(|i| (i as u64).wrapping_mul(0x9e37_79b1) as u8 ^ 0x5a)
                .collect();
            let want = Digest::from(blake3::hash(&data));
            let t = hash_bytes(&data, cs);
            assert_eq!(t.root, want, "cs {} len {len}", cs.get());
            let mut s = TreeHasher::new(cs);
            let mut rest = &data[..];
            while !rest.is_empty() {
                let n = ((next() % 70_000) as usize).min(rest.len());
                s.update(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(s.finalize(), t, "stream cs {} len {len}", cs.get());
            if len > 0 {
                let i = next() % cs.group_count(len as u64);
                let (a, b) = cs.group_range(len as u64, i);
                assert_eq!(
                    verify_chunk(cs, &t, i, &data[a as usize..b as usize]),
                    Ok(())
                );
            }
        }
    }

    #[test]
    fn units_smaller_than_groups_merge_to_the_same_chunks() {
        // 4 MiB groups are built from 1 MiB units in hash_file; compare with direct hashing.
        let c = cs(4 << 20);
        let len = (4 << 20) * 2 + 1_500_000;
        let data = pattern(len);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let t = hash_file(&f, len as u64, c, &NoProgress).unwrap();
        assert_eq!(t, hash_bytes(&data, c));
        assert_eq!(t.chunks.len(), 3);
        assert_eq!(t.root, Digest::from(blake3::hash(&data)));
    }

    #[test]
    fn a_mapped_file_hashes_as_a_read_one() {
        // Over crate::mapped::MIN_MAPPED: hashed from a map, tree and regions alike.
        let c = cs(4 << 20);
        let len = (crate::mapped::MIN_MAPPED + 3_000_123) as usize;
        let data = pattern(len);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        // The mapped path is the one taken (not a silent fallback to reads).
        assert!(crate::mapped::Mapping::wanted(len as u64));
        assert!(crate::mapped::Mapping::window(&f, 4096, len as u64).is_some());
        let regions: Vec<Region> = vec![(0, 100), (100, 5_000_000), (5_000_000, len as u64 - 7)];
        let (t, d) = hash_file_regions(&f, len as u64, c, &regions, &NoProgress).unwrap();
        assert_eq!(t, hash_bytes(&data, c));
        for (r, got) in regions.iter().zip(&d) {
            assert_eq!(
                *got,
                Digest::from(blake3::hash(&data[r.0 as usize..r.1 as usize]))
            );
        }
        let only = hash_regions(&f, &regions, &NoProgress).unwrap();
        assert_eq!(only, d);
    }

    #[test]
    fn verify_chunk_reports_the_specific_failure() {
        let c = cs(16384);
        let data = pattern(40000);
        let t = hash_bytes(&data, c);
        let mut bad = data[16384..32768].to_vec();
        bad[5] ^= 1;
        match verify_chunk(c, &t, 1, &bad) {
            Err(ChunkError::Mismatch {
                index: 1,
                start: 16384,
                end: 32768,
                expected,
                ..
            }) => {
                assert_eq!(expected, t.chunks[1])
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            verify_chunk(c, &t, 2, &data[32768..39999]),
            Err(ChunkError::WrongLength {
                index: 2,
                expected: 7232,
                found: 7231
            })
        );
        assert_eq!(
            verify_chunk(c, &t, 3, &[]),
            Err(ChunkError::NoSuchChunk { index: 3, count: 3 })
        );
        // Chunk values bind the offset: identical bytes at indices 0 and 1 have different
        // values, so a chunk served at the wrong index does not verify.
        let g0 = &data[..16384];
        let t2 = hash_bytes(&[g0, g0].concat(), c);
        assert_ne!(t2.chunks[0], t2.chunks[1]);
        let mut t3 = t2.clone();
        t3.chunks[1] = t2.chunks[0];
        assert!(matches!(
            verify_chunk(c, &t3, 1, g0),
            Err(ChunkError::Mismatch { index: 1, .. })
        ));
    }

    #[test]
    fn aligned_blocks_are_maximal_and_aligned() {
        assert_eq!(aligned_blocks(0, 5), vec![(0, 4), (4, 1)]);
        assert_eq!(aligned_blocks(3, 11), vec![(3, 1), (4, 4), (8, 2), (10, 1)]);
        assert_eq!(aligned_blocks(0, 8), vec![(0, 8)]);
        assert_eq!(aligned_blocks(6, 6), vec![]);
    }

    /// Regions of every shape (inside one unit, spanning units, unaligned, tiny, empty,
    /// touching, with gaps) hash to BLAKE3 of their bytes, and the tree is unchanged.
    #[test]
    fn region_digests_equal_blake3_of_their_bytes() {
        for (cs, len) in [
            (16384u64, 300_000usize),
            (1 << 20, 3_500_000),
            (4 << 20, 9_000_000),
            (16384, 5000),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 253) as u8).collect();
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(&data).unwrap();
            let l = len as u64;
            let mut regions: Vec<Region> = vec![(0, 8), (8, 1031), (1031, 1031), (1031, 2000)];
            let mut at = 2000u64;
            let mut step = 777u64;
            while at + step < l {
                regions.push((at, at + step));
                at += step + (step % 5);
                step = step * 3 + 1;
            }
            regions.push((at, l));
            let c = ChunkSize::new(cs).unwrap();
            let (tree, digests) = hash_file_regions(&f, l, c, &regions, &NoProgress).unwrap();
            assert_eq!(tree, hash_bytes(&data, c), "cs {cs} len {len}");
            for (r, d) in regions.iter().zip(&digests) {
                let want = Digest::from(blake3::hash(&data[r.0 as usize..r.1 as usize]));
                assert_eq!(*d, want, "region {r:?} cs {cs} len {len}");
            }
        }
    }

    #[test]
    fn bad_regions_are_refused() {
        let f = tempfile::tempfile().unwrap();
        let c = ChunkSize::new(16384).unwrap();
        for regions in [vec![(0u64, 10u64)], vec![(5, 3)]] {
            let e = hash_file_regions(&f, 4, c, &regions, &NoProgress).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        let e = hash_file_regions(&f, 100, c, &[(0, 10), (5, 20)], &NoProgress).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn root_from_chunks_needs_two() {
        assert_eq!(root_from_chunks(&[]), None);
        assert_eq!(root_from_chunks(&[Digest([1; 32])]), None);
    }

    #[test]
    fn short_file_is_an_error_not_a_wrong_hash() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&pattern(5000)).unwrap();
        let err = hash_file(&f, 3 << 20, cs(1 << 20), &NoProgress).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
